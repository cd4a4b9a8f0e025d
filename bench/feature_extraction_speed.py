"""Feature-extraction training speed: the backbone should run about once per image, not per epoch.

In one process, in this order:
  0. warm-up (not timed): every image file read once (page cache), one batch decoded and
     forwarded at the floor's batch shapes (full batch and the last partial one);
  a. the floor: decode every image (load_image_array at the backbone's resize size) and run
     the frozen backbone once over all of them (eval, no_grad, batch 32, centre crop via
     InputPipeline.eval_batch), a plain sequential loop with nothing cached;
  b. feature-extraction training: train_run(TrainConfig.for_mode(data, "feature_extraction",
     epochs=30, early_stopping_patience=0), tmpdir, feature_cache=FeatureCache()) - the whole
     call (scan, weights, extraction, 30 epochs, evaluation, file writing);
  c. the naive reference: the same head (dropout + nn.Linear on pooled features, AdamW, same
     batch size, learning rate and weight decay) trained for N epochs while the frozen backbone
     re-runs on every batch of every epoch (train batches, then the val images for that epoch's
     validation, as feature extraction also validates every epoch). Images are decoded once
     beforehand and kept in memory; that decode time is reported separately.

Targets: FE / floor <= 1.3 and naive / FE >= 10.

    python bench/feature_extraction_speed.py                      # full run (naive: 30 epochs)
    python bench/feature_extraction_speed.py --naive-epochs 2     # naive extrapolated to 30
"""

from __future__ import annotations

import argparse
import tempfile
import time

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common

