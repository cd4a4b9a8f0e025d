"""The data doctor (issue 14) on planted defects: copies across splits, flipped labels, its time,
and the copy search on 20,000 rows.

1. copies: a copy of hymenoptera where ~40 photos get a re-encoded (JPEG q 50-70), resized
   (50-150%), cropped (<= 15% a side) and/or recoloured copy in the other split (train <-> val)
   of their class; recall = planted pairs reported as a leak; every other group is listed (and
   drawn side by side into WORKDIR/groups/) so a person can tell real duplicates from mistakes.
2. labels: 5% of train and of val moved to the other class (per seed); the share of them in the
   top 10% of the label-quality ranking, and cleanlab's flagged list (size, precision).
3. time: the whole doctor on hymenoptera, cold and with a warm on-disk feature cache, by stage.
4. scale: similar.copy_pairs on N rows: the photos, a copy of each, and new rows drawn from
   the photos' features and thumbnails; then the same with the features in tight clusters.
The planted defects are made by doctor_data.py.

    python bench/doctor.py
    python bench/doctor.py --quick          # 1 seed, 5,000 rows
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

try:
    from . import _common as common
    from .doctor_data import (KINDS, copy_each, flip_labels, fresh_copy, gaussian_like,
                              plant_copies, real_rows, side_by_side, tight_clusters)
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common
    from doctor_data import (KINDS, copy_each, flip_labels, fresh_copy, gaussian_like,
                             plant_copies, real_rows, side_by_side, tight_clusters)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=common.DEFAULT_DATA)
    p.add_argument("--backbone", default=common.DEFAULT_BACKBONE)
    p.add_argument("--workdir", default="/tmp/bench_doctor")
    p.add_argument("--copies", type=int, default=40, help="planted copies (half each way)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="label-flip seeds")
    p.add_argument("--flip", type=float, default=0.05, help="share of each split flipped")
    p.add_argument("--rows", type=int, default=20000, help="rows of the copy-search test")
    p.add_argument("--parts", nargs="+", default=["time", "copies", "labels", "scale"],
                   choices=["time", "copies", "labels", "scale"])
    p.add_argument("--quick", action="store_true", help="seed 0 only, 5,000 rows")
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args(argv)


def describe_groups(groups, planted_pairs: set[frozenset], folder: Path, figures) -> list:
    """Print groups that are not exactly one planted pair; draw each into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    others = [g for g in groups if frozenset(p.path for p in g.pictures) not in planted_pairs]
    for n, g in enumerate(others):
        paths = [p.path for p in g.pictures]
        side_by_side(paths, folder / f"group_{n:02d}.png")
        figures.info(f"  group {n:02d} ({g.problem}, weakest link {g.similarity:.3f}, "
                     f"{'same bytes' if g.exact else 'similar'}): {folder / f'group_{n:02d}.png'}")
        for p in g.pictures:
            figures.info(f"      {p.split}/{p.class_name}/{os.path.basename(p.path)}")
    return others


def doctor(root: Path, backbone: str, cache_dir: Path):
    from transfer_gui.core.data import scan_dataset
    from transfer_gui.core.doctor import examine_dataset
    from transfer_gui.core.features import FeatureCache

    cache_dir.mkdir(parents=True, exist_ok=True)
    return examine_dataset(scan_dataset(root), backbone, cache=FeatureCache(cache_dir))


def pair_signals(pairs, backbone: str, cache_dir: Path) -> list[tuple[float, float, float]]:
    """Per (original, copy, ...): feature cosine, whole-thumbnail correlation and copy_score,
    as similar.copy_pairs sees them."""
    from transfer_gui.core.doctor import crop_match, similar

    if not pairs:
        return []
    features, thumbs = real_rows([path for pair in pairs for path in pair[:2]], backbone,
                                 cache_dir)
    unit = similar._unit_rows(features)
    whole = crop_match.whole(crop_match.grids(thumbs)).reshape(len(thumbs), -1)
    return [(float(unit[i] @ unit[i + 1]), float(whole[i] @ whole[i + 1]),
             crop_match.copy_score(thumbs[i], thumbs[i + 1])) for i in range(0, len(thumbs), 2)]


def part_copies(args, figures, work: Path) -> None:
    figures.info("\n-- 1. planted copies across splits --")
    root = fresh_copy(args.data, work / "copies")
    planted = plant_copies(root, args.copies, seed=0)
    report = doctor(root, args.backbone, work / "cache")
    by_path = {p.path: g for g in report.copy_groups for p in g.pictures}
    found, missed = 0, []
    for original, copy, how in planted:
        group = by_path.get(original)
        if group is not None and group is by_path.get(copy) and group.leak:
            found += 1
        else:
            missed.append((original, copy, how))
    figures.add("planted_copies", len(planted), "planted copies (train -> val and val -> train)")
    figures.add("copy_recall", found / len(planted), "planted copies reported as a leak",
                target=(">=", 1.0))
    missed_copies = {c for _, c, _ in missed}
    for kind in KINDS:
        of_kind = [c for _, c, how in planted if how.startswith(kind + ":")]
        figures.add(f"copy_recall_{kind}",
                    1 - len(missed_copies.intersection(of_kind)) / len(of_kind),
                    f"  recall, {kind} ({len(of_kind)} copies)")
    for (original, copy, how), (alike, framed, score) in zip(
            missed, pair_signals(missed, args.backbone, work / "cache")):
        figures.info(f"  MISSED {os.path.basename(copy)} ({how}): features {alike:.3f} alike, "
                     f"whole thumbnails {framed:.3f}, crop-tolerant match {score:.3f}")
    pairs = {frozenset((o, c)) for o, c, _ in planted}
    figures.info(f"groups reported: {len(report.copy_groups)}; those that are not exactly one "
                 f"planted pair (look at the pictures):")
    others = describe_groups(report.copy_groups, pairs, work / "groups_planted", figures)
    figures.add("groups_not_planted", len(others), "groups other than a planted pair")


