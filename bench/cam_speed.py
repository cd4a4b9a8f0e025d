"""CAM speed: one Grad-CAM of a 224x224 image with EfficientNet-Lite0 (the default backbone).

Builds a TransferModel (pretrained Lite0 backbone, 2-class head) in eval mode, then times
`compute_cam` at the default layer: a warm-up, then `--runs` timed calls for one image, and the
same for a batch of 8 (reported per image too). One plain forward (no_grad) is timed for
reference. What `explain_image` adds (decoding the file, `to_original`) is not included.

Target: median <= 150 ms for one image on a 2-core CPU.

    python bench/cam_speed.py
    python bench/cam_speed.py --method gradcam++ --runs 50
"""

from __future__ import annotations

import argparse
import statistics
import time

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common

import torch  # noqa: E402

from transfer_gui.core.cam import METHODS, cam_target_for, compute_cam  # noqa: E402
from transfer_gui.core.models import get_backbone, make_model  # noqa: E402

TARGET_MS = 150.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time compute_cam with a Lite0 TransferModel.")
    p.add_argument("--backbone", default=common.DEFAULT_BACKBONE)
    p.add_argument("--method", default="gradcam", choices=list(METHODS))
    p.add_argument("--runs", type=int, default=30, help="timed runs per case (default: 30)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first (default: 3)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    return p.parse_args(argv)


def load(backbone: str) -> tuple[torch.nn.Module, str, object, int]:
    """The model in eval mode, its default CAM layer, reshape and input size."""
    spec = get_backbone(backbone)
    model = make_model(spec, 2, pretrained=True).eval()
    layer, reshape = cam_target_for(spec, model)
    return model, layer, reshape, spec.preprocessing.input_size


def time_calls(fn, runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def main(argv=None) -> dict:
    args = parse_args(argv)
    common.set_threads(args.threads)
    figures = common.Figures("cam_speed")
    common.print_header(f"CAM speed: {args.method} with {args.backbone}", figures)
    model, layer, reshape, size = load(args.backbone)
    figures.info(f"layer: {layer}, input {size}x{size}, {args.runs} timed runs after "
                 f"{args.warmup} warm-up")
    gen = torch.Generator().manual_seed(0)
    one = torch.randn(1, 3, size, size, generator=gen)
    eight = torch.randn(8, 3, size, size, generator=gen)

    def forward():
        with torch.no_grad():
            model(one)

    fwd = time_calls(forward, args.runs, args.warmup)
    figures.add("forward_1_median_ms", round(statistics.median(fwd), 1),
                "plain forward, 1 image (no_grad), median", "ms", digits=1)
    single = time_calls(lambda: compute_cam(model, one, layer=layer, method=args.method,
                                            reshape=reshape), args.runs, args.warmup)
    figures.add("cam_1_median_ms", round(statistics.median(single), 1),
                f"{args.method}, 1 image, median", "ms", digits=1, target=("<=", TARGET_MS))
    figures.add("cam_1_p90_ms", round(p90(single), 1), f"{args.method}, 1 image, p90", "ms",
                digits=1)
    batch = time_calls(lambda: compute_cam(model, eight, layer=layer, method=args.method,
                                           reshape=reshape), args.runs, args.warmup)
    figures.add("cam_8_median_ms", round(statistics.median(batch), 1),
                f"{args.method}, batch of 8, median", "ms", digits=1)
    figures.add("cam_8_p90_ms", round(p90(batch), 1), f"{args.method}, batch of 8, p90", "ms",
                digits=1)
    figures.add("cam_8_per_image_median_ms", round(statistics.median(batch) / 8, 1),
                f"{args.method}, batch of 8, median per image", "ms", digits=1)
    return figures.finish()


if __name__ == "__main__":
    main()
