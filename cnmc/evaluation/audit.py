"""The data audit: likely label errors, near-duplicate cells (a leak when the copies sit in different subjects
or splits) and outliers, found by cleanlab's Datalab from what a cross-validation already has.

Every labelled cell gets an out-of-sample P(ALL): a training-fold cell from the fold run that held its fold
out, a validation cell from the mean of all fold runs (none trained on it). Every cell gets one embedding: its
pooled backbone features under every fold model, joined (neighbours.joint_embedding), so that cells of all
splits sit in one space. Exact copies are found by hashing the pixels the models see.

Findings from the models are only as good as the models: when they cannot tell ALL from HEM (an out-of-fold AUC
whose interval over subjects holds 0.5, or one P(ALL) for every cell), no label issue, look-alike or outlier is
announced; when the embedding collapses (most cells look-alikes of others), no look-alike or outlier is. Identical
pixels are facts whatever the models learnt.
"""

import dataclasses
import hashlib
import os

import numpy as np

from cnmc_tfds.vocabulary import CLASS_NAMES, FOLD_SPLITS, VALIDATION_SPLIT
from cnmc.evaluation import inference, neighbours, sources
from cnmc.statistics import intervals
from cnmc.evaluation.errors import EvaluationError
from cnmc.run_folder import layout, record

KINDS = ("label_issues", "near_duplicates", "outliers")
MIN_PREDICTION_SD = 0.02  # out-of-fold P(ALL) spread below this: the models answer one value for every cell
MAX_LOOKALIKE_SHARE = 0.5  # more cells than this in look-alike pairs: the embedding tells cells apart no more


@dataclasses.dataclass(frozen=True)
class FoldRun:
  held_out: str
  model_path: str


def fold_runs(cv_dir: str) -> tuple[list[FoldRun], record.RunRecord]:
  """The finished fold runs of a cross-validation folder, each holding one fold out, all of one dataset.

  Raises:
    EvaluationError: not a cross-validation folder (no finished fold runs, a fold missing), or runs of
      different datasets.
  """
  runs, records = [], {}
  for name in sorted(os.listdir(cv_dir)) if os.path.isdir(cv_dir) else []:
    folder = os.path.join(cv_dir, name)
    try:
      run = record.read_record(folder)
    except record.DamagedRecord as error:
      raise EvaluationError(f"{error}.") from None
    if run is None or record.read_results(folder) is None:
      continue
    training = set(run.flags.get("train_splits", ()))
    if run.val_split in FOLD_SPLITS and training == set(FOLD_SPLITS) - {run.val_split}:
      runs.append(FoldRun(run.val_split, os.path.join(folder, layout.FINAL_MODEL)))
      records[run.val_split] = run
  held_out = sorted(r.held_out for r in runs)
  if held_out != sorted(FOLD_SPLITS):
    raise EvaluationError(f"{cv_dir} is not a finished cross-validation: it needs a finished run holding out each of "
                          f"{', '.join(FOLD_SPLITS)} (found {', '.join(held_out) or 'none'}). Make one with "
                          f"`python -m tools.cross_validate --cv_dir={cv_dir}`.")
  datasets = {r.dataset_folder for r in records.values()}
  if len(datasets) != 1:
    raise EvaluationError(f"The fold runs in {cv_dir} read different datasets ({', '.join(sorted(datasets))}): "
                          "an audit needs one cross-validation of one dataset.")
  return sorted(runs, key=lambda r: r.held_out), next(iter(records.values()))


def _hashed(batches):
  """The batches with each image's pixel hash added (what the models see, so copies hash alike)."""
  for batch in batches:
    images = np.asarray(batch["image"])
    yield {**batch, "pixel_hash": np.array([hashlib.sha1(image.tobytes()).hexdigest() for image in images])}


