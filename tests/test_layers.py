"""The layers import one way: storage, console <- run_folder, cnmc_tfds <- statistics, pipeline <- trainer, evaluation,
benchmarks <- cli <- tools (those without a top-level name of the design live in the cnmc package); the run
folder's names are spelled in run_folder alone."""

import ast
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("cnmc.storage", "cnmc.console", "cnmc.run_folder", "cnmc_tfds", "cnmc.pictures", "cnmc.statistics",
            "pipeline", "trainer",
            "cnmc.evaluation", "cnmc.benchmarks", "cnmc.cli", "tools")
ALLOWED = {
    "cnmc.storage": set(),
    "cnmc.console": set(),  # how every command ends: below everything, no TensorFlow
    "cnmc.run_folder": {"cnmc.storage"},  # the run folder's names and records: the trainer writes, everyone reads
    "cnmc_tfds": {"cnmc.storage"},
    "cnmc.pictures": {"cnmc_tfds", "cnmc.storage"},  # PNG and TensorBoard pictures for the trainer and the tools
    "cnmc.statistics": {"cnmc_tfds"},  # intervals over subjects, for the trainer's summary and the evaluation alike
    "pipeline": {"cnmc_tfds", "cnmc.storage"},
    "trainer": {"cnmc_tfds", "pipeline", "cnmc.storage", "cnmc.run_folder", "cnmc.console", "cnmc.pictures",
                "cnmc.statistics"},
    # never trainer: evaluation scores any saved model
    "cnmc.evaluation": {"cnmc_tfds", "pipeline", "cnmc.storage", "cnmc.run_folder", "cnmc.pictures", "cnmc.statistics"},
    "cnmc.benchmarks": {"cnmc.storage", "cnmc_tfds", "pipeline", "trainer", "cnmc.run_folder"},
    "cnmc.cli": {"cnmc.storage", "cnmc.console", "cnmc.run_folder", "cnmc_tfds", "cnmc.pictures", "pipeline", "trainer",
                 "cnmc.evaluation", "cnmc.benchmarks"},
    "tools": set(PACKAGES),
}
# What a run folder holds and the exported model's feature layer: spelled only in cnmc/run_folder/layout.py.
RUN_FOLDER_NAMES = re.compile(r"""["'](config\.json|results\.json|history\.csv|best\.keras|model\.keras|state\.json|"""
                              r"""pool)["']""")


def imported_packages(path: pathlib.Path) -> set[str]:
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):  # function-level imports count too
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names.add(node.module)
  return {layer(name) for name in names} & set(PACKAGES)


def layer(module: str) -> str:
  """The layer a module belongs to: its top-level package, or cnmc.<package> inside the umbrella."""
  parts = module.split(".")
  return ".".join(parts[:2]) if parts[0] == "cnmc" else parts[0]


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_the_layers_below_it(package):
  offences = {str(path.relative_to(REPO)): sorted(imported_packages(path) - ALLOWED[package] - {package})
              for path in (REPO / package.replace(".", "/")).rglob("*.py")}
  assert not {path: names for path, names in offences.items() if names}


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "cnmc.run_folder"])
def test_no_package_spells_the_run_folders_names(package):
  spelled = {str(path.relative_to(REPO)): RUN_FOLDER_NAMES.findall(path.read_text())
             for path in (REPO / package.replace(".", "/")).rglob("*.py")}
  assert not {path: names for path, names in spelled.items() if names}


def test_the_install_puts_only_the_designs_names_and_one_of_the_projects_into_site_packages():
  """What `pip install .` installs at the top of site-packages, as setuptools finds it from pyproject.toml."""
  import tomllib

  import setuptools
  found = setuptools.find_packages(str(REPO), include=tomllib.loads((REPO / "pyproject.toml").read_text())
                                   ["tool"]["setuptools"]["packages"]["find"]["include"])
  assert {name.split(".")[0] for name in found} == {"cnmc", "cnmc_tfds", "pipeline", "trainer", "tools"}
  assert "cnmc.console" in found and "cnmc.evaluation" in found and "trainer.distributed" in found
  assert not [name for name in found if name.startswith("tests")]


def test_importing_the_umbrella_package_imports_nothing_else():
  assert not [node for node in ast.parse((REPO / "cnmc" / "__init__.py").read_text()).body
              if isinstance(node, (ast.Import, ast.ImportFrom))]
