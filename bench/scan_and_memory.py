"""Scan speed and peak memory on a large synthetic dataset (default 20,000 small JPEGs).

(a) Makes, once, WORKDIR/data: 10 classes x 2,000 distinct 64x64 JPEGs (reused while its
    parameters match), then times scan_dataset on all of it. Target: < 10 s.
(b) Runs feature-extraction training (efficientnet_lite0, 3 epochs, early_stopping_patience=0,
    fresh in-memory feature cache) on those images in a child process and reports that
    process's peak resident memory (ru_maxrss from os.wait4, and its own VmHWM) and wall time.
    Target: < 4 GB. The full 20,000 images take roughly 10-15 min on 2 CPU cores; --limit N
    trains on the first N classes only (and --per-class M on their first M images).

    python bench/scan_and_memory.py --scan-only                 # (a) only, ~1 min first time
    python bench/scan_and_memory.py                             # (a) + (b) on all 20,000
    python bench/scan_and_memory.py --limit 2 --per-class 100   # quick check of (b)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common

TARGET_SCAN_S = 10.0
TARGET_PEAK_GB = 4.0
CHILD_TAG = "BENCH_CHILD_RESULT "


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time scan_dataset on a synthetic 20,000-image dataset and measure the "
                    "peak resident memory of feature-extraction training on it (in a child "
                    "process). Prints one figure per line, then a JSON line.")
    p.add_argument("--workdir", default="/tmp/transfer_gui_bench_20k",
                   help="folder for the cached dataset (WORKDIR/data) and run files "
                        "(default: %(default)s)")
    p.add_argument("--classes", type=int, default=10, help="classes to generate (default: 10)")
    p.add_argument("--images-per-class", type=int, default=2000,
                   help="images generated per class (default: 2000)")
    p.add_argument("--image-size", type=int, default=64,
                   help="side of the generated JPEGs in pixels (default: 64)")
    p.add_argument("--scan-repeats", type=int, default=2,
                   help="scans to time; the first is the figure checked against the target, "
                        "the fastest is also printed (default: %(default)s)")
    p.add_argument("--scan-only", action="store_true", help="do (a) only, no training")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="train on the first N classes' images only (N >= 2); the scan timing "
                        "still covers the whole dataset")
    p.add_argument("--per-class", type=int, default=None, metavar="M",
                   help="with or without --limit: train on only the first M images per class")
    p.add_argument("--epochs", type=int, default=3, help="training epochs (default: 3)")
    p.add_argument("--backbone", default=common.DEFAULT_BACKBONE,
                   help="registry name of the backbone (default: %(default)s)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="training device (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads in the training process (default: torch's)")
    p.add_argument("--regenerate", action="store_true",
                   help="delete and remake the synthetic dataset")
    p.add_argument("--no-progress", action="store_true",
                   help="no training progress lines on stderr")
    # Internal: the child process that trains (its peak memory is the figure).
    p.add_argument("--child-train", metavar="DATA", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-run-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.limit is not None and not 2 <= args.limit <= args.classes:
        p.error(f"--limit must be between 2 and {args.classes} (classes)")
    if args.per_class is not None and args.per_class < 2:
        p.error("--per-class must be at least 2")
    if args.classes < 2 or args.images_per_class < 10 or args.epochs < 1:
        p.error("need --classes >= 2, --images-per-class >= 10 and --epochs >= 1")
    return args


# ---------------------------------------------------------------------------------------------
# The child: one feature-extraction train_run, then its own memory figures as a tagged JSON line.


def child_main(args: argparse.Namespace) -> None:
    common.set_threads(args.threads)
    rss_start = common.current_rss_bytes()
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    rss_imported = common.current_rss_bytes()
    config = TrainConfig.for_mode(args.child_train, "feature_extraction", epochs=args.epochs,
                                  early_stopping_patience=0, backbone=args.backbone,
                                  device=args.device)
    progress = common.text_progress(not args.no_progress)
    stages = common.StageTimes(progress)
    stages.start()
    result = train_run(config, args.child_run_dir, feature_cache=FeatureCache(), progress=stages)
    common.close_progress(progress)
    peak = common.peak_rss_bytes()
    counts = result.dataset.counts() if result.dataset else {}
    out = {
        "seconds": result.seconds,
        "images": len(result.dataset.samples) if result.dataset else None,
        "split_counts": {s: sum(c[s] for c in counts.values()) for s in ("train", "val", "test")},
        "epochs_run": len(result.history),
        "best_val_acc": (result.best or {}).get("val_acc"),
        "vm_hwm": peak["vm_hwm"], "ru_maxrss": peak["ru_maxrss"],
        "rss_at_start": rss_start, "rss_after_imports": rss_imported,
        "rss_at_end": common.current_rss_bytes(), "stages": stages.summary(),
        "torch_threads": __import__("torch").get_num_threads(),
    }
    print(CHILD_TAG + json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------------
# The parent


def scan_figures(args, data: Path, reused: bool, figures: common.Figures) -> None:
    from transfer_gui.core.data import scan_dataset

    times = []
    for k in range(max(1, args.scan_repeats)):
        started = time.perf_counter()
        scan = scan_dataset(data)
        times.append(time.perf_counter() - started)
        figures.info(f"  scan {k + 1}: {times[-1]:.3f} s ({len(scan.samples):,} images, "
                     f"{len(scan.skipped)} skipped)")
    figures.add("scan_images", len(scan.samples), "scan: images found")
    figures.add("scan_skipped", len(scan.skipped), "scan: files skipped")
    figures.add("scan_s", round(times[0], 3), "scan_dataset, first timed scan", "s",
                target=("<", TARGET_SCAN_S),
                note="dataset reused: page cache may be cold" if reused
                else "just generated: files in the page cache")
    if len(times) > 1:
        figures.add("scan_min_s", round(min(times), 3), f"scan_dataset, fastest of {len(times)}",
                    "s")
    figures.add("scan_images_per_s", round(len(scan.samples) / times[0]), "scan throughput",
                "images/s", digits=0)


def train_figures(args, workdir: Path, data: Path, figures: common.Figures) -> None:
    train_data = data
    if args.limit is not None or args.per_class is not None:
        classes = args.limit or args.classes
        train_data = workdir / f"subset_c{classes}" f"{'_p' + str(args.per_class) if args.per_class else ''}"
        images = common.subset_view(data, train_data, classes, args.per_class)
        figures.info(f"training on a subset: first {classes} classes"
                     + (f", first {args.per_class} images each" if args.per_class else "")
                     + f" ({train_data}, symlinks)")
    else:
        images = args.classes * args.images_per_class
    figures.add("train_images", images, "images used for training (all splits)")
    run_dir = workdir / "runs" / time.strftime("fe_%Y%m%d_%H%M%S")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-train", str(train_data),
           "--child-run-dir", str(run_dir), "--epochs", str(args.epochs),
           "--backbone", args.backbone, "--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.no_progress:
        cmd.append("--no-progress")
    figures.info(f"training in a child process ({args.epochs} epochs, {args.backbone}); "
                 f"run files in {run_dir}")
    child = common.run_measured(cmd, echo_prefix="  | ")
    if child.returncode != 0:
        raise SystemExit(f"the training process failed (exit status {child.returncode})")
    report = child.tagged_json(CHILD_TAG) or {}
    peak = child.ru_maxrss_bytes or report.get("vm_hwm") or 0
    figures.add("child_peak_rss_mb", common.mb(peak),
                "training process peak RSS (ru_maxrss via wait4)", "MB", digits=1)
    figures.add("child_peak_rss_gb", round(peak / 1e9, 3), "training process peak RSS", "GB",
                target=("<", TARGET_PEAK_GB))
    figures.add("child_vm_hwm_mb", common.mb(report.get("vm_hwm")),
                "  same, VmHWM reported by the process itself", "MB", digits=1)
    figures.add("child_rss_after_imports_mb", common.mb(report.get("rss_after_imports")),
                "  its RSS after importing torch + core (baseline)", "MB", digits=1)
    figures.add("child_wall_s", round(child.wall_s, 1),
                "training process wall time (start to exit)", "s", digits=1)
    figures.add("train_run_s", round(report.get("seconds", float("nan")), 1),
                "  train_run's own seconds", "s", digits=1)
    for stage, t in (report.get("stages") or {}).items():
        figures.add(f"stage_{stage}_last_report_s", t["last_s"],
                    f"  stage '{stage}': last progress report at", "s")
    figures.add("train_images_seen", report.get("images"), "  images in the trained dataset",
                note=f"splits {report.get('split_counts')}")
    figures.add("epochs_run", report.get("epochs_run"), "  epochs run")
    figures.add("best_val_acc", report.get("best_val_acc"), "  best val accuracy (info)")


def main(argv=None) -> dict | None:
    args = parse_args(argv)
    if args.child_train:
        child_main(args)
        return None
    figures = common.Figures("scan_and_memory")
    common.print_header("scan speed and training peak memory", figures)
    workdir = Path(args.workdir)
    data = workdir / "data"
    made = common.make_synthetic_dataset(data, args.classes, args.images_per_class,
                                         args.image_size, log=figures.info,
                                         regenerate=args.regenerate)
    figures.add("dataset_images", made["images"], "synthetic dataset images",
                note=f"{args.classes} classes x {args.images_per_class}, "
                     f"{args.image_size}x{args.image_size} JPEG, {data}")
    figures.add("generate_s", round(made["seconds"], 1),
                "generation time" + (" (reused, not generated)" if made["reused"] else ""), "s",
                digits=1)
    scan_figures(args, data, made["reused"], figures)
    if not args.scan_only:
        train_figures(args, workdir, data, figures)
    return figures.finish()


if __name__ == "__main__":
    main()
