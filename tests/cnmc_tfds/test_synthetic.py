"""The synthetic download: shaped like the real one, subject-disjoint, with a learnable class signal."""

import collections

import numpy as np

from cnmc_tfds.cnmc import layout, synthetic_tree
from cnmc_tfds.cnmc.cell_images import read_cell_image
from cnmc_tfds.cnmc.filenames import ALL, HEM, normalise_subject
from cnmc_tfds.cnmc.synthetic_cells import draw_subject_style, render_cell
from tests.cnmc_tfds.helpers import TINY, assert_subject_disjoint, examples


def test_rendered_cell_is_a_450px_rgb_cell_on_black():
  image = render_cell(np.random.default_rng(0), ALL, draw_subject_style(np.random.default_rng(1)))
  assert image.shape == (450, 450, 3) and image.dtype == np.uint8
  assert not image[:20].any() and not image[:, :20].any()  # segmented: the border is black
  centre = image[200:250, 200:250]
  assert centre.min() > 0  # the cell covers the centre


def _dark_pixel_share(label: int, n: int = 30) -> float:
  """Share of strongly stained (nucleus) pixels among the cell's pixels, averaged over n cells."""
  rng = np.random.default_rng(label)
  shares = []
  for _ in range(n):
    image = render_cell(rng, label, draw_subject_style(rng)).astype(float)
    cell = image.sum(-1) > 0
    shares.append(((image.sum(-1) < 500) & cell).sum() / cell.sum())
  return float(np.mean(shares))


def test_blasts_have_a_larger_nucleus_share_than_normal_cells():
  assert _dark_pixel_share(ALL) > _dark_pixel_share(HEM) + 0.05


def test_plan_is_deterministic_and_subject_disjoint_across_parts():
  plan = synthetic_tree.plan_cells(**TINY)
  assert plan == synthetic_tree.plan_cells(**TINY)
  parts_of_subject = collections.defaultdict(set)
  for cell in plan:
    parts_of_subject[normalise_subject(cell.subject_id)].add(cell.part)
  assert all(len(parts) == 1 for parts in parts_of_subject.values())
  for part in ("fold_0", "fold_1", "fold_2", "prelim"):
    labels = {c.label for c in plan if c.part == part}
    assert labels == {ALL, HEM}, f"{part} lacks a class"


def test_plan_scales_to_the_real_counts():
  plan = synthetic_tree.plan_cells(images_scale=1.0, subjects_scale=1.0, seed=0)
  per_part = collections.Counter(c.part for c in plan)
  assert per_part["fold_0"] == 2397 + 1130 and per_part["prelim"] == 1867 and per_part["final"] == 2586


def test_tree_is_found_by_the_real_reader_and_has_600px_final_images(tmp_path):
  root = synthetic_tree.write_tree(tmp_path / "tree", **TINY)
  parts = layout.find_parts(tmp_path / "tree")
  assert parts.folds[0] == root / "training_data" / "fold_0"
  final = sorted(parts.final_images.iterdir(), key=lambda p: int(p.stem))
  cropped = [read_cell_image(p)[1] for p in final]
  assert cropped == [(i + 1) % 3 == 0 for i in range(len(final))]
  n_rows = len(parts.prelim_labels.read_text().strip().splitlines()) - 1
  assert n_rows == len(list(parts.prelim_images.iterdir()))
  assert not (tmp_path / "tree.incomplete").exists()


def test_synthetic_build_has_every_split_with_the_planned_counts(tiny_synthetic):
  plan = collections.Counter(c.part for c in synthetic_tree.plan_cells(**TINY))
  splits = tiny_synthetic.info.splits
  assert {s: splits[s].num_examples for s in splits} == {
      "fold_0": plan["fold_0"], "fold_1": plan["fold_1"], "fold_2": plan["fold_2"],
      "validation": plan["prelim"], "test": plan["final"]}


def test_synthetic_build_is_subject_disjoint(tiny_synthetic):
  assert_subject_disjoint(tiny_synthetic)


def test_synthetic_test_split_is_unlabeled_with_some_cropped(tiny_synthetic):
  rows = examples(tiny_synthetic, "test")
  assert {r["label"] for r in rows} == {-1}
  assert 0 < sum(r["cropped"] for r in rows) < len(rows)
