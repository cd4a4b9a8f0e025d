""""Unlike the training data" (issue 14): flag rates, the cost of fitting it, model.pt sizes.

Trains Lite0 on hymenoptera with a third split (hymenoptera's val halved by file order: half
calibrates the threshold as validation images, half is never seen), then predicts:
- new in-domain images (the unseen half): the share flagged should be near 5% (target <= 10%);
- other families: generated shapes on textured noise (tests/synthetic.py), line drawings and
  random noise (tests/ood_images.py): the share flagged (target >= 90%).
Also reports the time training spent fitting the detector (for fine-tuning: the pass of the final
network over the training and validation images, which the evaluation then reuses) and model.pt
with and without the blocks.

    python bench/unlike_training.py [--modes feature_extraction fine_tuning] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common

sys.path.insert(0, str(common.REPO_ROOT / "tests"))  # the generated-image makers live there


def three_splits(data: Path, root: Path) -> Path:
    """`root` with train = data/train and data/val split in two (val, test), as symlinks."""
    for cls in sorted(p.name for p in (data / "train").iterdir() if p.is_dir()):
        for split, files in (("train", sorted((data / "train" / cls).iterdir())),
                             ("val", sorted((data / "val" / cls).iterdir())[0::2]),
                             ("test", sorted((data / "val" / cls).iterdir())[1::2])):
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for f in files:
                os.symlink(f, folder / f.name)
    return root


def families(root: Path, n: int) -> dict[str, list[str]]:
    from ood_images import make_drawings, make_noise
    from synthetic import make_shapes_dataset

    shapes = make_shapes_dataset(root / "shapes", train_per_class=n // 3, test_per_class=0)
    return {"shapes": sorted(map(str, shapes.rglob("*.png"))),
            "drawings": make_drawings(root / "drawings", n), "noise": make_noise(root / "noise", n)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=common.DEFAULT_DATA)
    parser.add_argument("--modes", nargs="+", default=["feature_extraction", "fine_tuning"])
    parser.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs")
    parser.add_argument("--images", type=int, default=60, help="images per other family")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from transfer_gui.core import ood
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.model_file import load_model
    from transfer_gui.core.predict import collect_images, predict_images
    from transfer_gui.core.training import engine
    from transfer_gui.core.training.config import TrainConfig

    figures = common.Figures("unlike_training")
    common.print_header("Unlike the training data", figures)
    tmp = Path(tempfile.mkdtemp(prefix="unlike_"))
    data = three_splits(Path(args.data), tmp / "data")
    others = families(tmp / "others", args.images)
    fitting, blocks = [], []
    original, original_blocks = engine._Run.add_unlike_training, engine.training_blocks

    def timed(self, model, plan):
        started = time.perf_counter()
        original(self, model, plan)
        fitting.append(time.perf_counter() - started)

    def timed_blocks(*args, **kwargs):
        started = time.perf_counter()
        out = original_blocks(*args, **kwargs)
        blocks.append(time.perf_counter() - started)
        return out

    engine._Run.add_unlike_training, engine.training_blocks = timed, timed_blocks
    cache = FeatureCache()
    for mode in args.modes:
        out = tmp / mode
        started = time.perf_counter()
        config = TrainConfig.for_mode(str(data), mode, **(
            {"epochs": args.epochs} if mode == "fine_tuning" else {}))
        engine.train_run(config, out, feature_cache=cache, allow_download=False)
        total = time.perf_counter() - started
        figures.add(f"{mode}_train_s", total, f"{mode}: training took", "s", digits=1)
        figures.add(f"{mode}_unlike_s", fitting[-1], f"{mode}: of which adding the detector "
                    f"(features of train + val, fit, save)", "s", digits=2)
        figures.add(f"{mode}_fit_s", blocks[-1], f"{mode}: of which the fit (6 covariance fits "
                    f"for the out-of-fold threshold)", "s", digits=2)
        loaded = load_model(out)
        detector = ood.ood_block(loaded)
        figures.info(f"{mode}: threshold {detector.threshold:.3f}, {detector.calibrated_on}, "
                     f"{len(detector.components)} covariance components")
        size = os.path.getsize(out / "model.pt")
        raw = torch.load(out / "model.pt", weights_only=True)
        bare = {k: v for k, v in raw.items() if k not in (ood.OOD_KEY, ood.REFERENCE_KEY)}
        torch.save(bare, tmp / "bare.pt")
        figures.add(f"{mode}_model_mb", size / 1e6, f"{mode}: model.pt with the blocks", "MB")
        figures.add(f"{mode}_bare_mb", os.path.getsize(tmp / "bare.pt") / 1e6,
                    f"{mode}: model.pt without them", "MB")
        sets = {"new in-domain": collect_images([str(data / "test")]), **others}
        for name, files in sets.items():
            started = time.perf_counter()
            scores = np.array([p.unlike_score for p in predict_images(loaded, files)])
            target = ("<=", 0.10) if name == "new in-domain" else (">=", 0.90)
            figures.add(f"{mode}_{name.replace(' ', '_')}_flagged", float(np.mean(scores > 1)),
                        f"{mode}: {name} ({len(files)} images) flagged", target=target,
                        note=f"median score {np.median(scores):.2f}, "
                             f"{len(files) / (time.perf_counter() - started):.1f} images/s")
    figures.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
