"""Dataset shift (issue 14): the kernel MMD test's p-values and the accuracy recalibration recovers.

Per dataset it trains a feature-extraction model (Lite0) on the unshifted training images, then
prints: the p-value of the shifted folder and of an unshifted folder against the training images
(`compare_new_images`), how often random halves of the training images are NOT flagged (p > 0.05,
over `--null-seeds` seeds, on the model's cached features), and accuracy on labelled images:
unshifted, shifted, shifted after recalibration (AdaBN aligned to the training images: what the
app does), after plain AdaBN, and after Tent-style entropy minimisation of the batch-norm scale and
shift on top of the aligned statistics (`--tent`). The recalibration statistics come from an
unlabelled shifted folder; accuracy is measured on other, labelled shifted images.

Datasets: `generated` (tests/shift_images.py: shapes; the shift is a colour cast, a blur and
another background) and `hymenoptera` (real photos; the shift is the same colour cast and blur
applied to the validation photos: half of them unlabelled for recalibration, half labelled).
Targets: shifted p < 0.01, unshifted halves not flagged in >= 90% of seeds, at least half of the
lost accuracy recovered.

    python bench/shift.py                       # both datasets (about 5 min on 2 busy cores)
    python bench/shift.py --datasets generated --tent
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common

sys.path.insert(0, str(common.REPO_ROOT / "tests"))  # the generated-dataset makers live there

DATASETS = ("generated", "hymenoptera")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--data", default=common.DEFAULT_DATA, help="the hymenoptera folder")
    p.add_argument("--null-seeds", type=int, default=100)
    p.add_argument("--tent", action="store_true", help="also measure Tent-style adaptation")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--workdir", default=None, help="keep datasets and runs here")
    return p.parse_args(argv)


def make_generated(base: Path) -> dict[str, Path]:
    from shift_images import SHIFTED, SOURCE, make_domain_folder

    folders = {"train": (SOURCE, 40, 0), "same": (SOURCE, 20, 1), "new": (SHIFTED, 30, 2),
               "labelled": (SHIFTED, 20, 3)}
    out = {}
    for name, (domain, per_class, seed) in folders.items():
        out[name] = base / "generated" / name
        if not out[name].exists():
            make_domain_folder(out[name], domain, per_class, seed)
    return out


def make_hymenoptera(base: Path, data: str) -> dict[str, Path]:
    """train = hymenoptera/train; same = val as it is; new and labelled = the two halves of val,
    shifted (a photo at an odd position goes to `new`, the others to `labelled`)."""
    import numpy as np
    from PIL import Image

    from shift_images import shift_photo
    from transfer_gui.core.data import open_image_rgb

    root = base / "hymenoptera"
    out = {"train": Path(data) / "train", "same": Path(data) / "val", "new": root / "new",
           "labelled": root / "labelled"}
    if not out["new"].exists():
        for cls in sorted(p for p in (Path(data) / "val").iterdir() if p.is_dir()):
            for i, photo in enumerate(sorted(cls.iterdir())):
                folder = out["new" if i % 2 else "labelled"] / cls.name
                folder.mkdir(parents=True, exist_ok=True)
                pixels = np.asarray(open_image_rgb(str(photo)))
                Image.fromarray(shift_photo(pixels)).save(folder / f"{photo.stem}.png")
    return out


def labelled(folder: Path) -> tuple[list[str], list[str]]:
    from transfer_gui.core.predict import collect_images

    files = collect_images([folder])
    return files, [Path(f).parent.name for f in files]


def plain_adabn(loaded, files):
    """The model with every batch-norm layer's statistics replaced by the new images' own."""
    import torch

    from transfer_gui.core.recalibrate import image_batches
    from transfer_gui.core.training.batchnorm import reestimate_statistics

    model = copy.deepcopy(loaded.model)
    reestimate_statistics(model, image_batches(files, loaded.preprocessing, []),
                          torch.device("cpu"))
    return model


def tent(loaded, model, files, epochs: int = 3, lr: float = 1e-3):
    """Entropy minimisation of the batch-norm scale and shift (Wang et al. 2021), statistics
    kept as given (the aligned ones), `epochs` passes over the new images."""
    import torch

    from transfer_gui.core.recalibrate import image_batches
    from transfer_gui.core.training.batchnorm import batch_norm_layers

    model = copy.deepcopy(model).eval()
    model.requires_grad_(False)
    params = []
    for layer in batch_norm_layers(model):
        layer.weight.requires_grad_(True)
        layer.bias.requires_grad_(True)
        params += [layer.weight, layer.bias]
    optimizer = torch.optim.Adam(params, lr=lr)
    batches = list(image_batches(files, loaded.preprocessing, []))
    for _ in range(epochs):
        for x in batches:
            p = torch.softmax(model(x), 1)
            loss = -(p * torch.log(p.clamp_min(1e-12))).sum(1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval().requires_grad_(False)


def measure(name: str, folders: dict[str, Path], work: Path, args, figures) -> None:
    import numpy as np

    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.model_features import model_features
    from transfer_gui.core.model_file import LoadedModel, load_model
    from transfer_gui.core.recalibrate import accuracy, recalibrated_model
    from transfer_gui.core.run import Run
    from transfer_gui.core.shift import mmd_test, sample_rows
    from transfer_gui.core.shift_compare import compare_new_images
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    cache = FeatureCache()
    run = work / f"{name}-run"
    started = time.perf_counter()
    if not run.exists():
        train_run(TrainConfig.for_mode(str(folders["train"]), "feature_extraction"), run,
                  feature_cache=cache, allow_download=False)
    figures.add(f"{name}_train_s", time.perf_counter() - started,
                f"{name}: training (features + probe)", "s", digits=1)
    for which in ("new", "same"):
        started = time.perf_counter()
        report = compare_new_images(run, folders[which], cache=cache)
        label = "shifted" if which == "new" else "unshifted"
        figures.add(f"{name}_p_{label}", report.overall.p_value,
                    f"{name}: p-value, {label} folder vs training ({report.compared_new} vs "
                    f"{report.compared_reference} images)", digits=4,
                    target=("<", 0.01) if which == "new" else None)
        figures.add(f"{name}_compare_{label}_s", time.perf_counter() - started,
                    f"{name}: compare, {label}", "s", digits=1)
    loaded = load_model(run)
    train = [s.path for s in Run(run).dataset().split("train")]
    feats = model_features(loaded, train, cache=cache)
    x = feats.center([i for i in range(len(train)) if i not in feats.failures])
    started = time.perf_counter()
    passed = 0
    for seed in range(args.null_seeds):
        order = np.random.default_rng(seed).permutation(len(x))
        a, b = x[order[: len(x) // 2]], x[order[len(x) // 2:]]
        passed += mmd_test(a, b, seed=seed, permutations=500).p_value > 0.05
    figures.add(f"{name}_halves_not_flagged", passed / args.null_seeds,
                f"{name}: random halves of the training images not flagged (p > 0.05), "
                f"{args.null_seeds} seeds, {len(x) // 2} vs {len(x) - len(x) // 2} images",
                digits=2, target=(">=", 0.9))
    figures.add(f"{name}_halves_s", time.perf_counter() - started,
                f"{name}: those {args.null_seeds} tests", "s", digits=1)

    def score(model) -> float:
        files, names = labelled(folders["labelled"])
        as_loaded = LoadedModel(model, loaded.spec, loaded.class_names, loaded.preprocessing,
                                loaded.mode, loaded.path)
        return accuracy(as_loaded, files, [loaded.class_names.index(n) for n in names], [])

    same_files, same_names = labelled(folders["same"])
    unshifted = accuracy(loaded, same_files, [loaded.class_names.index(n) for n in same_names], [])
    shifted = score(loaded.model)
    new_files, _ = labelled(folders["new"])
    reference = [train[i] for i in sample_rows(len(train), 500, np.random.default_rng(0))]
    started = time.perf_counter()
    aligned, seen, _ = recalibrated_model(loaded, reference, new_files)
    recal_s = time.perf_counter() - started
    after = score(aligned)
    plain = score(plain_adabn(loaded, new_files))
    lost = max(unshifted - shifted, 1e-9)
    figures.add(f"{name}_acc_unshifted", unshifted, f"{name}: accuracy, unshifted images")
    figures.add(f"{name}_acc_shifted", shifted, f"{name}: accuracy, shifted images")
    figures.add(f"{name}_acc_aligned_adabn", after,
                f"{name}: accuracy, shifted, after recalibration (aligned AdaBN, {seen} "
                f"unlabelled images, {recal_s:.1f} s)")
    figures.add(f"{name}_recovered", (after - shifted) / lost,
                f"{name}: share of the lost accuracy recovered", digits=2, target=(">=", 0.5))
    figures.add(f"{name}_acc_plain_adabn", plain, f"{name}: accuracy, shifted, after plain AdaBN")
    if args.tent:
        figures.add(f"{name}_acc_tent", score(tent(loaded, aligned, new_files)),
                    f"{name}: accuracy, shifted, after aligned AdaBN + Tent (3 epochs)")


def main(argv=None) -> int:
    args = parse_args(argv)
    common.set_threads(args.threads)
    figures = common.Figures("shift")
    common.print_header("dataset shift: MMD p-values and recalibration", figures)
    with tempfile.TemporaryDirectory(prefix="bench_shift_") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.datasets:
            folders = (make_generated(work) if name == "generated"
                       else make_hymenoptera(work, args.data))
            measure(name, folders, work, args, figures)
    figures.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