def gather(runs: list[FoldRun], builder, batch_size: int, progress=print) -> dict[str, np.ndarray]:
  """Every labelled cell's file, subject, split, label, out-of-sample P(ALL), joint embedding and pixel hash."""
  splits = [s for s in (*FOLD_SPLITS, VALIDATION_SPLIT) if s in builder.info.splits]
  loaded = [inference.load_classifier(run.model_path) for run in runs]
  sizes = {size for _, size in loaded}
  if len(sizes) > 1:
    raise EvaluationError(f"The fold models take different input sizes ({', '.join(map(str, sorted(sizes)))} px): "
                          "they are not one cross-validation's runs.")
  image_size = sizes.pop()
  parts = []  # per split, one result per model: each image is read and decoded once for all of them
  for split in splits:
    progress(f"Predicting {split} with the {len(runs)} fold models ...")
    batches, total = sources.split_batches(builder, split, image_size, batch_size, ("subject_id", "file_name"))
    predicted = inference.predict_models([model for model, _ in loaded], _hashed(batches), total=total, features=True)
    parts.append([{**p, "split": np.full(len(p["label"]), split)} for p in predicted])
  per_model = [{key: np.concatenate([part[m][key] for part in parts]) for key in parts[0][m]} for m in range(len(runs))]
  first = per_model[0]
  held_out = {run.held_out: index for index, run in enumerate(runs)}
  stacked = np.stack([m["probability"] for m in per_model])  # (models, cells)
  out_of_sample = np.array([stacked[held_out[split], i] if split in held_out else stacked[:, i].mean()
                            for i, split in enumerate(first["split"])])
  return {"file_name": np.array([_text(n) for n in first["file_name"]]),
          "subject_id": np.array([_text(s) for s in first["subject_id"]]),
          "split": first["split"], "label": first["label"].astype(int), "probability": out_of_sample,
          "features": neighbours.joint_embedding([m["features"] for m in per_model]),
          "pixel_hash": first["pixel_hash"]}


def _text(value) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)


def find_issues(cells: dict[str, np.ndarray]) -> dict[str, list[dict]]:
  """cleanlab's Datalab on the cells, plus exact copies by pixel hash; {kind: rows, worst first}."""
  try:
    from cleanlab import Datalab
  except ImportError:
    raise EvaluationError("The audit needs cleanlab's Datalab: pip install 'cnmc[audit]' (or "
                          "pip install 'cleanlab[datalab]').") from None
  p = cells["probability"].astype(np.float64)
  lab = Datalab(data={"label": cells["label"]}, label_name="label", verbosity=0)
  # n_jobs 1: cleanlab's default forks a multiprocessing pool, which can deadlock in a process that holds
  # TensorFlow's threads (the audit predicted with them just before; seen once in CI as a child stuck in a futex)
  single_process = {"clean_learning_kwargs": {"find_label_issues_kwargs": {"n_jobs": 1}}}
  lab.find_issues(features=cells["features"], pred_probs=np.stack([1 - p, p], axis=1),
                  issue_types={"label": single_process, "near_duplicate": {}, "outlier": {}})
  describe = lambda i: {"file_name": cells["file_name"][i], "subject_id": cells["subject_id"][i],  # noqa: E731
                        "split": cells["split"][i], "label": CLASS_NAMES[int(cells["label"][i])],
                        "p_all": round(float(p[i]), 4)}
  labels = lab.get_issues("label")
  label_rows = [{**describe(i), "label_score": round(float(labels.label_score[i]), 4)}
                for i in labels.index[labels.is_label_issue].tolist()]
  outliers = lab.get_issues("outlier")
  outlier_rows = [{**describe(i), "outlier_score": round(float(outliers.outlier_score[i]), 4)}
                  for i in outliers.index[outliers.is_outlier_issue].tolist()]
  duplicates = lab.get_issues("near_duplicate")
  pairs = {tuple(sorted((i, int(j)))) for i in duplicates.index[duplicates.is_near_duplicate_issue].tolist()
           for j in duplicates.near_duplicate_sets[i]}
  by_hash: dict[str, list[int]] = {}
  for i, digest in enumerate(cells["pixel_hash"]):
    by_hash.setdefault(digest, []).append(i)
  pairs |= {(a, b) for members in by_hash.values() for n, a in enumerate(members) for b in members[n + 1:]}
  features = cells["features"]
  duplicate_rows = []
  for a, b in sorted(pairs):
    first, second = describe(a), describe(b)
    duplicate_rows.append({
        **first, **{f"partner_{key}": value for key, value in second.items() if key != "p_all"},
        "cosine_distance": round(float(1 - features[a] @ features[b]), 6),
        "identical_pixels": bool(cells["pixel_hash"][a] == cells["pixel_hash"][b]),
        "leak": bool(first["subject_id"] != second["subject_id"] or first["split"] != second["split"])})
  label_rows.sort(key=lambda row: row["label_score"])
  outlier_rows.sort(key=lambda row: row["outlier_score"])
  # Copies across subjects or splits first, then look-alikes there, then pairs within one subject.
  duplicate_rows.sort(key=lambda row: (not row["leak"], not row["identical_pixels"], row["cosine_distance"]))
  return {"label_issues": label_rows, "near_duplicates": duplicate_rows, "outliers": outlier_rows}


