"""The `predict.py` a bundle ships: needs torch, Pillow and numpy only (never transfer_gui)."""

PREDICT_PY = r'''"""Predict the class of images with this bundle's model.

    python predict.py IMAGE [IMAGE ...]

Prints one line per image, tab-separated: path, class, probability, the "unlike the training
data" score and the flag "not like any training class" when the score is above 1 (both empty
without unlike_training.pt). Needs torch, Pillow and numpy only. Preprocessing follows
preprocessing.json, exactly as the app prepared its images.
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
FLAG_WORDS = "not like any training class"
warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit deprecation notes


def to_rgb(img):
    if img.mode == "RGB" and not img.has_transparency_data:
        return img
    if img.mode.startswith("I") or img.mode == "F":  # 16/32-bit or float: stretch to 0..255
        values = np.asarray(img).astype(np.float32)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8)).convert("RGB")
    if img.mode in ("RGBA", "RGBa", "LA", "La", "PA") or img.has_transparency_data:
        rgba = img.convert("RGBA")  # transparent pixels over white
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def load_square(path, size):
    """Upright RGB image, shorter side resized to `size`, centre `size` x `size` square."""
    with open(path, "rb") as f:
        img = Image.open(f)
        if img.format in ("JPEG", "MPO"):
            img.draft("RGB", (size, size))
        img.load()
        if img.getexif().get(0x0112, 1) in (2, 3, 4, 5, 6, 7, 8):
            img = ImageOps.exif_transpose(img)
    img = to_rgb(img)
    width, height = img.size
    if (width, height) != (size, size):
        if width <= height:
            new_w, new_h = size, int(size * height / width)
        else:
            new_w, new_h = int(size * width / height), size
        left, top = int(round((new_w - size) / 2.0)), int(round((new_h - size) / 2.0))
        sx, sy = width / new_w, height / new_h
        box = (left * sx, top * sy, (left + size) * sx, (top + size) * sy)
        img = img.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=3.0)
    return np.asarray(img, dtype=np.uint8)


def prepare(path, pre):
    """Image file -> (3, input_size, input_size) float tensor, normalised."""
    square = load_square(path, pre["resize_size"])
    top = (pre["resize_size"] - pre["input_size"]) // 2
    crop = square[top:top + pre["input_size"], top:top + pre["input_size"]]
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float()
    mean = torch.tensor(pre["mean"]).view(3, 1, 1) * 255.0
    std = torch.tensor(pre["std"]).view(3, 1, 1) * 255.0
    return (x - mean) / std


def unlike_scores(block, features):
    """How unlike the training images each row of backbone features is: the Mahalanobis
    distance of the L2-normalised features to the nearest class mean (shared covariance: the
    components' variances, noise_variance elsewhere), divided by the threshold."""
    x = features.astype(np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    comps, means = block["components"].double().numpy(), block["means"].double().numpy()
    variances, noise = block["variances"].double().numpy(), float(block["noise_variance"])
    proj_x, proj_m, sq_x = x @ comps.T, means @ comps.T, (x * x).sum(1)
    best = np.full(len(x), np.inf)
    for mean, pm in zip(means, proj_m):
        p = proj_x - pm
        residual = np.maximum(sq_x - 2 * x @ mean + mean @ mean - (p * p).sum(1), 0.0)
        best = np.minimum(best, (p * p / variances).sum(1) + residual / noise)
    return np.sqrt(best) / float(block["threshold"])


def main(paths):
    if not paths:
        print(__doc__)
        return 2
    labels = json.loads((HERE / "labels.json").read_text(encoding="utf-8"))
    pre = json.loads((HERE / "preprocessing.json").read_text(encoding="utf-8"))
    model = torch.jit.load(str(HERE / "model.pt"), map_location="cpu").eval()
    unlike = HERE / "unlike_training.pt"
    block = torch.load(str(unlike), weights_only=True) if unlike.is_file() else None
    with torch.no_grad():
        for path in paths:
            features = model.backbone(prepare(path, pre).unsqueeze(0))  # what the head sees
            probs = torch.softmax(model.head(features), 1)[0]
            index = int(probs.argmax())
            score, flag = "", ""
            if block is not None:
                value = float(unlike_scores(block, features.numpy())[0])
                score, flag = f"{value:.4f}", FLAG_WORDS if value > 1 else ""
            print(f"{path}\t{labels[index]}\t{float(probs[index]):.4f}\t{score}\t{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''
