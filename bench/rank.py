"""`rank_backbones` (transfer-gui rank) on hymenoptera and the generated `shapes` set: per backbone
the linear probe's 5-fold CV accuracy, leave-one-out 5-NN accuracy, LogME and seconds; the whole
ranking's time with features computed (cold) and cached (warm, target < 3 minutes on ~400 images).

With `--fine-tune`, each backbone is also fine-tuned (LP-FT, the default fine-tuning, each run in
its own child process through `accuracy.py --one`) and its accuracy (test split where the set has
one, else the best validation accuracy) compared with the ranking: the recommended backbone should
be within 1 point of the best fine-tuned one, and Spearman's rank correlation of each score with
the fine-tuned accuracy is reported. That costs minutes per backbone on 2 cores.

    python bench/rank.py                                   # rankings only (~2 min cold)
    python bench/rank.py --fine-tune --workdir /tmp/bench_rank
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

try:
    from . import _common as common
    from .accuracy import make_dataset
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common
    from accuracy import make_dataset

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
RANK_TARGET_S = 180.0
GAP_TARGET = 0.01


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", choices=("hymenoptera", "shapes"),
                   default=["hymenoptera", "shapes"])
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    p.add_argument("--fine-tune", action="store_true", help="also fine-tune every backbone")
    p.add_argument("--workdir", default="/tmp/bench_rank", help="generated set and runs here")
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args(argv)


def fine_tuned_accuracy(data: str, backbone: str, out: Path) -> dict:
    """LP-FT of `backbone` in a child process (accuracy.py --one); its figures.json."""
    figures_file = out / "figures.json"
    if not figures_file.exists():  # a finished run is reused (rerun with a fresh --workdir)
        out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(Path(__file__).with_name("accuracy.py")), "--one", data,
               "lpft", str(out), "--backbone", backbone]
        child = common.run_measured(cmd, echo_prefix=None)
        if child.returncode != 0:
            return {}
    row = json.loads(figures_file.read_text())
    row["accuracy"] = row.get("test_acc", row.get("best_val_acc"))
    row["accuracy_split"] = "test" if "test_acc" in row else "best val"
    return row


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def main(argv=None) -> dict:
    args = parse_args(argv)
    common.set_threads(args.threads)
    figures = common.Figures("rank")
    common.print_header("rank backbones on cached features", figures)
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.rank import rank_backbones

    base = Path(args.workdir)
    base.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        data = make_dataset(name, base)
        cache = FeatureCache()
        started = time.perf_counter()
        cold = rank_backbones(data, args.backbones, cache=cache)
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        warm = rank_backbones(data, args.backbones, cache=cache)
        warm_s = time.perf_counter() - started
        figures.info(f"\n{name}: {warm.num_images} images, {len(warm.class_names)} classes")
        for r in cold.ranked:
            w = next(x for x in warm.ranked if x.backbone == r.backbone)
            figures.info(f"  {r.backbone:<20} CV {r.cv_accuracy:.3f} \u00b1 {r.cv_std:.3f}  "
                         f"5-NN {r.knn_accuracy:.3f}  LogME {r.logme:.3f}  features "
                         f"{r.feature_seconds:.1f} s cold / {w.feature_seconds:.1f} s cached, "
                         f"scores {w.score_seconds:.1f} s")
            for key in ("cv_accuracy", "cv_std", "knn_accuracy", "logme", "feature_seconds"):
                figures.values[f"{name}_{r.backbone}_{key}"] = getattr(r, key)
            figures.values[f"{name}_{r.backbone}_score_seconds"] = w.score_seconds
        figures.add(f"{name}_rank_cold_s", cold_s, f"{name} rank, features computed", "s",
                    digits=1)
        figures.add(f"{name}_rank_warm_s", warm_s, f"{name} rank, features cached", "s",
                    digits=1, target=("<", RANK_TARGET_S))
        best = warm.recommended
        figures.add(f"{name}_recommended", best.backbone, f"{name} recommended")
        figures.add(f"{name}_fine_tuning_estimate_s", warm.fine_tuning_seconds,
                    f"{name} fine-tuning estimate for {best.backbone}", "s", digits=0)
        figures.info(f"  {warm.recommendation()}")
        if not args.fine_tune:
            continue
        tuned = {r.backbone: fine_tuned_accuracy(data, r.backbone, base / f"{name}_{r.backbone}")
                 for r in warm.ranked}
        for backbone, row in tuned.items():
            figures.add(f"{name}_{backbone}_fine_tuned", row.get("accuracy"),
                        f"{name} {backbone} fine-tuned ({row.get('accuracy_split')})",
                        note=f"{row.get('seconds', 0):.0f} s")
        done = [r for r in warm.ranked if tuned[r.backbone].get("accuracy") is not None]
        tuned_acc = [tuned[r.backbone]["accuracy"] for r in done]
        top = max(tuned_acc)
        figures.add(f"{name}_recommended_gap", top - tuned[best.backbone]["accuracy"],
                    f"{name} best fine-tuned - recommended's fine-tuned", digits=4,
                    target=("<=", GAP_TARGET))
        figures.add(f"{name}_estimate_vs_measured", warm.fine_tuning_seconds
                    / max(tuned[best.backbone].get("seconds", 0), 1e-9),
                    f"{name} estimated / measured fine-tuning seconds of {best.backbone}")
        for key in ("cv_accuracy", "knn_accuracy", "logme"):
            figures.add(f"{name}_spearman_{key}", spearman([getattr(r, key) for r in done],
                                                           tuned_acc),
                        f"{name} Spearman({key}, fine-tuned accuracy) over {len(done)}")
    return figures.finish()


if __name__ == "__main__":
    main()