def judge_evidence(cells: dict[str, np.ndarray], issues: dict[str, list[dict]], seed: int = 0) -> dict:
  """Whether the fold models separate the classes and whether their embedding still tells cells apart.

  Returns:
    {"out_of_fold_auc": the AUC with its interval over subjects (None with fewer than two subjects of a class),
    "p_all_sd", "lookalike_share" (cells in look-alike pairs that differ in their pixels),
    "models_separate_classes", "embedding_tells_cells_apart", "warnings": sentences, worst first}.
  """
  labels, probabilities = cells["label"], cells["probability"]
  warnings = []
  try:
    auc = intervals.subject_intervals(labels, probabilities, cells["subject_id"], seed=seed)["auc"]
  except intervals.TooFewSubjects as error:
    auc = None
    warnings.append(f"Too few subjects to judge the fold models ({error}).")
  spread = float(np.std(probabilities))
  if auc is not None and auc["low"] <= 0.5:
    warnings.append(f"The fold models cannot tell ALL from HEM: out-of-fold AUC {intervals.format_interval(auc)} "
                    "(95 % interval over subjects) holds 0.5.")
  if spread < MIN_PREDICTION_SD:
    warnings.append(f"The fold models give nearly one P(ALL) to every cell (sd {spread:.4f}).")
  lookalikes = {row[key] for row in issues["near_duplicates"] if not row["identical_pixels"]
                for key in ("file_name", "partner_file_name")}
  share = len(lookalikes) / max(1, len(labels))
  if share > MAX_LOOKALIKE_SHARE:
    warnings.append(f"The fold models' embedding has collapsed: {100 * share:.0f} % of the cells look alike to "
                    "another cell.")
  separate = auc is not None and auc["low"] > 0.5 and spread >= MIN_PREDICTION_SD
  return {"out_of_fold_auc": auc, "p_all_sd": spread, "lookalike_share": share, "models_separate_classes": separate,
          "embedding_tells_cells_apart": separate and share <= MAX_LOOKALIKE_SHARE, "warnings": warnings}


def trusted_findings(issues: dict[str, list[dict]], evidence: dict) -> tuple[dict[str, list[dict]], dict[str, int]]:
  """The findings the evidence supports, and how many of each kind were withheld: label issues need models that
  separate the classes; look-alikes and outliers an embedding that tells cells apart; identical pixels nothing."""
  keep = {"label_issues": evidence["models_separate_classes"], "outliers": evidence["embedding_tells_cells_apart"]}
  trusted = {kind: rows if keep.get(kind, True) else [] for kind, rows in issues.items()}
  if not evidence["embedding_tells_cells_apart"]:
    trusted["near_duplicates"] = [row for row in issues["near_duplicates"] if row["identical_pixels"]]
  return trusted, {kind: len(issues[kind]) - len(trusted[kind]) for kind in issues}


def summary(cells: dict[str, np.ndarray], issues: dict[str, list[dict]]) -> dict:
  """Counts per kind, per subject and per split (a duplicate counts for both cells' subject and split)."""
  def count(rows, key):
    counts: dict[str, int] = {}
    for row in rows:
      for value in {row[key], row.get(f"partner_{key}", row[key])}:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))
  return {"cells": int(len(cells["label"])), "splits": sorted(set(cells["split"].tolist())),
          "counts": {kind: len(rows) for kind, rows in issues.items()},
          "leaking_copies": sum(row["leak"] and row["identical_pixels"] for row in issues["near_duplicates"]),
          "leaking_lookalikes": sum(row["leak"] and not row["identical_pixels"] for row in issues["near_duplicates"]),
          "per_subject": {kind: count(rows, "subject_id") for kind, rows in issues.items()},
          "per_split": {kind: count(rows, "split") for kind, rows in issues.items()}}