def part_labels(args, figures, work: Path) -> None:
    from transfer_gui.core.data import scan_dataset
    from transfer_gui.core.doctor.labels import review_labels
    from transfer_gui.core.features import FeatureCache, dataset_features
    from transfer_gui.core.models import get_backbone

    figures.info(f"\n-- 2. {args.flip:.0%} flipped labels (ants <-> bees, train and val) --")
    spec = get_backbone(args.backbone)
    cache = FeatureCache(work / "cache")
    shares = []
    for seed in args.seeds:
        root = fresh_copy(args.data, work / "labels")
        flipped = flip_labels(root, args.flip, seed)
        scan = scan_dataset(root)
        files = [s.path for s in scan.samples]
        labels = np.array([s.label for s in scan.samples])
        feats = dataset_features(spec, files, cache=cache)
        cache.save()
        review = review_labels(feats.center(range(len(files))), labels, len(scan.class_names))
        top = {files[i] for i in review.ranking()[:math.ceil(0.1 * len(files))]}
        flagged = {files[i] for i in review.flagged}
        share = len(flipped & top) / len(flipped)
        shares.append(share)
        figures.add(f"flip_seed{seed}_top10", share,
                    f"seed {seed}: flipped ({len(flipped)} of {len(files)}) in the top 10% "
                    f"({len(top)})", target=(">=", 0.8))
        figures.add(f"flip_seed{seed}_flagged", len(flagged), f"seed {seed}: cleanlab flagged")
        figures.add(f"flip_seed{seed}_precision", len(flipped & flagged) / max(1, len(flagged)),
                    f"seed {seed}: flagged that were flipped (precision)")
        figures.add(f"flip_seed{seed}_recall", len(flipped & flagged) / len(flipped),
                    f"seed {seed}: flipped that were flagged (recall)")
    figures.add("flip_top10_mean", float(np.mean(shares)), "mean share in the top 10%",
                target=(">=", 0.8))


class StageClock:
    """Wall time of each step of examine_dataset, by wrapping the functions it calls (the
    progress reports of a warm run skip stages, so they cannot time them)."""

    STEPS = {"_digests": "hash", "build_network": "load the backbone",
             "dataset_features": "features", "_thumbnails": "thumbnails",
             "_copy_groups": "copies", "likely_label_errors": "labels", "outliers": "outliers"}

    def __init__(self) -> None:
        from transfer_gui.core.doctor import checkup

        self.module, self.seconds, self.saved = checkup, {}, {}

    def __enter__(self) -> "StageClock":
        for name, step in self.STEPS.items():
            self.saved[name] = original = getattr(self.module, name)
            setattr(self.module, name, self._timed(step, original))
        return self

    def _timed(self, step, original):
        def timed(*a, **k):
            started = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - started
        return timed

    def __exit__(self, *exc) -> None:
        for name, original in self.saved.items():
            setattr(self.module, name, original)


def part_time(args, figures, work: Path) -> None:
    figures.info("\n-- 3. doctor time on hymenoptera (the unmodified photos, 398) --")
    cache_dir = work / "cache_time"
    if cache_dir.exists():
        shutil.rmtree(cache_dir)
    for name in ("cold", "warm"):
        started = time.perf_counter()
        with StageClock() as clock:
            report = doctor(Path(args.data), args.backbone, cache_dir)
        seconds = time.perf_counter() - started
        what = ("first run (features computed)" if name == "cold" else "second run, a new "
                "FeatureCache on the same folder (features and thumbnails read from disk)")
        figures.add(f"doctor_{name}_s", seconds, f"doctor, {what}", "s", digits=1)
        other = seconds - sum(clock.seconds.values())
        figures.info("  by step: " + ", ".join(f"{s} {d:.2f} s" for s, d in clock.seconds.items())
                     + f", the rest (scan, outliers' neighbours, odd pictures) {other:.2f} s")
        figures.values[f"doctor_{name}_steps"] = {s: round(d, 3) for s, d in clock.seconds.items()}
    cold = figures.values["doctor_cold_steps"]
    pictures = sum(sum(by_split.values()) for by_split in report.counts.values())
    figures.add("hash_thumbnail_ms_per_photo",
                1000 * (cold["hash"] + cold["thumbnails"]) / pictures,
                "hash + thumbnail per photo, first run", "ms", digits=1)
    figures.info(f"  found on the unmodified photos: {report.summary()}")
    describe_groups(report.copy_groups, set(), work / "groups_original", figures)
    figures.add("original_label_findings", len(report.label_findings),
                "likely label errors on the unmodified photos")


