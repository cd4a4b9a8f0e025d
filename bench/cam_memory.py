"""CAM memory: peak resident memory of `transfer-gui cam` on very large pictures.

Generates 13000x13000 PNGs in RGB, grey and palette modes (a few hundred KB each: flat colours
and a few shapes, the kind of file that used to take 15 GB) and a 24-megapixel JPEG (6000x4000
photo-like noise), then runs `transfer-gui cam` on each in its own process and reports that
process's peak RSS, its wall time and the size of the overlay PNG it wrote. A 224x224 image gives
the fixed cost (Python, torch, the model) for comparison.

Peak RSS comes from GNU time (`/usr/bin/time -f %M`) when it is installed, else from os.wait4.
The images are generated in a child process: on Linux a child's ru_maxrss starts from its
parent's resident size (vfork + exec), so a big parent would inflate every figure.

Target: <= 1 GB peak RSS for any image under Pillow's bomb limit (issue 13).

    python bench/cam_memory.py                      # trains a small Lite0 run first (~1 min)
    python bench/cam_memory.py --model RUN_OR_MODEL_PT
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

TARGET_MB = 1000.0
warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the big PNG is on purpose


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Peak RSS of `transfer-gui cam` on huge images.")
    p.add_argument("--model", help="model.pt or a run folder (default: train a small run)")
    p.add_argument("--side", type=int, default=13000, help="side of the big PNG (default 13000)")
    p.add_argument("--work", help="folder for the generated files (default: a temp folder)")
    p.add_argument("--make-images", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def make_big_png(path: Path, side: int, mode: str = "RGB") -> None:
    img = Image.new("RGB", (side, side), (30, 90, 160))
    draw = ImageDraw.Draw(img)
    for k in range(12):
        left, top = k * side // 14, k * side // 20
        box = (left, top, left + side // 6, top + side // 5)
        draw.ellipse(box, fill=(200 - 10 * k, 60 + 12 * k, 40))
    if mode != "RGB":
        img = img.convert("L") if mode == "L" else img.quantize(16)
    img.save(path, optimize=False)


def make_big_jpeg(path: Path, width: int = 6000, height: int = 4000) -> None:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 200, (x + y) / (width + height) * 255], axis=2)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def make_images(work: Path, side: int) -> None:
    """Write small.png, big_<side>.png and big_24mp.jpg into `work`."""
    Image.new("RGB", (224, 224), (120, 80, 40)).save(work / "small.png")
    make_big_png(work / f"big_{side}.png", side)
    for mode in ("L", "P"):
        make_big_png(work / f"big_{side}_{mode}.png", side, mode)
    make_big_jpeg(work / "big_24mp.jpg")


def measured(cmd: list[str]) -> tuple[int, float, float | None]:
    """(exit code, wall seconds, peak RSS in MB) of `cmd` in a child process."""
    gnu_time = Path("/usr/bin/time")
    if not gnu_time.exists():
        child = common.run_measured(cmd, echo_prefix=None)
        return child.returncode, child.wall_s, common.mb(child.ru_maxrss_bytes)
    report = Path(tempfile.mkstemp(suffix=".time")[1])
    child = common.run_measured([str(gnu_time), "-f", "%M", "-o", str(report), *cmd],
                                echo_prefix=None)
    kib = report.read_text().strip().splitlines()[-1]
    report.unlink()
    return child.returncode, child.wall_s, round(int(kib) * 1024 / 1e6, 1)


def small_run(work: Path) -> Path:
    """Train a 2-class Lite0 feature-extraction run on generated images; return its folder."""
    data = work / "data"
    for k, colour in enumerate(((200, 40, 40), (40, 60, 200))):
        folder = data / f"class_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(k)
        for i in range(10):
            pixels = np.clip(np.array(colour) + rng.normal(0, 30, (96, 96, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:02d}.png")
    run = work / "run"
    child = common.run_measured([sys.executable, "-m", "transfer_gui", "train", "--data",
                                 str(data), "--out", str(run), "--epochs", "2"], echo_prefix=None)
    if child.returncode != 0:
        raise SystemExit(f"training the small run failed (exit {child.returncode})")
    return run


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.make_images:  # the child that generates the pictures
        make_images(Path(args.work), args.side)
        return 0
    figures = common.Figures("cam_memory")
    common.print_header("CAM memory: peak RSS of transfer-gui cam", figures)
    work = Path(args.work or tempfile.mkdtemp(prefix="cam_memory_"))
    work.mkdir(parents=True, exist_ok=True)
    model = Path(args.model) if args.model else small_run(work)
    images = {"small_224": work / "small.png", f"png_{args.side}": work / f"big_{args.side}.png",
              f"png_{args.side}_grey": work / f"big_{args.side}_L.png",
              f"png_{args.side}_palette": work / f"big_{args.side}_P.png",
              "jpeg_24mp": work / "big_24mp.jpg"}
    made = common.run_measured([sys.executable, __file__, "--make-images", "--work", str(work),
                                "--side", str(args.side)], echo_prefix=None)
    if made.returncode != 0:
        raise SystemExit("generating the images failed")
    for key, path in images.items():
        with Image.open(path) as img:
            size = img.size
        figures.info(f"{key}: {size[0]}x{size[1]}, {path.stat().st_size / 1e3:.0f} KB")
        out = work / f"out_{key}"
        code, wall, peak = measured([sys.executable, "-m", "transfer_gui", "cam", str(model),
                                     str(path), "--out", str(out)])
        if code != 0:
            figures.info(f"  cam failed (exit {code})")
            continue
        overlay = next(out.glob("*_cam.png"))
        figures.add(f"{key}_peak_mb", peak, f"  {key} peak RSS", "MB", digits=0,
                    target=("<=", TARGET_MB) if key != "small_224" else None)
        figures.add(f"{key}_wall_s", wall, f"  {key} wall", "s", digits=1)
        figures.add(f"{key}_overlay_mb", overlay.stat().st_size / 1e6, f"  {key} overlay PNG",
                    "MB", digits=2)
    figures.finish()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