def summary_text(facts: dict, subjects_shown: int | None = None) -> str:
  """The one-page summary, Markdown; per kind, the subjects with the most findings first (only the first
  subjects_shown of them, if given: the console's version)."""
  lines = [f"Audit of {facts['cells']} labelled cells ({', '.join(facts['splits'])}).", ""]
  evidence = facts.get("evidence")
  if evidence and evidence["warnings"]:
    named = {"label_issues": "label issues", "near_duplicates": "look-alike pairs", "outliers": "outliers"}
    withheld = ", ".join(f"{evidence['withheld'][kind]} {named[kind]}" for kind in KINDS if evidence["withheld"][kind])
    lines += ["**The findings below cannot rest on these fold models.** " + " ".join(evidence["warnings"]),
              f"Withheld: {withheld or 'nothing was found'}; pixel-identical copies are still reported. Train the "
              "cross-validation until its folds score well above chance (more epochs, steps or images), then audit "
              "again.", ""]
  if facts["leaking_copies"]:
    lines += [f"**LEAK: {facts['leaking_copies']} pairs of identical cells sit in different subjects or splits** "
              "(near_duplicates.csv, leak and identical_pixels True): a model can be scored on a copy of a cell it "
              "trained on.", ""]
  if facts["leaking_lookalikes"]:  # distinct cells can look alike to a model: a person has to judge these
    lines += [f"{facts['leaking_lookalikes']} near-duplicate pairs in different subjects or splits look alike to "
              "the models but differ in their pixels (leak True, identical_pixels False): look at "
              "near_duplicates.png; a cell imaged twice or re-encoded would be one of these.", ""]
  if evidence and evidence["out_of_fold_auc"]:
    lines += [f"The fold models' out-of-fold AUC: {intervals.format_interval(evidence['out_of_fold_auc'])} (95 % "
              "interval over subjects).", ""]
  lines += ["| finding | cells or pairs |", "|---|---|"]
  lines += [f"| {kind.replace('_', ' ')} | {n} |" for kind, n in facts["counts"].items()]
  if "planted" in facts:
    lines += ["", "Against the planted faults:", "",
              "| finding | found | planted | precision | recall | precision of the first k (k = planted) |",
              "|---|---|---|---|---|---|"]
    for kind, row in facts["planted"].items():
      share = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
      lines.append(f"| {kind.replace('_', ' ')} | {row['found']} | {row['planted']} | {share(row['precision'])} | "
                   f"{share(row['recall'])} | {share(row['precision_at_planted'])} |")
  for kind in KINDS:
    if facts["per_split"][kind]:
      lines += ["", f"{kind.replace('_', ' ')} per split: "
                + ", ".join(f"{k} {v}" for k, v in facts["per_split"][kind].items())
                + "; per subject: " + _most_first(facts["per_subject"][kind], subjects_shown)]
  return "\n".join(lines) + "\n"


def _most_first(counts: dict[str, int], shown: int | None) -> str:
  ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
  text = ", ".join(f"{k} {v}" for k, v in ranked[:shown])
  hidden = len(ranked) - len(ranked[:shown])
  return text + (f" and {hidden} more (summary.md)" if hidden else "")


def caption(row: dict) -> str:
  return f"{row['label'].upper()} p={row['p_all']:.2f}"


def planted_manifest(builder) -> dict | None:
  """The planted faults of a synthetic config built with them (synthetic_planted), else None."""
  metadata = builder.info.metadata or {}
  return metadata.get("planted")


def planted_scores(issues: dict[str, list[dict]], manifest: dict) -> dict[str, dict]:
  """Precision and recall of each finding kind against the planted faults (label issues against the cells
  drawn as the other class, near-duplicate pairs against the copies, outliers against the garbage), and the
  precision of its first k findings, k the number planted (what a person reading the list from the top sees)."""
  def score(ranked: list, truth: set) -> dict:
    found = set(ranked)
    hits, top = len(found & truth), ranked[:len(truth)]
    return {"found": len(found), "planted": len(truth), "hits": hits,
            "precision": hits / len(found) if found else None, "recall": hits / len(truth) if truth else None,
            "precision_at_planted": sum(item in truth for item in top) / len(top) if top else None}
  pairs = [frozenset((row["file_name"], row["partner_file_name"])) for row in issues["near_duplicates"]]
  return {"label_issues": score([row["file_name"] for row in issues["label_issues"]], set(manifest["flipped"])),
          "near_duplicates": score(pairs, {frozenset(pair) for pair in manifest["duplicates"]}),
          "outliers": score([row["file_name"] for row in issues["outliers"]], set(manifest["garbage"]))}
