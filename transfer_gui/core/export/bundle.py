"""The model bundle: a folder anyone can use without transfer_gui.

model.pt (TorchScript), state_dict.pt (weights only), labels.json, preprocessing.json,
README.md (model card), confusion_matrix.png, predict.py, and unlike_training.pt (the "unlike the
training data" detector, weights only) when the model has one.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import torch
from PIL import Image, ImageDraw, ImageFont

from ..atomic import (atomic_write, atomic_write_bytes, atomic_write_json, atomic_write_text,
                      explain_write_error)
from ..errors import UserError
from ..model_file import LoadedModel
from ..ood import SCORE_HELP, ood_block
from ..run import Run
from .predict_template import PREDICT_PY

PREPARE_WORDS = [
    "Open the image and turn it upright (EXIF orientation); convert it to RGB (transparent "
    "pixels over white).",
    "Resize it (bilinear, antialiased) so its shorter side is resize_size pixels, and cut the "
    "central resize_size x resize_size square.",
    "Cut the central input_size x input_size square from that.",
    "Scale the pixel values to [0, 1], then per channel (R, G, B) subtract mean and divide by std.",
    "Feed a float32 tensor of shape (batch, 3, input_size, input_size); the output is logits, "
    "one per class in labels.json order; softmax gives probabilities.",
]


def _lenient(read: Callable[[], dict | None]) -> dict | None:
    """A run file for the model card, or None when it is missing or unreadable."""
    try:
        return read()
    except UserError:
        return None


def confusion_matrix_png(matrix: list[list[int]], class_names: list[str]) -> bytes:
    """Rows = true class, columns = predicted; cells shaded by the row's share, with counts."""
    font = ImageFont.load_default()
    n = len(class_names)
    cell = 44
    label_w = max(60, 7 * max(len(c) for c in class_names) + 12)
    left, top = label_w + 20, 40
    img = Image.new("RGB", (left + n * cell + 20, top + label_w + n * cell + 10), "white")
    draw = ImageDraw.Draw(img)
    draw.text((left, 8), "predicted class (columns) / true class (rows)", fill="black", font=font)
    for i, row in enumerate(matrix):
        total = max(sum(row), 1)
        for j, count in enumerate(row):
            share = count / total
            shade = int(255 - 200 * share)
            x, y = left + j * cell, top + label_w + i * cell
            draw.rectangle([x, y, x + cell, y + cell], fill=(shade, shade, 255), outline="grey")
            draw.text((x + cell / 2, y + cell / 2), str(count), font=font, anchor="mm",
                      fill="white" if share > 0.6 else "black")
    for k, name in enumerate(class_names):
        draw.text((left - 6, top + label_w + k * cell + cell / 2), name, font=font, anchor="rm",
                  fill="black")
        tag = Image.new("RGBA", (label_w, 14), (255, 255, 255, 0))
        ImageDraw.Draw(tag).text((2, 1), name, font=font, fill="black")
        rotated = tag.rotate(90, expand=True)
        img.paste(rotated, (left + k * cell + cell // 2 - 7, top + label_w - rotated.height - 4),
                  rotated)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def _metrics_section(evaluation: dict | None) -> list[str]:
    if not evaluation or not evaluation.get("splits"):
        return ["No evaluation.json in the run (it was stopped before evaluation)."]
    from ..evaluation import describe_accuracy

    lines = ["| split | images | accuracy (95% interval) | macro-F1 |", "| --- | --- | --- | --- |"]
    for split, s in evaluation["splits"].items():
        lines.append(f"| {split} | {s['num_samples']} | {describe_accuracy(s)} | "
                     f"{s['macro_f1']:.3f} |")
    primary = evaluation.get("primary_split") or next(iter(evaluation["splits"]))
    s = evaluation["splits"][primary]
    lines += ["", f"Per class on the {primary} split:", "",
              "| class | precision | recall | F1 | images |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['class']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
              f"{r['support']} |" for r in s["per_class"]]
    lines += ["", f"Confusion matrix on the {primary} split (rows: true class, columns: "
              f"predicted): ![confusion matrix](confusion_matrix.png)"]
    return lines


def _unlike_files(loaded: LoadedModel) -> list[str]:
    if ood_block(loaded) is None:
        return []
    return ["- `unlike_training.pt`: the \"unlike the training data\" detector (weights only: "
            "class means, covariance components, threshold); predict.py reads it."]


def _unlike_section(loaded: LoadedModel) -> list[str]:
    detector = ood_block(loaded)
    if detector is None:
        return ["", "This model was saved without the \"unlike the training data\" check (an "
                "older model): every image gets a class, with no flag for images unlike the "
                "training images."]
    return ["", "## Unlike the training data", "", SCORE_HELP, "",
            f"Score: the Mahalanobis distance of the L2-normalised backbone features (the head's "
            f"input) to the nearest class mean, shared covariance, divided by the threshold "
            f"{detector.threshold:.4g} ({detector.calibrated_on})."]


def model_card(loaded: LoadedModel, config: dict | None, dataset: dict | None,
               evaluation: dict | None) -> str:
    pre = loaded.preprocessing
    members = getattr(loaded, "members", None)  # core/ensemble
    made = (f"An ensemble made with transfer_gui: the average of the class probabilities of "
            f"{len(members)} linear probes, on {', '.join(m.spec.name for m in members)}; "
            f"model.pt runs them all, each resizing the input to its own size, and outputs the "
            f"log of the average." if members else
            f"An image classifier made with transfer_gui by {loaded.mode or 'transfer learning'} "
            f"on the {loaded.spec.display_name} backbone ({loaded.spec.name}).")
    licences = [f"- {spec.display_name}: {spec.licence}" for spec in
                dict.fromkeys(m.spec for m in (members or [loaded])) if spec.licence]
    if licences:  # weights published under a licence that travels with the model
        made += "\n\nBackbone licence (the model includes these weights):\n\n" + "\n".join(
            licences)
    lines = [f"# Image classifier: {', '.join(loaded.class_names)}", "", made, "",
             "## Files", "",
             "- `model.pt`: TorchScript model, `torch.jit.load('model.pt')`; input (batch, 3, "
             f"{pre.input_size}, {pre.input_size}) float32, output logits.",
             "- `state_dict.pt`: the same weights as a plain state dict (weights only).",
             "- `labels.json`: class names in output order.",
             "- `preprocessing.json`: input_size, resize_size, mean, std and how to prepare an image.",
             "- `predict.py`: `python predict.py IMAGE...` prints each image's class, probability "
             "and \"unlike the training data\" score and flag (needs torch, Pillow and numpy).",
             *_unlike_files(loaded), "",
             "## How to prepare an image", ""]
    lines += [f"{i}. {step}" for i, step in enumerate(PREPARE_WORDS, 1)]
    lines += ["", f"input_size {pre.input_size}, resize_size {pre.resize_size}, mean {list(pre.mean)}, "
              f"std {list(pre.std)}.", "", "## Dataset", ""]
    if dataset:
        lines += [f"Folder `{dataset.get('root')}` ({dataset.get('layout')} layout), "
                  f"{dataset.get('num_samples')} images, {dataset.get('num_skipped', 0)} skipped; "
                  f"split seed {dataset.get('split_seed')}.", "",
                  "| class | train | val | test |", "| --- | --- | --- | --- |"]
        for name, c in dataset.get("counts", {}).items():
            lines.append(f"| {name} | {c.get('train', 0)} | {c.get('val', 0)} | {c.get('test', 0)} |")
        lines += [f"- Warning: {w}" for w in dataset.get("warnings", [])]
    else:
        lines.append("No dataset.json in the run.")
    lines += ["", "## Metrics", ""] + _metrics_section(evaluation) + _unlike_section(loaded)
    lines += ["", "## Training configuration", ""]
    if config:
        lines += ["| option | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in config.items() if k != "software"]
        software = config.get("software") or {}
        if software:
            lines += ["", "Software: " + ", ".join(f"{k} {v}" for k, v in software.items()) + "."]
    else:
        lines.append("No config.json in the run.")
    lines += ["", "## Intended use and limits", "",
              f"- Sorts images into exactly these classes: {', '.join(loaded.class_names)}. "
              "Every image gets one of them, even one that shows none of them; a low "
              "probability is a hint, not a guarantee.",
              "- Expect the accuracy above only on images like the training set (same kind of "
              "camera, scene, lighting and framing). The test split is small, so the scores are "
              "estimates.",
              "- The model may have learnt shortcuts (background, watermarks, rulers); check "
              "where it looks (transfer_gui's CAM panel) before trusting it.",
              "- Not for decisions about people, health or safety without further validation.", ""]
    return "\n".join(lines)


def write_bundle(run_dir: Path, loaded: LoadedModel, out: Path,
                 write_torchscript: Callable[[LoadedModel, Path], Path]) -> list[Path]:
    """Write the bundle folder `out`; returns the files written.

    The files are first written into a hidden folder beside `out` and moved into `out` only when
    all of them are there, so a full disk or an error midway leaves no empty or half bundle
    (and an earlier bundle in `out` as it was).
    """
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; a bundle is a folder. Give a folder path.", path=str(out))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            written = _write_bundle_files(run_dir, loaded, staging, write_torchscript)
            out.mkdir(exist_ok=True)
            for file in written:
                os.replace(file, out / file.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:  # a full disk, a read-only folder: named (WriteError)
        explained = explain_write_error(exc, out / "model.pt")
        if explained is None or explained is exc:
            raise
        raise explained from exc
    return [out / file.name for file in written]


def _write_bundle_files(run_dir: Path, loaded: LoadedModel, out: Path,
                        write_torchscript: Callable[[LoadedModel, Path], Path]) -> list[Path]:
    run = Run(run_dir)
    config = _lenient(run.config_dict)
    dataset = _lenient(run.dataset_summary)
    evaluation = _lenient(run.evaluation)
    pre = loaded.preprocessing
    files = [write_torchscript(loaded, out / "model.pt"),
             atomic_write(out / "state_dict.pt",
                          lambda f: torch.save(loaded.model.state_dict(), f)),
             atomic_write_json(out / "labels.json", list(loaded.class_names)),
             atomic_write_json(out / "preprocessing.json", {
                 **pre.to_dict(), "channels": "RGB", "layout": "NCHW", "dtype": "float32",
                 "output": "logits (softmax gives probabilities), in labels.json order",
                 "how_to_prepare": PREPARE_WORDS}),
             atomic_write_text(out / "predict.py", PREDICT_PY)]
    detector = ood_block(loaded)
    if detector is not None:
        files.append(atomic_write(out / "unlike_training.pt",
                                  lambda f: torch.save(detector.to_block(), f)))
    if evaluation and evaluation.get("splits"):
        primary = evaluation.get("primary_split") or next(iter(evaluation["splits"]))
        matrix = evaluation["splits"][primary]["confusion_matrix"]
        files.append(atomic_write_bytes(out / "confusion_matrix.png",
                                        confusion_matrix_png(matrix, loaded.class_names)))
    files.append(atomic_write_text(out / "README.md",
                                   model_card(loaded, config, dataset, evaluation)))
    return files
