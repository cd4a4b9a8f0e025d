"""Accuracy per transfer mode with each mode's default settings (the app's out-of-the-box result).

For each mode, one train_run(TrainConfig.for_mode(data, mode[, epochs=N])) on a fresh feature
cache; prints the best val accuracy (the checkpointed epoch), the val macro-F1 of that best model
(result.evaluation), the epochs run and the seconds. Targets: feature extraction >= 0.93,
fine-tuning >= 0.94 (best val accuracy); from scratch is reported only.

    python bench/accuracy.py                                    # all three modes, defaults
    python bench/accuracy.py --modes feature_extraction --epochs 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common

MODES = ("feature_extraction", "fine_tuning", "from_scratch")
TARGETS = {"feature_extraction": 0.93, "fine_tuning": 0.94}
SHORT = {"feature_extraction": "fe", "fine_tuning": "ft", "from_scratch": "scratch"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Train with each mode's default settings and print best val accuracy, val "
                    "macro-F1, epochs run and seconds per mode, then a JSON line.")
    p.add_argument("--data", default=common.DEFAULT_DATA,
                   help="dataset folder (default: %(default)s)")
    p.add_argument("--backbone", default=common.DEFAULT_BACKBONE,
                   help="registry name of the backbone (default: %(default)s)")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                   help="modes to run, in order (default: all three)")
    p.add_argument("--epochs", type=int, default=None,
                   help="override every mode's default epoch count (targets then only "
                        "indicative)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="training device (default: %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="training seed (default: config's)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads before training (default: torch's choice)")
    p.add_argument("--workdir", default=None,
                   help="keep each mode's run folder under this folder (default: temporary, "
                        "deleted)")
    p.add_argument("--progress", action="store_true",
                   help="draw the training progress bar on stderr")
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error("--epochs must be at least 1")
    return args


def run_mode(args, mode: str, run_dir: Path, figures: common.Figures) -> dict:
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    config = TrainConfig.for_mode(args.data, mode, backbone=args.backbone, epochs=args.epochs,
                                  device=args.device, seed=args.seed)
    figures.info(f"-- {mode}: epochs {config.epochs}, batch {config.batch_size}, lr "
                 f"{config.learning_rate}, augmentation {config.augmentation}, early stopping "
                 f"patience {config.early_stopping_patience}")
    progress = common.text_progress(args.progress)
    started = time.perf_counter()
    result = train_run(config, run_dir, feature_cache=FeatureCache(),
                       progress=progress or (lambda _: None))
    seconds = time.perf_counter() - started
    common.close_progress(progress)
    key = SHORT[mode]
    best = result.best or {}
    target = TARGETS.get(mode)
    acc = figures.add(f"{key}_best_val_acc", best.get("val_acc"), f"{mode}: best val accuracy",
                      target=(">=", target) if target is not None else None,
                      note=f"epoch {best.get('epoch')}" + ("" if target else ", reported only"))
    val = (result.evaluation or {}).get("splits", {}).get("val", {})
    f1 = figures.add(f"{key}_val_macro_f1", val.get("macro_f1"),
                     f"{mode}: val macro-F1 (best model)")
    epochs_run = figures.add(f"{key}_epochs_run", len(result.history),
                             f"{mode}: epochs run", note=f"of {config.epochs}; "
                             f"stop: {result.stop_reason or 'all epochs ran'}")
    figures.add(f"{key}_seconds", round(seconds, 1), f"{mode}: seconds (whole train_run)", "s",
                digits=1)
    return {"mode": mode, "acc": acc, "f1": f1, "epochs": epochs_run,
            "max_epochs": config.epochs, "seconds": seconds, "target": target}


def main(argv=None) -> dict:
    args = parse_args(argv)
    common.set_threads(args.threads)
    figures = common.Figures("accuracy")
    common.print_header("accuracy per mode (default settings)", figures)
    figures.info(f"dataset {args.data}, backbone {args.backbone}, modes {' '.join(args.modes)}"
                 + (f", epochs overridden to {args.epochs}" if args.epochs else ""))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_acc_") as tmp:
        base = Path(args.workdir) if args.workdir else Path(tmp)
        for mode in args.modes:
            rows.append(run_mode(args, mode, base / mode, figures))
    figures.info("\nsummary:")
    figures.info(f"  {'mode':<20}{'best val acc':>13}{'target':>9}{'val macro-F1':>14}"
                 f"{'epochs':>9}{'seconds':>10}")
    for r in rows:
        acc = f"{r['acc']:.4f}" if r["acc"] is not None else "-"
        f1 = f"{r['f1']:.4f}" if r["f1"] is not None else "-"
        target = f">={r['target']}" if r["target"] is not None else "-"
        figures.info(f"  {r['mode']:<20}{acc:>13}{target:>9}{f1:>14}"
                     f"{str(r['epochs']) + '/' + str(r['max_epochs']):>9}{r['seconds']:>10.1f}")
    return figures.finish()


if __name__ == "__main__":
    main()
