"""`transfer-gui`: the headless entry point. Imports the core only, never Qt.

Exit codes: 0 success; 2 bad input (the message names the file or folder); 130 stopped with
Ctrl-C (training keeps the best model so far); 1 unexpected error.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import sys
from pathlib import Path
from typing import Optional, Sequence

from .core.cli_progress import TextProgress
from .core.errors import Cancelled, UserError
from .core.jobs import CancelToken

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_train_options(p: argparse.ArgumentParser) -> None:
    from .core.models import DEFAULT_BACKBONE, backbone_names
    from .core.training.augment import AUGMENTATION_PRESETS
    from .core.training.config import DEVICES, MODES, OPTIMIZERS

    p.add_argument("--data", required=True, help="dataset folder: one subfolder per class, "
                   "optionally inside train/ val/ test/")
    p.add_argument("--out", required=True, help="run folder to write (created if missing)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE, choices=backbone_names())
    p.add_argument("--mode", default="feature_extraction", choices=MODES)
    g = p.add_argument_group("options (unset ones take the mode's defaults)")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", dest="learning_rate", type=float, help="learning rate of the head")
    g.add_argument("--backbone-lr-factor", type=float, help="fine-tuning: backbone lr = lr x this")
    g.add_argument("--unfreeze", dest="unfreeze_stages", type=int,
                   help="fine-tuning: train only the top N backbone stages (default: all)")
    g.add_argument("--warmup", dest="warmup_epochs", type=int,
                   help="fine-tuning: head-only epochs before unfreezing")
    g.add_argument("--optimizer", choices=OPTIMIZERS)
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--label-smoothing", type=float)
    g.add_argument("--augmentation", choices=AUGMENTATION_PRESETS)
    g.add_argument("--views", dest="feature_views", type=int,
                   help="feature extraction with augmentation: augmented views cached per image")
    g.add_argument("--class-weights", choices=("auto", "none"))
    g.add_argument("--patience", dest="early_stopping_patience", type=int,
                   help="early-stopping patience in epochs (0: off)")
    g.add_argument("--seed", type=int)
    g.add_argument("--split-seed", type=int)
    g.add_argument("--val-fraction", type=float)
    g.add_argument("--test-fraction", type=float)
    g.add_argument("--device", choices=DEVICES)
    g.add_argument("--no-mixed-precision", dest="mixed_precision", action="store_const",
                   const=False, help="turn off float16 autocast on CUDA")
    g.add_argument("--cache-dir", dest="feature_cache_dir",
                   help="keep backbone features here and reuse them in later runs")
    g.add_argument("--offline", action="store_true", help="never download weights")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transfer-gui", description=(
        "Build an image classifier by transfer learning. Run without a command to open the app."))
    from transfer_gui import __version__

    parser.add_argument("--version", action="version", version=f"transfer-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train_options(sub.add_parser("train", help="train a classifier on a folder of images"))

    b = sub.add_parser("backbones", help="list backbones and whether their weights are here")
    b.add_argument("--download", metavar="NAME", help="download a backbone's ImageNet weights")
    b.add_argument("--import", dest="import_", nargs=2, metavar=("NAME", "FILE"),
                   help="import a downloaded weights file for backbone NAME")
    b.add_argument("--base-url", help="download from this mirror instead of the default server")

    e = sub.add_parser("evaluate", help="score a saved model on a dataset's split")
    e.add_argument("model", help="model.pt, or a run folder holding one")
    e.add_argument("--data", help="dataset folder (default: the run's own dataset)")
    e.add_argument("--split", default="auto", choices=("auto", "train", "val", "test"),
                   help="auto: test if the dataset has one, else val")
    e.add_argument("--out", help="write the scores to this JSON file")

    pr = sub.add_parser("predict", help="predict the class of images")
    pr.add_argument("model", help="model.pt, or a run folder holding one")
    pr.add_argument("images", nargs="+", help="image files and/or folders")
    pr.add_argument("--csv", help="write a CSV table of the predictions here")
    pr.add_argument("--top-k", type=int, default=3)
    _add_cam_parser(sub)

    x = sub.add_parser("export", help="export a run's model (TorchScript, ONNX or a bundle) and "
                       "check it against the run's validation images")
    x.add_argument("run_dir", help="run folder (config.json, model.pt, ...)")
    x.add_argument("--format", required=True, choices=("torchscript", "onnx", "bundle"))
    x.add_argument("--out", required=True, help="file to write (for bundle: a folder)")

    cp = sub.add_parser("compare", help="compare run folders side by side in a table")
    cp.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders to compare")
    return parser


def _add_cam_parser(sub) -> None:
    from .core.cam import COLORMAPS, DEFAULT_METHOD, METHODS

    c = sub.add_parser("cam", help="class activation maps: which image regions drove a prediction")
    c.add_argument("model", help="model.pt, or a run folder holding one")
    c.add_argument("images", nargs="+", help="image files and/or folders")
    c.add_argument("--out", required=True, help="folder for <name>_cam.png (created if missing)")
    c.add_argument("--method", default=DEFAULT_METHOD, choices=list(METHODS))
    c.add_argument("--target-class", metavar="NAME_OR_INDEX",
                   help="explain this class instead of each image's predicted class")
    c.add_argument("--layer", metavar="PATH", help="layer to explain, e.g. backbone.layer4.1 "
                   "(default: the backbone's last feature map)")
    c.add_argument("--raw", action="store_true",
                   help="also write <name>_cam.npy: the map at the image's resolution, in [0, 1]")
    c.add_argument("--colormap", default=COLORMAPS[0], choices=COLORMAPS)
    c.add_argument("--alpha", type=float, default=0.5, help="overlay opacity, 0 to 1")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; without one, print help (the launcher opens the app instead)."""
    args = build_parser().parse_args(argv)
    from .core.runtime import tune_memory_allocator

    tune_memory_allocator()
    if args.command is None:
        build_parser().print_help()
        return EXIT_OK
    command = {"train": cmd_train, "backbones": cmd_backbones, "evaluate": cmd_evaluate,
               "predict": cmd_predict, "cam": cmd_cam, "compare": cmd_compare,
               "export": cmd_export}[args.command]
    try:
        return command(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (Cancelled, KeyboardInterrupt):
        print("\nstopped.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug or an environment problem: say so, with details to report
        import traceback

        traceback.print_exc()
        print(f"error: an unexpected problem stopped transfer-gui ({type(exc).__name__}: {exc}). "
              f"The details above help to report it.", file=sys.stderr)
        return EXIT_ERROR


def _cancel_on_ctrl_c(cancel: CancelToken) -> None:
    """First Ctrl-C asks the job to stop (keeping its best model); a second one aborts."""
    def handler(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        print("\nStopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)
        cancel.cancel()

    signal.signal(signal.SIGINT, handler)


def cmd_train(args: argparse.Namespace) -> int:
    from .core.training.config import TrainConfig
    from .core.training.engine import train_run

    names = ("epochs", "batch_size", "learning_rate", "backbone_lr_factor", "unfreeze_stages",
             "warmup_epochs", "optimizer", "weight_decay", "label_smoothing", "augmentation",
             "feature_views", "class_weights", "early_stopping_patience", "seed", "split_seed",
             "val_fraction", "test_fraction", "device", "mixed_precision", "feature_cache_dir")
    config = TrainConfig.for_mode(args.data, args.mode, backbone=args.backbone,
                                  **{n: getattr(args, n) for n in names})
    cancel = CancelToken()
    _cancel_on_ctrl_c(cancel)
    bar = TextProgress()
    result = train_run(config, args.out, progress=bar, cancel=cancel,
                       allow_download=not args.offline)
    bar.close()
    _print_summary(result)
    return EXIT_INTERRUPTED if result.cancelled else EXIT_OK


def _print_summary(result) -> None:
    d = result.dataset
    lines = [f"Run folder: {result.run_dir}", f"Device: {result.device}, {result.seconds:.1f} s"]
    if d is not None:
        counts = d.counts()
        lines.append(f"Classes ({d.num_classes}): " + ", ".join(
            f"{c} {counts[c]['train']}/{counts[c]['val']}/{counts[c]['test']}" for c in d.class_names)
            + "  (train/val/test)")
        lines += [f"Warning: {w}" for w in d.warnings]
        if d.skipped:
            lines.append(f"Skipped {len(d.skipped)} file(s); see dataset.json. First: "
                         f"{d.skipped[0].path}: {d.skipped[0].reason}")
    if result.stop_reason:
        lines.append(f"Stopped: {result.stop_reason}")
    if result.best:
        b = result.best
        lines.append(f"Best epoch {b['epoch']}/{len(result.history)}: val accuracy "
                     f"{b['val_acc']:.1%}, val loss {b['val_loss']:.3f}; saved to model.pt")
    else:
        lines.append("No epoch finished, so no model was saved.")
    if result.evaluation:
        for split, s in result.evaluation["splits"].items():
            lines.append(f"{split}: accuracy {s['accuracy']:.1%}, macro-F1 {s['macro_f1']:.3f}, "
                         f"{len(s['misclassified'])} of {s['num_samples']} misclassified")
    print("\n".join(lines))


def cmd_backbones(args: argparse.Namespace) -> int:
    from .core.models import all_backbones, availability, get_backbone, import_weights
    from .core.models.registry import pretrained_weights_file

    if args.import_:
        name, file = args.import_
        dest = import_weights(get_backbone(name), file)
        print(f"Imported {file} as the weights of {name}: {dest}")
    if args.download:
        spec = get_backbone(args.download)
        bar = TextProgress()
        from .core.jobs import Progress

        def report(done: int, total: Optional[int]) -> None:
            bar(Progress(done / total if total else None, f"{spec.display_name}: "
                         f"{done / 1e6:.1f} of {total / 1e6 if total else 0:.1f} MB", stage="download"))

        cancel = CancelToken()
        _cancel_on_ctrl_c(cancel)
        path = pretrained_weights_file(spec, base_url=args.base_url, progress=report, cancel=cancel)
        bar.close()
        print(f"{spec.display_name} weights: {path}")
    rows = [(s.name, s.display_name, f"{s.num_params / 1e6:.1f}M", str(s.preprocessing.input_size),
             f"{s.imagenet_top1:.1f}%", f"{s.gflops:.2f}", availability(s)) for s in all_backbones()]
    header = ("name", "display name", "params", "input", "ImageNet top-1", "GFLOPs", "weights")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK


def _run_config(model_arg: str) -> Optional[dict]:
    path = Path(model_arg)
    config = (path if path.is_dir() else path.parent) / "config.json"
    return json.loads(config.read_text(encoding="utf-8")) if config.is_file() else None


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from .core.atomic import atomic_write_json
    from .core.data import scan_dataset
    from .core.evaluation import evaluate_predictions
    from .core.model_file import load_model
    from .core.predict import predict_images

    loaded = load_model(args.model)
    config = _run_config(args.model) or {}
    data = args.data or config.get("data_dir")
    if not data:
        raise UserError("Give the dataset folder with --data (the model has no run config).")
    dataset = scan_dataset(data, val_fraction=config.get("val_fraction", 0.1),
                           test_fraction=config.get("test_fraction", 0.1),
                           seed=config.get("split_seed", 0))
    if sorted(dataset.class_names) != sorted(loaded.class_names):
        raise UserError(f"The dataset's classes ({', '.join(dataset.class_names)}) differ from the "
                        f"model's ({', '.join(loaded.class_names)}).", path=str(data))
    split = args.split if args.split != "auto" else ("test" if dataset.split("test") else "val")
    samples = dataset.split(split)
    if not samples:
        raise UserError(f"The dataset has no '{split}' images.", path=str(data))
    bar = TextProgress()
    predictions = list(predict_images(loaded, [s.path for s in samples],
                                      top_k=len(loaded.class_names), progress=bar))
    bar.close()
    ok = [(s, p) for s, p in zip(samples, predictions) if not p.error]
    index = {name: i for i, name in enumerate(loaded.class_names)}
    probs = np.array([[dict(p.top)[c] for c in loaded.class_names] for _, p in ok])
    labels = [index[dataset.class_names[s.label]] for s, _ in ok]
    scores = evaluate_predictions(labels, probs, loaded.class_names, [s.path for s, _ in ok])
    scores = {"split": split, "data_dir": str(data), **scores}
    print(f"{split}: accuracy {scores['accuracy']:.1%}, macro-F1 {scores['macro_f1']:.3f} "
          f"on {scores['num_samples']} images")
    for row in scores["per_class"]:
        print(f"  {row['class']}: precision {row['precision']:.3f}, recall {row['recall']:.3f}, "
              f"F1 {row['f1']:.3f}, support {row['support']}")
    if args.out:
        atomic_write_json(args.out, scores)
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from .core.model_file import load_model
    from .core.predict import collect_images, predict_images

    loaded = load_model(args.model)
    files = collect_images(args.images)
    if not files:
        raise UserError("No image files found in: " + ", ".join(args.images))
    cancel = CancelToken()
    _cancel_on_ctrl_c(cancel)
    rows = []
    for p in predict_images(loaded, files, top_k=args.top_k, cancel=cancel):
        rows.append(p)
        if p.error:
            print(f"{p.path}\tERROR: {p.error}")
        else:
            print(f"{p.path}\t{p.predicted}\t{p.probability:.3f}")
    if args.csv:
        from .core.atomic import atomic_write

        def write(f):
            import io

            text = io.StringIO()
            w = csv.writer(text)
            w.writerow(["file", "predicted", "probability",
                        *[f"top{i + 1}" for i in range(args.top_k)], "error"])
            for p in rows:
                tops = [f"{c}:{q:.4f}" for c, q in p.top] + [""] * (args.top_k - len(p.top))
                w.writerow([p.path, p.predicted, f"{p.probability:.6f}" if not p.error else "",
                            *tops[:args.top_k], p.error])
            f.write(text.getvalue().encode("utf-8"))

        atomic_write(args.csv, write)
        print(f"Wrote {len(rows)} rows to {args.csv}", file=sys.stderr)
    return EXIT_OK


def cmd_cam(args: argparse.Namespace) -> int:
    from .core.cam import explain_images, output_stems, save_explanation
    from .core.model_file import load_model
    from .core.predict import collect_images

    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha must be between 0 and 1, not {args.alpha}.")
    loaded = load_model(args.model)
    files = collect_images(args.images)
    if not files:
        raise UserError("No image files found in: " + ", ".join(args.images))
    stems = dict(zip(files, output_stems(files)))
    cancel = CancelToken()
    _cancel_on_ctrl_c(cancel)
    failed: list[str] = []

    def report_error(path: str, reason: str) -> None:
        failed.append(path)
        print(f"{path}\tERROR: {reason} (skipped)")

    done = 0
    for e in explain_images(loaded, files, method=args.method, target=args.target_class,
                            layer=args.layer, cancel=cancel, on_error=report_error):
        save_explanation(e, args.out, stems[e.path], colormap=args.colormap, alpha=args.alpha,
                         raw=args.raw)
        line = f"{e.path}\t{e.predicted_name}\t{e.predicted_probability:.3f}"
        if e.target != e.predicted:
            line += f"\ttarget {e.target_name}: {e.target_probability:.3f}"
        if e.no_positive_evidence:
            line += f"\tno positive evidence for {e.target_name}"
        print(line)
        done += 1
    if not done:
        raise UserError(f"None of the {len(files)} image(s) could be processed.")
    print(f"Wrote {done} CAM overlay(s) to {args.out}"
          + (f"; skipped {len(failed)} unreadable image(s)" if failed else ""), file=sys.stderr)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from .core.compare import compare_runs, format_table

    print(format_table(compare_runs(args.runs)))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from .core.export import export_run

    cancel = CancelToken()
    _cancel_on_ctrl_c(cancel)
    result = export_run(args.run_dir, args.format, args.out, cancel=cancel)
    check = result.check
    print(check.message)
    print(f"format: {check.format}\npath: {result.path}\nimages checked: {check.images_checked}\n"
          f"max probability difference: {check.max_prob_diff:.2e}\n"
          f"mismatches: {len(check.mismatches)}\npassed: {check.passed}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
