"""The challenge's submission: `isbi_valid.predict`, one 1 (ALL) or 0 (HEM) per line, line i for
`i.bmp`, zipped."""

import os
import zipfile

import numpy as np

from cnmc_tfds.vocabulary import image_number
from cnmc.evaluation.errors import EvaluationError

SUBMISSION_FILE = "isbi_valid.predict"
SUBMISSION_ZIP = "isbi_valid.zip"


def numbered(names) -> bool:
  """Whether every name is <number>.bmp/.png, as in the challenge's test sets."""
  return all(image_number(name) is not None for name in names)


def submission_order(names) -> np.ndarray:
  """Indices that put '1.bmp', '2.bmp', ..., 'N.bmp' in line order; any gap or repeat is an error."""
  numbers = np.array([image_number(name) for name in names])
  order = np.argsort(numbers, kind="stable")
  expected = np.arange(1, len(names) + 1)
  if not np.array_equal(numbers[order], expected):
    missing = sorted(set(expected) - set(numbers))
    repeated = sorted({n for n in numbers if (numbers == n).sum() > 1})
    extra = sorted(set(numbers) - set(expected))
    problems = [f"{label}: {', '.join(f'{n}.bmp' for n in values[:10])}{' ...' if len(values) > 10 else ''}"
                for label, values in (("missing", missing), ("repeated", repeated), ("beyond N", extra)) if values]
    raise EvaluationError(f"A submission needs the images 1.bmp..{len(names)}.bmp, each once (line i is i.bmp); "
                          f"{'; '.join(problems)}. Is the test folder complete?")
  return order


def write_submission(folder: str, names, predicted_classes) -> str:
  """Writes isbi_valid.predict and isbi_valid.zip (holding it) into folder; returns the zip's path."""
  classes = np.asarray(predicted_classes)
  if not np.isin(classes, (0, 1)).all():
    raise ValueError("predicted classes must be 0 or 1")
  order = submission_order(names)
  text = "".join(f"{int(c)}\n" for c in classes[order])
  with open(os.path.join(folder, SUBMISSION_FILE), "w") as f:
    f.write(text)
  zip_path = os.path.join(folder, SUBMISSION_ZIP)
  with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.writestr(SUBMISSION_FILE, text)
  return zip_path
