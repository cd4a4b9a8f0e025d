"""`transfer-gui backbones`, `evaluate` and `predict`: list backbones, score and use a model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ..core.atomic import check_writable_file
from ..core.cli_progress import TextProgress
from ..core.errors import UserError
from ..core.jobs import CancelToken
from ..core.run import Run
from .common import EXIT_OK, cancel_on_ctrl_c


def cmd_backbones(args: argparse.Namespace) -> int:
    """Imports or downloads backbone weights if asked, then lists the backbones."""
    from ..core.models import all_backbones, availability, get_backbone, import_weights
    from ..core.models.registry import pretrained_weights_file

    if args.import_:
        name, file = args.import_
        dest = import_weights(get_backbone(name), file)
        print(f"Imported {file} as the weights of {name}: {dest}")
    if args.download:
        spec = get_backbone(args.download)
        bar = TextProgress()
        from ..core.jobs import Progress

        def report(done: int, total: Optional[int]) -> None:
            bar(Progress(done / total if total else None, f"{spec.display_name}: "
                         f"{done / 1e6:.1f} of {total / 1e6 if total else 0:.1f} MB", stage="download"))

        cancel = CancelToken()
        cancel_on_ctrl_c(cancel)
        path = pretrained_weights_file(spec, base_url=args.base_url, progress=report, cancel=cancel)
        bar.close()
        print(f"{spec.display_name} weights: {path}")
    rows = [(s.name, s.display_name, f"{s.num_params / 1e6:.1f}M", str(s.preprocessing.input_size),
             f"{s.imagenet_top1:.1f}%", f"{s.gflops:.2f}",
             f"{s.download_mb:.0f} MB" if s.download_mb else "-", availability(s))
            for s in all_backbones()]
    header = ("name", "display name", "params", "input", "ImageNet top-1", "GFLOPs", "download",
              "weights")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK


def _run_of(model_arg: str):
    """The run folder holding `model_arg` (a model file or a run folder), if any."""
    path = Path(model_arg)
    folder = path if path.is_dir() else path.parent
    return Run.open(folder) if Run.is_run_folder(folder) else None


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Scores a saved model on a split of a dataset (by default, the run's own).

    Raises:
        UserError: No dataset, one with other classes, or an empty split.
    """
    import numpy as np

    from ..core.atomic import atomic_write_json
    from ..core.data import scan_dataset
    from ..core.data.corrections import skipped_by_user
    from ..core.evaluation import evaluate_predictions
    from ..core.model_file import load_model
    from ..core.predict import predict_images
    from .prediction_output import (report_scan_skipped, report_unreadable,
                                    scan_skipped_images, unreadable_images)

    if args.out:
        Run.refuse_output_inside(args.out, "--out")  # before the work, not after it
        check_writable_file(args.out, "--out")
    loaded = load_model(args.model)
    run = _run_of(args.model)
    if args.data:
        data = args.data
        config = run.config() if run is not None else None
        dataset = scan_dataset(data, val_fraction=config.val_fraction if config else 0.1,
                               test_fraction=config.test_fraction if config else 0.1,
                               seed=config.split_seed if config else 0,
                               leave_out_empty_classes=bool(config and
                                                            config.leave_out_empty_classes))
    elif run is not None:
        data, dataset = str(run.data_dir()), run.dataset()
    else:
        raise UserError("Give the dataset folder with --data (the model has no run config).")
    if sorted(dataset.class_names) != sorted(loaded.class_names):
        raise UserError(f"The dataset's classes ({', '.join(dataset.class_names)}) differ from the "
                        f"model's ({', '.join(loaded.class_names)}).", path=str(data))
    split = args.split if args.split != "auto" else ("test" if dataset.split("test") else "val")
    samples = dataset.split(split)
    user_left_out = skipped_by_user(dataset.skipped)
    scan_skipped = [(item.path, item.reason) for item in dataset.unreadable_in(split)
                    if item not in user_left_out]  # never given to predict
    where = dataset.split_folders.get(split, dataset.root)
    report_scan_skipped(scan_skipped, where)
    if not samples:
        raise UserError(f"The dataset has no '{split}' images.", path=str(data))
    bar = TextProgress()
    predictions = list(predict_images(loaded, [s.path for s in samples],
                                      top_k=len(loaded.class_names), progress=bar))
    bar.close()
    ok = [(s, p) for s, p in zip(samples, predictions) if not p.error]
    if not ok:
        report_unreadable(predictions)
        raise UserError(f"None of the {len(samples)} '{split}' images could be read.",
                        path=str(data))
    index = {name: i for i, name in enumerate(loaded.class_names)}
    probs = np.array([[dict(p.top)[c] for c in loaded.class_names] for _, p in ok])
    labels = [index[dataset.class_names[s.label]] for s, _ in ok]
    scores = evaluate_predictions(labels, probs, loaded.class_names, [s.path for s, _ in ok])
    scores = {"split": split, "data_dir": str(data), **scores, **unreadable_images(predictions),
              **scan_skipped_images(scan_skipped)}
    from ..core.evaluation import describe_accuracy

    print(f"{split}: accuracy {describe_accuracy(scores)}, balanced accuracy "
          f"{scores['balanced_accuracy']:.1%}, macro-F1 {scores['macro_f1']:.3f}")
    for row in scores["per_class"]:
        print(f"  {row['class']}: precision {row['precision']:.3f}, recall {row['recall']:.3f}, "
              f"F1 {row['f1']:.3f}, support {row['support']}")
    report_unreadable(predictions)
    if args.out:
        atomic_write_json(args.out, scores)
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    """Predicts the class of images, printing a line each and optionally writing a CSV table.

    Raises:
        UserError: No image files among `args.images`.
    """
    from ..core.model_file import load_model
    from ..core.predict import collect_images, predict_images
    from .prediction_output import (prediction_line, predictions_csv, report_skipped_inputs,
                                    report_unlike_training)

    if args.csv:
        Run.refuse_output_inside(args.csv, "--csv")  # before the work, not after it
        check_writable_file(args.csv, "--csv")
    loaded = load_model(args.model)
    skipped: list[tuple[str, str]] = []
    files = collect_images(args.images, skipped)
    report_skipped_inputs(skipped)
    if not files:
        raise UserError("No image files found in: " + ", ".join(args.images))
    cancel = CancelToken()
    cancel_on_ctrl_c(cancel)
    rows = []
    for p in predict_images(loaded, files, top_k=args.top_k, cancel=cancel):
        rows.append(p)
        print(prediction_line(p))
    report_unlike_training(loaded, rows)
    if args.csv:
        from ..core.atomic import atomic_write_bytes

        atomic_write_bytes(args.csv, predictions_csv(rows, args.top_k))
        print(f"Wrote {len(rows)} rows to {args.csv}", file=sys.stderr)
    return EXIT_OK
