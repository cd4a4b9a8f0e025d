"""From a dataset folder to a run folder holding an ensemble (or the best single model).

1. Every candidate backbone's features come from the feature cache (computed where missing).
2. Per candidate, on the training split: out-of-fold probabilities of the linear probe
   (crossval.fold_heads: the same stratified folds for every candidate), then the probe fitted
   on all training images (heads.fit_head), scored on the validation split.
3. Greedy forward selection on out-of-fold log-loss (selection.py), and the decision: the
   ensemble is kept only where neither its out-of-fold log-loss nor its validation accuracy is
   worse than the best single model's; otherwise the run holds that single model.
4. The run folder is written through RunWriter like a training run's (config.json,
   dataset.json, model.pt, evaluation.json, result.json, and metrics.jsonl with one "epoch 0"
   line: the saved model's validation accuracy and log-loss), so `evaluate`, `predict`,
   `export` and `compare` read it as any run. evaluation.json scores
   the model.pt as written (an ensemble through its own input, model.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..crossval import DEFAULT_FOLDS, DEFAULT_SEED, check_folds, fold_heads
from ..data import DatasetScan
from ..errors import ConfigError
from ..features import FeatureCache, dataset_features, default_feature_cache
from ..heads import LinearHead, fit_head
from ..jobs import CancelToken, Progress, ProgressCallback, StageProgress, no_progress
from ..models.registry import build_network
from ..rank import _CountComputed, backbones_to_rank
from ..run_writer import RunWriter
from ..training.config import FEATURE_EXTRACTION, TrainConfig
from ..training.engine import scan_for
from ..training.plans import drop_failures, splits_of
from .ensemble_file import ENSEMBLE_MODE, MAX_MEMBERS
from .report import CandidateScore, EnsembleReport
from .selection import accuracy, average, decide, greedy_selection, log_loss
from .writing import Candidate, save_chosen, score_saved

DEFAULT_MAX_MEMBERS = 3
METHOD = ("greedy forward selection without replacement on out-of-fold log-loss (Caruana et "
          "al. 2004), equal-weight average of probabilities")


def build_ensemble(data_dir: str, out: str | os.PathLike,
                   backbones: Optional[Sequence[str]] = None, *,
                   max_members: int = DEFAULT_MAX_MEMBERS, folds: int = DEFAULT_FOLDS,
                   seed: int = DEFAULT_SEED, class_weights: str = TrainConfig.class_weights,
                   leave_out_empty_classes: bool = False, keep_ensemble: bool = False,
                   overwrite: bool = False, dataset: Optional[DatasetScan] = None,
                   cache: Optional[FeatureCache] = None, allow_download: bool = False,
                   progress: ProgressCallback = no_progress,
                   cancel: Optional[CancelToken] = None) -> EnsembleReport:
    """Builds the ensemble of `backbones` (default: every backbone whose weights are here) on
    `data_dir` and writes the run folder `out` (module docstring).

    Args:
        max_members: The most members (2 to 5).
        keep_ensemble: Write the ensemble even where it does not win (at least 2 members).
        dataset: A scan already made with the default split settings (used when it matches).

    Raises:
        UserError: Bad input (dataset, options, fewer than 2 backbones, a run folder in use),
            before any feature is computed where it can be told before.
    """
    config = TrainConfig.for_mode(data_dir, FEATURE_EXTRACTION, seed=seed,
                                  class_weights=class_weights,
                                  leave_out_empty_classes=leave_out_empty_classes)
    config = replace(config, data_dir=os.path.abspath(data_dir))
    if not 2 <= max_members <= MAX_MEMBERS:
        raise ConfigError(f"An ensemble has 2 to {MAX_MEMBERS} members; --max-members "
                          f"{max_members} is not allowed.")
    cancel = cancel or CancelToken()
    cache = cache or default_feature_cache()
    started = time.perf_counter()
    RunWriter(out, overwrite=overwrite).check_destination()  # before the work
    specs, missing = backbones_to_rank(backbones, allow_download=allow_download)
    if len(specs) < 2:
        raise ConfigError(f"An ensemble needs at least 2 backbones with weights on this "
                          f"computer; {len(specs)} here ({', '.join(s.name for s in specs)}). "
                          f"Name others with --backbones (they are downloaded).")
    scan = scan_for(config, StageProgress(progress, 0, .02, "scan"), cancel, reuse=dataset)
    files = [s.path for s in scan.samples]
    labels = np.array([s.label for s in scan.samples], int)
    check_folds(labels[[i for i, s in enumerate(scan.samples) if s.split == "train"]],
                scan.class_names, folds)
    features, networks, failures, timing = {}, {}, {}, {}
    for i, spec in enumerate(specs):
        counted = _CountComputed(StageProgress(progress, .02 + .6 * i / len(specs),
                                               .02 + .6 * (i + 1) / len(specs), "features"),
                                 spec.display_name)
        t0 = time.perf_counter()
        networks[spec.name] = build_network(spec, pretrained=True,
                                            allow_download=allow_download, cancel=cancel)
        features[spec.name] = dataset_features(spec, files, network=networks[spec.name],
                                               cache=cache, progress=counted, cancel=cancel)
        timing[spec.name] = (time.perf_counter() - t0, counted.total)
        failures.update(features[spec.name].failures)
    splits = splits_of(scan, files, set(failures))
    clean = drop_failures(scan, files, failures)
    train, val = splits["train"], splits["val"]
    y_train, y_val = np.asarray(train.labels), np.asarray(val.labels)
    check_folds(y_train, scan.class_names, folds)
    report = EnsembleReport(str(Path(out).absolute()), config.data_dir, scan.class_names,
                            len(train), len(val), folds, seed, max_members,
                            unavailable=missing, forced=keep_ensemble,
                            skipped=[{"path": files[i], "reason": r}
                                     for i, r in sorted(failures.items())])
    report.seconds["features"] = time.perf_counter() - started
    t0 = time.perf_counter()
    scoring = StageProgress(progress, .62, .8, "selection")
    num_classes = len(scan.class_names)
    out_of_fold, val_probs, heads, fold_rows = {}, {}, {}, []
    for i, spec in enumerate(specs):
        scoring(Progress(i / len(specs), f"Cross-validating {spec.display_name}"))
        probe = probe_scores(features[spec.name].center(train.positions), y_train,
                             features[spec.name].center(val.positions), num_classes,
                             folds=folds, seed=seed, class_weights=config.class_weights,
                             cancel=cancel)
        out_of_fold[spec.name], val_probs[spec.name] = probe.oof, probe.val
        heads[spec.name] = probe.head
        fold_rows = fold_rows or probe.fold_rows
        report.candidates.append(CandidateScore(
            spec.name, spec.display_name, log_loss(y_train, probe.oof),
            accuracy(y_train, probe.oof), probe.fold_accuracies(y_train),
            accuracy(y_val, probe.val), log_loss(y_val, probe.val), *timing[spec.name]))
    selection = greedy_selection(out_of_fold, y_train, max_members,
                                 min_members=2 if keep_ensemble else 1)
    members = selection.members
    ensemble_val = average([val_probs[m] for m in members])
    report.selection = selection
    report.decision = decide(selection, accuracy(y_val, val_probs[selection.best_single]),
                             accuracy(y_val, ensemble_val))
    report.ensemble_fold_accuracies = [
        accuracy(y_train[rows], average([out_of_fold[m][rows] for m in members]))
        for rows in fold_rows]
    report.ensemble_val_log_loss = log_loss(y_val, ensemble_val)
    write_ensemble = len(members) > 1 and (report.decision.kept or keep_ensemble)
    report.kept = "ensemble" if write_ensemble else selection.best_single
    report.seconds["selection"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    candidates = {s.name: Candidate(s, networks[s.name], features[s.name], heads[s.name])
                  for s in specs}
    single_val = report.decision.single_val_accuracy
    scoring = StageProgress(progress, .8, 1.0, "evaluate")
    with RunWriter(out, overwrite=overwrite) as writer:
        writer.write_dataset({**clean.summary(), "skipped": [
            {"path": s.path, "reason": s.reason} for s in clean.skipped]})
        for attempt in range(2):
            chosen = members if write_ensemble else [selection.best_single]
            writer.write_config({**config.to_dict(), "backbone": chosen[0],
                                 "ensemble": {"members": chosen if write_ensemble else [],
                                              "candidates": [s.name for s in specs],
                                              "max_members": max_members, "folds": folds,
                                              "method": METHOD}})
            save_chosen(writer.model_path, [candidates[n] for n in chosen], scan.class_names,
                        splits, config, _plain(selection.to_dict()))
            evaluation = score_saved(writer.model_path, splits, cache, scoring, cancel)
            saved_val = evaluation["splits"]["val"]["accuracy"]
            if not write_ensemble or keep_ensemble or saved_val >= single_val:
                break
            # The ensemble as saved sees each member's input resampled (model.py): where that
            # costs it the win on validation, the best single model is kept after all.
            report.decision = replace(report.decision, kept=False, reason=(
                f"the saved ensemble, through its own input, scores {saved_val:.1%} on "
                f"validation, below {selection.best_single}'s {single_val:.1%}"))
            write_ensemble = False
        report.kept = "ensemble" if write_ensemble else selection.best_single
        writer.write_evaluation(evaluation)
        # One line, "epoch 0" as a probe's (result.json's best epoch), so what reads a run's
        # curves and best epoch (compare, the app's Results page and projects) reads this one.
        writer.append_metrics({"epoch": 0, "val_acc": saved_val,
                               "val_loss": evaluation["splits"]["val"]["log_loss"],
                               "seconds": round(time.perf_counter() - started, 3)})
        report.saved_val_accuracy = saved_val
        report.seconds["write_and_evaluate"] = time.perf_counter() - t0
        report.seconds["total"] = time.perf_counter() - started
        writer.write_result({
            "best_epoch": 0, "best_val_acc": saved_val, "epochs_run": 0,
            "stop_reason": "ensemble built" if write_ensemble else "best single model kept",
            "cancelled": False, "seconds": round(report.seconds["total"], 3), "device": "cpu",
            "has_model": True, "kept": ENSEMBLE_MODE if write_ensemble else FEATURE_EXTRACTION,
            "note": report.summary(), "probe": {"l2": heads[chosen[0]].l2},
            "ensemble": _plain(report.to_dict())})
        writer.commit()
    progress(Progress(1.0, "Done", stage="evaluate"))
    return report


@dataclass
class ProbeScores:
    """One backbone's probe on the training split: out-of-fold probabilities (`fold_rows[k]`
    held out by fold k), the probe fitted on every training row, its validation probabilities."""

    oof: np.ndarray
    fold_rows: list[np.ndarray]
    head: LinearHead
    val: np.ndarray

    def fold_accuracies(self, labels: np.ndarray) -> list[float]:
        return [accuracy(labels[rows], self.oof[rows]) for rows in self.fold_rows]


def probe_scores(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, num_classes: int,
                 *, folds: int = DEFAULT_FOLDS, seed: int = DEFAULT_SEED,
                 class_weights: str = TrainConfig.class_weights,
                 cancel: Optional[CancelToken] = None) -> ProbeScores:
    """Out-of-fold probabilities (crossval.fold_heads: the folds depend only on the labels and
    `seed`, so every backbone gets the same ones) and the probe fitted on all rows."""
    oof, fold_rows = np.zeros((len(y_train), num_classes)), []
    for rows, head in fold_heads(x_train, y_train, num_classes, folds, seed,
                                 class_weights=class_weights, cancel=cancel):
        oof[rows] = head.probabilities(x_train[rows])
        fold_rows.append(rows)
    head = fit_head(x_train, y_train, num_classes, class_weights=class_weights, seed=seed,
                    cancel=cancel)
    return ProbeScores(oof, fold_rows, head, head.probabilities(x_val))


def _plain(value):
    """JSON- and weights-only-safe: numpy numbers to Python floats and ints, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
