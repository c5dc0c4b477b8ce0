"""Starting weights (trainer/weights.py): a missing, unreachable or mismatched file is one clear error
saying what to do."""

import pytest

from trainer import backbones, weights as weights_lib
from trainer.errors import TrainerError


def test_a_missing_weights_file_is_named(tmp_path):
  with pytest.raises(TrainerError, match=f"{tmp_path}/missing.h5.*no such file"):
    weights_lib.resolve_weights(str(tmp_path / "missing.h5"))


def test_unreachable_imagenet_weights_say_where_to_put_the_file(tmp_path, monkeypatch):
  from keras.src.utils import file_utils
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))

  def no_network(*args, **kwargs):
    raise Exception("URL fetch failure: network unreachable")
  monkeypatch.setattr(file_utils, "get_file", no_network)
  with pytest.raises(TrainerError) as error:
    weights_lib.build_with_weights(backbones.get_backbone("effnetb3"), (32, 32, 3), "imagenet")
  assert str(tmp_path / "models" / "efficientnetb3_notop.h5") in str(error.value)
  assert "--weights=none" in str(error.value)


@pytest.mark.slow
def test_a_weights_file_of_another_backbone_is_refused(tmp_path):
  wrong = tmp_path / "small_cnn.weights.h5"  # (InceptionResNetV2's did as well, at 5 s more)
  backbones.get_backbone("small_cnn").build((32, 32, 3), None).save_weights(wrong)
  with pytest.raises(TrainerError, match="holds the weights of another model") as error:
    weights_lib.build_with_weights(backbones.get_backbone("effnetb3"), (32, 32, 3), str(wrong))
  assert "efficientnetb3_notop.h5" in str(error.value) and len(str(error.value)) < 400  # one short line


def test_a_runs_backup_passed_as_weights_is_named_as_what_it_is_in_one_short_line():
  import pathlib
  backup = (pathlib.Path(__file__).resolve().parents[1] / "data" / "run_folders_a7b580c" / "interrupted" / "backup"
            / "epoch_0001.weights.h5")
  with pytest.raises(TrainerError) as error:
    weights_lib.build_with_weights(backbones.get_backbone("effnetb3"), (32, 32, 3), str(backup))
  message = str(error.value)
  assert message.startswith(f"--weights={backup} holds a training backup (a whole model with its optimizer state")
  assert "efficientnetb3_notop.h5 (its ImageNet weights without the top)" in message and len(message) < 400


def test_a_cached_imagenet_file_that_differs_from_the_published_one_is_said_so(tmp_path, monkeypatch):
  from keras.src.utils import file_utils
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  cache = tmp_path / "models" / "efficientnetb3_notop.h5"
  cache.parent.mkdir()
  cache.write_bytes(b"not the published file")

  def hash_mismatch_then_no_network(*args, **kwargs):  # what get_file does: the hash differs, so it downloads
    raise Exception("URL fetch failure on https://storage.googleapis.com/...: network unreachable")
  monkeypatch.setattr(file_utils, "get_file", hash_mismatch_then_no_network)
  with pytest.raises(TrainerError) as error:
    weights_lib.build_with_weights(backbones.get_backbone("effnetb3"), (32, 32, 3), "imagenet")
  assert str(error.value).startswith(f"{cache} differs from the published efficientnetb3_notop.h5")
  assert "copy it to" not in str(error.value)
