"""Ensemble of the three Lites' probes vs the best single model (issue 15, "Ensembles").

Per dataset (hymenoptera and the generated `shapes` set), with EfficientNet-Lite0/1/2:

- `build_ensemble` (transfer-gui ensemble) once with the features computed (cold), then timed
  with them cached, after `rank_backbones` (the target: rank + ensemble < 3 minutes on ~400
  images with cached features, 2 cores);
- each candidate's and the ensemble's validation accuracy on the same split, the train-split
  k-fold CV the selection used (mean ± sd; the ensemble's is optimistic: chosen on those folds),
  out-of-fold log-loss, and the saved model.pt's validation accuracy (the ensemble through its
  own input: each member's input resampled inside the module);
- nested CV on every labelled image (splits pooled): per outer fold, the selection runs on the
  other folds' out-of-fold probabilities and the chosen ensemble and best single are scored on
  the held-out fold: an unbiased ensemble-vs-single comparison (mean ± sd across folds).

    python bench/ensemble.py [--datasets hymenoptera shapes] [--workdir /tmp/bench_ensemble]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

try:
    from . import _common as common
    from .accuracy import make_dataset
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common
    from accuracy import make_dataset

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
TARGET_S = 180.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", choices=("hymenoptera", "shapes"),
                   default=["hymenoptera", "shapes"])
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    p.add_argument("--workdir", default="/tmp/bench_ensemble")
    p.add_argument("--outer-folds", type=int, default=5,
                   help="folds of the nested CV (0: leave it out, minutes per dataset)")
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args(argv)


def nested_cv(data: str, backbones, cache, outer_folds: int, seed: int = 0) -> dict:
    """Per outer fold of every labelled image: greedy selection on the other folds'
    out-of-fold probabilities; the chosen ensemble and best single scored on the fold."""
    from transfer_gui.core.data import scan_dataset
    from transfer_gui.core.ensemble.build import probe_scores
    from transfer_gui.core.ensemble.selection import accuracy, average, greedy_selection
    from transfer_gui.core.features import dataset_features
    from transfer_gui.core.heads import stratified_folds
    from transfer_gui.core.models import get_backbone

    scan = scan_dataset(data)
    files = [s.path for s in scan.samples]
    y = np.array([s.label for s in scan.samples])
    x = {name: dataset_features(get_backbone(name), files, cache=cache).center(range(len(files)))
         for name in backbones}
    single, ensemble, members = [], [], []
    for k, held in enumerate(stratified_folds(y, outer_folds, seed + 100)):
        rest = np.setdiff1d(np.arange(len(y)), held)
        probes = {n: probe_scores(x[n][rest], y[rest], x[n][held], len(scan.class_names),
                                  seed=seed) for n in backbones}
        selection = greedy_selection({n: p.oof for n, p in probes.items()}, y[rest])
        single.append(accuracy(y[held], probes[selection.best_single].val))
        ensemble.append(accuracy(y[held], average([probes[m].val for m in selection.members])))
        members.append("+".join(selection.members))
    return {"single": single, "ensemble": ensemble, "members": members}


def main(argv=None) -> dict:
    args = parse_args(argv)
    common.set_threads(args.threads)
    figures = common.Figures("ensemble")
    common.print_header("ensemble of backbones' probes vs the best single", figures)
    from transfer_gui.core.ensemble.build import build_ensemble
    from transfer_gui.core.ensemble.report import mean_sd
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.rank import rank_backbones

    base = Path(args.workdir)
    base.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        data = make_dataset(name, base)
        cache = FeatureCache(base / "cache")
        started = time.perf_counter()
        build_ensemble(data, base / f"{name}_cold", args.backbones, cache=cache, overwrite=True)
        figures.add(f"{name}_ensemble_first_s", time.perf_counter() - started,
                    f"{name} ensemble, first run (features computed unless cached before)", "s",
                    digits=1)
        started = time.perf_counter()
        rank_backbones(data, args.backbones, cache=cache, estimate=False)
        rank_s = time.perf_counter() - started
        report = build_ensemble(data, base / f"{name}_run", args.backbones, cache=cache,
                                overwrite=True)
        total = time.perf_counter() - started
        figures.info(f"\n{name}: {report.num_train} train / {report.num_val} val images, "
                     f"{len(report.class_names)} classes")
        for c in report.candidates:
            mean, sd = c.cv()
            figures.info(f"  {c.backbone:<20} val {c.val_accuracy:.3f}  CV {mean:.3f} \u00b1 "
                         f"{sd:.3f}  OOF log-loss {c.oof_log_loss:.4f}  val log-loss "
                         f"{c.val_log_loss:.4f}")
            figures.values[f"{name}_{c.backbone}_val"] = c.val_accuracy
            figures.values[f"{name}_{c.backbone}_oof_log_loss"] = c.oof_log_loss
        d, s = report.decision, report.selection
        ens_cv, ens_sd = mean_sd(report.ensemble_fold_accuracies)
        one_cv, one_sd = report.candidate(s.best_single).cv()
        figures.add(f"{name}_members", "+".join(s.members), f"{name} greedy selection")
        figures.add(f"{name}_single_val", d.single_val_accuracy,
                    f"{name} best single ({s.best_single}) val accuracy")
        figures.add(f"{name}_ensemble_val", d.ensemble_val_accuracy,
                    f"{name} ensemble val accuracy (cached features)",
                    target=(">=", d.single_val_accuracy))
        figures.add(f"{name}_saved_val", report.saved_val_accuracy,
                    f"{name} saved model.pt val accuracy (kept: {report.kept})")
        figures.add(f"{name}_single_cv", f"{one_cv:.3f} \u00b1 {one_sd:.3f}",
                    f"{name} best single train-split CV")
        figures.add(f"{name}_ensemble_cv", f"{ens_cv:.3f} \u00b1 {ens_sd:.3f}",
                    f"{name} ensemble train-split CV (selected on these folds)")
        figures.add(f"{name}_oof_log_loss", f"{d.single_log_loss:.4f} -> {d.ensemble_log_loss:.4f}",
                    f"{name} OOF log-loss single -> ensemble")
        figures.add(f"{name}_val_log_loss",
                    f"{report.candidate(s.best_single).val_log_loss:.4f} -> "
                    f"{report.ensemble_val_log_loss:.4f}", f"{name} val log-loss single -> ensemble")
        figures.add(f"{name}_rank_s", rank_s, f"{name} rank, features cached", "s", digits=1)
        figures.add(f"{name}_ensemble_s", report.seconds["total"],
                    f"{name} ensemble, features cached", "s", digits=1,
                    note=", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()))
        figures.add(f"{name}_rank_plus_ensemble_s", total, f"{name} rank + ensemble, cached",
                    "s", digits=1, target=("<", TARGET_S))
        if args.outer_folds < 2:  # --outer-folds 0: the timing and the split's figures only
            continue
        started = time.perf_counter()
        nested = nested_cv(data, args.backbones, cache, args.outer_folds)
        a, a_sd = mean_sd(nested["single"])
        b, b_sd = mean_sd(nested["ensemble"])
        figures.add(f"{name}_nested_single", f"{a:.3f} \u00b1 {a_sd:.3f}",
                    f"{name} nested {args.outer_folds}-fold CV, best single")
        figures.add(f"{name}_nested_ensemble", f"{b:.3f} \u00b1 {b_sd:.3f}",
                    f"{name} nested {args.outer_folds}-fold CV, greedy ensemble",
                    note=f"members per fold: {', '.join(nested['members'])}; "
                         f"{time.perf_counter() - started:.0f} s")
        figures.values[f"{name}_nested_folds"] = nested
    return figures.finish()


if __name__ == "__main__":
    main()