TARGET_FE_OVER_FLOOR = 1.3
TARGET_NAIVE_OVER_FE = 10.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time feature-extraction training against its floor (one decode + one "
                    "backbone pass per image) and against a naive loop that re-runs the "
                    "backbone every epoch. Prints one figure per line, then a JSON line.")
    p.add_argument("--data", default=common.DEFAULT_DATA,
                   help="dataset folder (default: %(default)s)")
    p.add_argument("--backbone", default=common.DEFAULT_BACKBONE,
                   help="registry name of the backbone (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=30,
                   help="epochs of the feature-extraction run, and the epoch count the naive "
                        "time is compared at (default: %(default)s)")
    p.add_argument("--naive-epochs", type=int, default=30,
                   help="epochs the naive loop really runs; fewer than --epochs also prints the "
                        "per-epoch time and its extrapolation (default: %(default)s)")
    p.add_argument("--naive-skip-val", action="store_true",
                   help="naive loop: leave out the per-epoch validation pass over val images")
    p.add_argument("--skip-naive", action="store_true", help="do not run the naive loop")
    p.add_argument("--batch-size", type=int, default=32,
                   help="batch size of the floor's forward and of the naive loop; feature "
                        "extraction always forwards in 32s (default: %(default)s)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="device for all three measurements (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads before anything runs (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    p.add_argument("--run-dir", default=None,
                   help="keep the feature-extraction run files here (default: a temporary "
                        "folder, deleted)")
    p.add_argument("--progress", action="store_true",
                   help="draw the training progress bar on stderr")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.naive_epochs < 1 or args.batch_size < 1:
        p.error("--epochs, --naive-epochs and --batch-size must be at least 1")
    return args


def _batches(items, size):
    return [items[k:k + size] for k in range(0, len(items), size)]


def warm_up(files, load, pipeline, network, device, batch_size, amp) -> float:
    """Read every file once (so no pass pays for a cold page cache), then decode one batch and
    forward it at the two batch shapes the floor uses (full, and the last partial batch)."""
    import torch

    started = time.perf_counter()
    for path in files:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    arrays = [load(p) for p in files[:batch_size]]
    shapes = {len(arrays), len(files) % batch_size or len(arrays)}
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
        for n in sorted(shapes, reverse=True):
            network(pipeline.eval_batch(arrays[:n]).to(device)).float().cpu()
    common.device_sync(device)()
    return time.perf_counter() - started


def measure_floor(files, load, pipeline, network, device, batch_size, amp):
    """One sequential pass: decode a batch, forward it; nothing kept, nothing overlapped."""
    import torch

    sync = common.device_sync(device)
    decode, forward, total = common.Stopwatch(), common.Stopwatch(sync), common.Stopwatch(sync)
    total.start()
    for batch in _batches(files, batch_size):
        decode.start()
        arrays = [load(p) for p in batch]
        decode.stop()
        forward.start()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            network(pipeline.eval_batch(arrays).to(device)).float().cpu()
        forward.stop()
    total.stop()
    return total.seconds, decode.seconds, forward.seconds


def run_feature_extraction(args, run_dir, progress):
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    config = TrainConfig.for_mode(args.data, "feature_extraction", epochs=args.epochs,
                                  early_stopping_patience=0, backbone=args.backbone,
                                  device=args.device, seed=args.seed)
    stages = common.StageTimes(progress)
    stages.start()
    started = time.perf_counter()
    result = train_run(config, run_dir, feature_cache=FeatureCache(), progress=stages)
    return result, time.perf_counter() - started, stages


def run_naive(args, spec, samples, num_classes, load, pipeline, device, amp, figures):
    """Head-only training that re-runs the frozen backbone on every batch, every epoch."""
    import numpy as np
    import torch
    from torch import nn

    from transfer_gui.core.models import make_model
    from transfer_gui.core.training.config import MODE_DEFAULTS

    defaults = MODE_DEFAULTS["feature_extraction"]
    train = [s for s in samples if s.split == "train"]
    val = [] if args.naive_skip_val else [s for s in samples if s.split == "val"]
    with common.Stopwatch() as decode:  # decoded once, kept; not part of the naive figure
        train_x = np.stack([load(s.path) for s in train])
        val_x = np.stack([load(s.path) for s in val]) if val else None
    train_y = torch.tensor([s.label for s in train])
    val_y = torch.tensor([s.label for s in val])
    figures.add("naive_decode_once_s", round(decode.seconds, 3),
                f"naive: decode {len(train) + len(val)} images once into memory (not counted)",
                "s")

    torch.manual_seed(args.seed)
    model = make_model(spec, num_classes, pretrained=True).to(device)
    backbone, head = model.backbone.eval().requires_grad_(False), model.head
    optimizer = torch.optim.AdamW(head.parameters(), lr=defaults["learning_rate"],
                                  weight_decay=defaults["weight_decay"])
    loss_fn = nn.CrossEntropyLoss()
    sync = common.device_sync(device)
    rng = np.random.default_rng(args.seed)

    def features(arrays):
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            return backbone(pipeline.eval_batch(arrays).to(device)).float()

    epoch_seconds, val_acc = [], None
    for epoch in range(args.naive_epochs):
        sw = common.Stopwatch(sync).start()
        head.train()
        for idx in _batches(rng.permutation(len(train)), args.batch_size):
            logits = head(features(train_x[idx]))
            loss = loss_fn(logits, train_y[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if val:
            head.eval()
            correct = 0
            with torch.no_grad():
                for idx in _batches(np.arange(len(val)), args.batch_size):
                    pred = head(features(val_x[idx])).argmax(1).cpu()
                    correct += int((pred == val_y[idx]).sum())
            val_acc = correct / len(val)
        epoch_seconds.append(sw.stop())
        print(f"  naive epoch {epoch + 1}/{args.naive_epochs}: {epoch_seconds[-1]:.2f} s"
              + (f", val accuracy {val_acc:.3f}" if val_acc is not None else ""), flush=True)
    return epoch_seconds, val_acc


def main(argv=None) -> dict:
    args = parse_args(argv)
    common.set_threads(args.threads)
    import torch

    from transfer_gui.core.data import load_image_array, scan_dataset
    from transfer_gui.core.models import get_backbone, make_model
    from transfer_gui.core.inputs import InputPipeline
    from transfer_gui.core.training.setup import pick_device

    figures = common.Figures("feature_extraction_speed")
    common.print_header("feature-extraction speed", figures)
    spec = get_backbone(args.backbone)
    device = pick_device(args.device)
    amp = device.type == "cuda"  # as FeatureExtractor with the default mixed_precision=True
    size = spec.preprocessing.resize_size
    pipeline = InputPipeline(spec.preprocessing)

    def load(path):
        return load_image_array(path, size)

    with common.Stopwatch() as sw:
        dataset = scan_dataset(args.data)
    files = [s.path for s in dataset.samples]
    counts = {split: len(dataset.split(split)) for split in ("train", "val", "test")}
    figures.info(f"dataset: {dataset.root} ({len(files)} images: {counts}; "
                 f"{dataset.num_classes} classes), backbone {spec.name}, device {device.type}, "
                 f"torch threads {torch.get_num_threads()}")
    figures.add("images", len(files), "images (all splits)")
    figures.add("scan_s", round(sw.seconds, 3), "scan_dataset (info)", "s")

    with common.Stopwatch() as sw:
        network = make_model(spec, dataset.num_classes, pretrained=True).backbone.to(device).eval()
    figures.add("backbone_build_s", round(sw.seconds, 3), "backbone build + weights (info)", "s")
    warm = warm_up(files, load, pipeline, network, device, args.batch_size, amp)
    figures.add("warmup_s", round(warm, 3),
                "warm-up: read all files, 1-2 forwards (not in any figure)", "s")

    # a. the floor
    floor, floor_decode, floor_forward = measure_floor(files, load, pipeline, network, device,
                                                       args.batch_size, amp)
    del network
    figures.add("floor_s", round(floor, 3), "floor: decode all + 1 backbone pass (sequential)", "s")
    figures.add("floor_decode_s", round(floor_decode, 3), "  floor part: decoding", "s")
    figures.add("floor_forward_s", round(floor_forward, 3), "  floor part: backbone forward", "s")
    figures.add("floor_images_per_s", round(len(files) / floor, 2), "  floor throughput",
                "images/s", digits=2)

    # b. feature-extraction training
    progress = common.text_progress(args.progress)
    if args.run_dir:
        result, fe_s, stages = run_feature_extraction(args, args.run_dir, progress)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_fe_") as tmp:
            result, fe_s, stages = run_feature_extraction(args, tmp, progress)
    common.close_progress(progress)
    epochs_run = len(result.history)
    figures.add("fe_s", round(fe_s, 3),
                f"feature-extraction train_run, {epochs_run} epochs (whole call)", "s")
    for stage, t in stages.summary().items():
        figures.add(f"fe_stage_{stage}_last_report_s", t["last_s"],
                    f"  FE stage '{stage}': last progress report at", "s")
    figures.add("fe_epochs_run", epochs_run, "  FE epochs run")
    if result.history:
        per_epoch = sum(h["seconds"] for h in result.history) / epochs_run
        figures.add("fe_head_epoch_s", round(per_epoch, 4), "  FE mean head-training epoch", "s",
                    digits=4)
    off_spec = "" if args.epochs == 30 else "targets are defined for 30 epochs"
    figures.add("fe_over_floor", round(fe_s / floor, 3), "ratio FE / floor",
                target=("<=", TARGET_FE_OVER_FLOOR), note=off_spec)
    best = result.best or {}
    figures.add("fe_best_val_acc", best.get("val_acc"), "FE best val accuracy",
                note=f"epoch {best.get('epoch')}")
    if result.evaluation:
        val = result.evaluation["splits"].get("val", {})
        figures.add("fe_val_macro_f1", val.get("macro_f1"), "FE val macro-F1 (best model)")

    # c. the naive reference
    if not args.skip_naive:
        epoch_s, naive_acc = run_naive(args, spec, dataset.samples, dataset.num_classes, load,
                                       pipeline, device, amp, figures)
        measured = sum(epoch_s)
        n = len(epoch_s)
        figures.add("naive_s", round(measured, 3), f"naive: measured, {n} epochs", "s")
        figures.add("naive_epochs", n, "naive: epochs measured")
        figures.add("naive_epoch_s", round(measured / n, 3), "naive: mean per epoch", "s")
        if naive_acc is not None:
            figures.add("naive_last_val_acc", naive_acc, "naive: val accuracy after last epoch")
        if n == args.epochs:
            figures.add("naive_over_fe", round(measured / fe_s, 2),
                        f"ratio naive / FE (both {n} epochs, measured)", digits=2,
                        target=(">=", TARGET_NAIVE_OVER_FE), note=off_spec)
        else:
            extrapolated = measured / n * args.epochs
            figures.add("naive_extrapolated_s", round(extrapolated, 1),
                        f"naive: EXTRAPOLATED to {args.epochs} epochs (from {n} measured)", "s",
                        digits=1)
            figures.add("naive_over_fe_extrapolated", round(extrapolated / fe_s, 2),
                        f"ratio naive / FE (naive EXTRAPOLATED to {args.epochs} epochs)",
                        digits=2, target=(">=", TARGET_NAIVE_OVER_FE), note=off_spec)
    peak = common.peak_rss_bytes()
    figures.add("peak_rss_mb", common.mb(peak["vm_hwm"] or peak["ru_maxrss"]),
                "peak RSS of this process (info)", "MB", digits=1)
    return figures.finish()


if __name__ == "__main__":
    main()
