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
@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, once per layer it cannot match
def test_a_weights_file_of_another_backbone_is_refused(tmp_path):
  wrong = tmp_path / "irv2.weights.h5"
  backbones.get_backbone("inception_resnet_v2").build((75, 75, 3), None).save_weights(wrong)
  with pytest.raises(TrainerError, match="Could not load the weights"):
    weights_lib.build_with_weights(backbones.get_backbone("effnetb3"), (32, 32, 3), str(wrong))
