"""The trainer's settings have one owner (trainer/config.py): the flags are made from the fields, a config
renders to the command line that parses back to it, and no other module lists field names by role."""

import ast
import dataclasses
import pathlib

import pytest
from absl import flags

from trainer import flags as trainer_flags
from trainer.config import TrainConfig, command_line, names_where, settings, values_of

REPO = pathlib.Path(__file__).resolve().parents[2]
FLAGS = flags.FLAGS


def test_every_field_is_a_flag_with_its_default_and_help():
  for name, setting in settings().items():
    assert FLAGS[name].help.endswith(setting.help), name  # an enum's help starts with its choices
  assert FLAGS["epochs"].default == TrainConfig().epochs and FLAGS["train_splits"].default == ["fold_0", "fold_1",
                                                                                               "fold_2"]
  assert FLAGS["profile_steps"].default == "auto" and "inception_resnet_v2" in FLAGS["backbone"].parser.enum_values


@pytest.mark.parametrize("changes", [
    {},
    dict(backbone="small_cnn", weights="none", epochs=3, train_splits=("fold_0", "fold_2"), profile_steps=(0, 0)),
    dict(deterministic=True, saved_model=False, learning_rate=0.05, exclude="/tmp/cells.csv", model_dir="/tmp/run"),
    dict(profile_steps=(5, 9), mixup_alpha=0.2, val_split="fold_1", data_dir="/data/tfds"),
])
def test_a_config_renders_to_the_command_line_that_parses_back_to_it(parse, changes):
  config = dataclasses.replace(TrainConfig(), **changes)
  arguments = command_line(config)
  assert arguments[:3] == ["python", "-m", "trainer"] and len(arguments) == 3 + len(changes)
  assert parse(*arguments[3:]) == config


def test_quick_and_given_defaults_fill_in_only_what_was_not_given(parse):
  parse("--quick", "--batch_size=4")
  config = trainer_flags.config_from_flags(defaults={**values_of("cpu_sized"), "epochs": 7})
  quick = values_of("quick")
  assert config.batch_size == 4 and config.image_size == quick["image_size"] and config.epochs == quick["epochs"]
  assert config.backbone == values_of("cpu_sized")["backbone"]  # neither given nor set by --quick


def test_the_roles_are_properties_of_the_fields():
  assert set(names_where("per_run")) == {"train_splits", "val_split", "model_dir"}
  assert {"epochs", "model_dir", "profile_steps"} <= set(names_where("resumable"))
  assert not {"batch_size", "learning_rate", "backbone", "seed"} & set(names_where("resumable"))
  assert not settings()["data_dir"].in_hparams and settings()["batch_size"].in_hparams


def role_lists(path: pathlib.Path, names: set[str]) -> list[str]:
  """Literal tuples, lists and sets of two or more field names, and module-level dicts keyed by them."""
  found = []
  tree = ast.parse(path.read_text())
  module_level = {id(node.value) for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))}
  for node in ast.walk(tree):
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) or (isinstance(node, ast.Dict) and id(node) in module_level):
      items = node.keys if isinstance(node, ast.Dict) else node.elts
      texts = [item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)]
      spelled = [text for text in texts if text.removeprefix("--").split("=")[0] in names]
      if len(spelled) >= 2 and len(spelled) == len(items):
        found.append(f"{path}:{node.lineno} {spelled}")
  return found


def test_no_module_but_the_config_lists_field_names_by_role():
  names = set(settings())
  sources = [path for folder in ("cnmc", "cnmc_tfds", "pipeline", "trainer", "tools") for path in
             (REPO / folder).rglob("*.py") if path != REPO / "trainer" / "config.py"]
  assert not [found for path in sources for found in role_lists(path, names)]


def test_the_role_list_finder_finds_a_role_list(tmp_path):
  (tmp_path / "x.py").write_text('RESUMABLE = {"epochs", "model_dir"}\nSIZED = {"backbone": "a", "epochs": 2}\n'
                                 'ARGS = ["--seed=1", "--epochs=2"]\nfine = {"epochs": 1}.get("epochs")\n')
  assert len(role_lists(tmp_path / "x.py", set(settings()))) == 3