def timed_copy_pairs(features, thumbs, pairs_planted: set, figures, key: str,
                     label: str) -> set:
    """Time similar.copy_pairs, count the pairs it crop-searches; the pairs it links."""
    from transfer_gui.core.doctor import similar

    importlib.import_module("torch")  # before the clock starts: the doctor has it loaded

    searched = [0]
    match = similar.match_pairs

    def counting(grid_rows, pairs, **options):
        searched[0] += len(pairs)
        return match(grid_rows, pairs, **options)

    similar.match_pairs = counting
    try:
        started = time.perf_counter()
        found = similar.copy_pairs(features, thumbs)
        seconds = time.perf_counter() - started
    finally:
        similar.match_pairs = match
    linked = {(a, b) for a, b, _ in found}
    figures.add(f"{key}_s", seconds, f"{label}: copy_pairs on {len(features):,} rows", "s",
                digits=1, target=("<", 60.0), note=f"load average {os.getloadavg()[0]:.1f}")
    figures.add(f"{key}_crop_searched", searched[0], f"{label}: pairs given the crop search")
    figures.add(f"{key}_recall", len(linked & pairs_planted) / len(pairs_planted),
                f"{label}: planted copies found ({len(pairs_planted)})", target=(">=", 1.0))
    figures.add(f"{key}_other_pairs", len(linked - pairs_planted),
                f"{label}: other pairs called copies")
    return linked


def part_scale(args, figures, work: Path) -> None:
    from transfer_gui.core.data import scan_dataset

    figures.info(f"\n-- 4. copy search on {args.rows:,} rows --")
    originals = [s.path for s in scan_dataset(args.data).samples]
    copies = copy_each(originals, args.data, work / "scale_copies", seed=1)
    f_real, t_real = real_rows(originals + copies, args.backbone, work / "cache")
    real = len(f_real)
    crowd = args.rows - real
    if crowd < 0:
        raise SystemExit(f"--rows must be at least {real}")
    rng = np.random.default_rng(0)
    order = rng.permutation(args.rows)  # where each row lands
    features = np.concatenate([f_real, gaussian_like(f_real[:len(originals)], crowd, rng)])[
        np.argsort(order)]
    thumbs = np.concatenate([t_real, gaussian_like(t_real[:len(originals)], crowd, rng)])[
        np.argsort(order)]
    half = len(originals)
    planted = {tuple(sorted((int(order[i]), int(order[i + half])))) for i in range(half)}
    figures.info(f"rows: {half} photos, a copy of each ({', '.join(KINDS)} in turn; JPEG q "
                 f"50-70), {crowd:,} new rows drawn from the photos' feature and thumbnail "
                 f"distributions")
    base = [(i, i + half) for i in range(half)]
    alone = timed_copy_pairs(f_real, t_real, set(base), figures, "scale_photos_only",
                             "(0) the photos and their copies alone")
    for k, kind in enumerate(KINDS):
        of_kind = base[k::len(KINDS)]
        figures.add(f"scale_photos_only_recall_{kind}", len(alone.intersection(of_kind))
                    / len(of_kind), f"  recall, {kind} ({len(of_kind)} copies)")
    timed_copy_pairs(features, thumbs, planted, figures, "scale_realistic", "(a) realistic")
    shared = np.stack([order[:half], order[half:2 * half]], axis=1)  # (original, copy) rows
    clustered = tight_clusters(features, shared, rng, spread=0.25)
    unit = clustered / np.linalg.norm(clustered, axis=1, keepdims=True)
    sample = rng.choice(len(unit), 2000, replace=False)
    cosines = unit[sample] @ unit.T
    figures.info(f"(b): the features of a row's 10 nearest rows are "
                 f"{np.median(np.sort(cosines, axis=1)[:, -11:-1]):.3f} alike (median), "
                 f"of any two rows {np.median(cosines):.3f}")
    timed_copy_pairs(clustered, thumbs, planted, figures, "scale_worst",
                     "(b) features in 20 tight clusters")
    per_photo = figures.values.get("hash_thumbnail_ms_per_photo")
    if per_photo is not None:  # measured in part 3 of this run
        figures.add("scale_hash_thumbnails_estimate_s", per_photo * args.rows / 1000,
                    f"hash + thumbnails of {args.rows:,} hymenoptera-sized photos, "
                    f"estimated from part 3's {per_photo:.1f} ms per photo", "s", digits=1)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.quick:
        args.seeds, args.rows = args.seeds[:1], min(args.rows, 5000)
    common.set_threads(args.threads)
    figures = common.Figures("doctor")
    common.print_header("data doctor: planted copies, flipped labels, time, copy search", figures)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    parts = {"copies": part_copies, "labels": part_labels, "time": part_time,
             "scale": part_scale}
    for name in args.parts:
        parts[name](args, figures, work)
    return figures.finish()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
