"""The layers import one way: storage, console <- run_folder, cnmc_tfds <- pipeline <- trainer, evaluation,
benchmarks <- cli <- tools; the run folder's names are spelled in run_folder alone."""

import ast
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("storage", "console", "run_folder", "cnmc_tfds", "pictures", "pipeline", "trainer", "evaluation",
            "benchmarks", "cli", "tools")
ALLOWED = {
    "storage": set(),
    "console": set(),  # how every command ends: below everything, no TensorFlow
    "run_folder": {"storage"},  # the run folder's names and records: the trainer writes, everyone reads
    "cnmc_tfds": {"storage"},
    "pictures": {"cnmc_tfds", "storage"},  # PNG and TensorBoard pictures for the trainer and the tools alike
    "pipeline": {"cnmc_tfds", "storage"},
    "trainer": {"cnmc_tfds", "pipeline", "storage", "run_folder", "console", "pictures"},
    # never trainer: evaluation scores any saved model
    "evaluation": {"cnmc_tfds", "pipeline", "storage", "run_folder", "pictures"},
    "benchmarks": {"storage", "cnmc_tfds", "pipeline", "trainer", "run_folder"},
    "cli": {"storage", "console", "run_folder", "cnmc_tfds", "pictures", "pipeline", "trainer", "evaluation",
            "benchmarks"},
    "tools": set(PACKAGES),
}
# What a run folder holds and the exported model's feature layer: spelled only in run_folder/layout.py.
RUN_FOLDER_NAMES = re.compile(r"""["'](config\.json|results\.json|history\.csv|best\.keras|model\.keras|state\.json|"""
                              r"""pool)["']""")


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


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "run_folder"])
def test_no_package_spells_the_run_folders_names(package):
  spelled = {str(path.relative_to(REPO)): RUN_FOLDER_NAMES.findall(path.read_text())
             for path in (REPO / package).rglob("*.py")}
  assert not {path: names for path, names in spelled.items() if names}
