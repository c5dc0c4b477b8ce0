"""The layers import one way: storage, cnmc_tfds <- pipeline <- trainer, evaluation, benchmarks <- cli <- tools."""

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("storage", "cnmc_tfds", "pipeline", "trainer", "evaluation", "benchmarks", "cli", "tools")
ALLOWED = {
    "storage": set(),
    "cnmc_tfds": {"storage"},
    "pipeline": {"cnmc_tfds", "storage"},
    "trainer": {"cnmc_tfds", "pipeline", "storage"},
    "evaluation": {"cnmc_tfds", "pipeline", "storage"},  # never trainer: it evaluates any saved model
    "benchmarks": {"storage", "cnmc_tfds", "pipeline", "trainer"},
    "cli": {"storage", "cnmc_tfds", "pipeline", "trainer", "evaluation"},
    "tools": set(PACKAGES),
}


def imported_packages(path: pathlib.Path) -> set[str]:
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):  # function-level imports count too
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names.add(node.module)
  return {name.split(".")[0] for name in names} & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_the_layers_below_it(package):
  offences = {str(path.relative_to(REPO)): sorted(imported_packages(path) - ALLOWED[package] - {package})
              for path in (REPO / package).rglob("*.py")}
  assert not {path: names for path, names in offences.items() if names}
