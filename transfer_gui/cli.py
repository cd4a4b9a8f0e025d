"""`transfer-gui`: the headless entry point. Imports the core only, never Qt.

This module builds the command line and dispatches to the commands in `transfer_gui.cli_commands`.
Exit codes: 0 success; 2 bad input (the message names the file or folder); 130 stopped with
Ctrl-C (training keeps the best model so far); 1 unexpected error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Collection, Optional, Sequence

from .cli_commands.crossval import CV_SUMMARY, add_cv_options, cmd_cv
from .cli_commands.common import (EXIT_BAD_INPUT, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK,
                                  BackboneName, positive_int)
from .cli_commands.doctor import DOCTOR_SUMMARY, add_doctor_options, cmd_doctor
from .cli_commands.ensemble import ENSEMBLE_SUMMARY, add_ensemble_options, cmd_ensemble
from .cli_commands.models import cmd_backbones, cmd_evaluate, cmd_predict
from .cli_commands.outputs import cmd_cam, cmd_compare, cmd_export
from .cli_commands.rank import RANK_SUMMARY, add_rank_options, cmd_rank
from .cli_commands.shift import SHIFT_SUMMARY, add_shift_options, cmd_shift
from .cli_commands.train import add_option_flag, cmd_train
from .cli_commands.train_auto import add_auto_flags
from .core.errors import Cancelled, UserError

__all__ = ["EXIT_OK", "EXIT_ERROR", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "build_parser", "main"]

COMMANDS = {"train": cmd_train, "backbones": cmd_backbones, "evaluate": cmd_evaluate,
            "predict": cmd_predict, "cam": cmd_cam, "compare": cmd_compare, "export": cmd_export,
            "cv": cmd_cv, "rank": cmd_rank, "shift": cmd_shift, "doctor": cmd_doctor,
            "ensemble": cmd_ensemble}


def _add_train_options(p: argparse.ArgumentParser) -> None:
    """Adds the options of `train` to its subparser `p` (torch-free: `train --help` stays fast)."""
    from .core.training.config import FEATURE_EXTRACTION, MODES, TrainConfig
    from .core.training.options import OPTIONS

    p.add_argument("--data", help="dataset folder: one subfolder per class, optionally inside "
                   "train/ val/ test/ (with --job: this machine's copy of the job's dataset)")
    p.add_argument("--out",
                   help="run folder to create; a folder that already holds a run is refused "
                        "unless --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out, once the new run has a model (an interrupted "
                        "or failed run leaves the old one as it was)")
    p.add_argument("--backbone", default=TrainConfig.backbone, action=BackboneName,
                   metavar="NAME", help=BackboneName.HELP)
    p.add_argument("--mode", default=FEATURE_EXTRACTION, choices=MODES)
    g = p.add_argument_group("options (unset ones take the mode's defaults)")
    for option in OPTIONS:  # declared once, in core/training/options.py
        add_option_flag(g, option)
    g.add_argument("--offline", action="store_true", help="never download weights")
    j = p.add_argument_group("training on another machine")
    j.add_argument("--write-job", metavar="JOB_DIR",
                   help="instead of training, write a job folder: these settings, a manifest of "
                        "the dataset's files (SHA-256, class, split) and the command to run "
                        "elsewhere")
    j.add_argument("--job", metavar="JOB_DIR",
                   help="train a job folder's settings on its dataset (given with --data where "
                        "its path differs here), after checking the images against its manifest")
    add_auto_flags(p)


def build_parser(with_options: Optional[Collection[str]] = None) -> argparse.ArgumentParser:
    """Returns the parser of the command line.

    Args:
        with_options: The commands whose options to add (None: all); the others get their
            one-line help only. Some commands take their choices from registries that import
            torch (seconds), so `transfer-gui --help` and `train --help` build only what they show.
    """
    parser = argparse.ArgumentParser(prog="transfer-gui", description=(
        "Build an image classifier by transfer learning. Run without a command to open the app."))
    from transfer_gui import __version__

    parser.add_argument("--version", action="version", version=f"transfer-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (summary, add_options) in _COMMAND_PARSERS.items():
        command = sub.add_parser(name, help=summary)
        if with_options is None or name in with_options:
            add_options(command)
    return parser


def _add_backbones_options(b: argparse.ArgumentParser) -> None:
    b.add_argument("--download", metavar="NAME", help="download a backbone's ImageNet weights")
    b.add_argument("--import", dest="import_", nargs=2, metavar=("NAME", "FILE"),
                   help="import a downloaded weights file for backbone NAME")
    b.add_argument("--base-url", help="download from this mirror instead of the default server")


def _add_evaluate_options(e: argparse.ArgumentParser) -> None:
    e.add_argument("model", help="model.pt, or a run folder holding one")
    e.add_argument("--data", help="dataset folder (default: the run's own dataset)")
    e.add_argument("--split", default="auto", choices=("auto", "train", "val", "test"),
                   help="auto: test if the dataset has one, else val")
    e.add_argument("--out", help="write the scores to this JSON file")


def _add_predict_options(pr: argparse.ArgumentParser) -> None:
    pr.add_argument("model", help="model.pt, or a run folder holding one")
    pr.add_argument("images", nargs="+", help="image files and/or folders")
    pr.add_argument("--csv", help="write a CSV table of the predictions here")
    pr.add_argument("--top-k", type=positive_int, default=3, metavar="K",
                    help="how many of the likeliest classes to list per image (default: 3)")


def _add_export_options(x: argparse.ArgumentParser) -> None:
    x.add_argument("run_dir", help="run folder (config.json, model.pt, ...)")
    x.add_argument("--format", required=True, choices=("torchscript", "onnx", "bundle"))
    x.add_argument("--out", required=True, help="file to write (for bundle: a folder)")


def _add_compare_options(cp: argparse.ArgumentParser) -> None:
    cp.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders to compare")


def _add_cam_options(c: argparse.ArgumentParser) -> None:
    """Adds the options of `cam` to its subparser `c` (its choices import torch)."""
    from .core.cam import COLORMAPS, DEFAULT_METHOD, METHODS

    c.add_argument("model", help="model.pt, or a run folder holding one")
    c.add_argument("images", nargs="+", help="image files and/or folders")
    c.add_argument("--out", required=True, help="folder for <name>_cam.png (created if missing)")
    c.add_argument("--method", default=DEFAULT_METHOD, choices=list(METHODS))
    c.add_argument("--target-class", metavar="NAME_OR_INDEX",
                   help="explain this class instead of each image's predicted class")
    c.add_argument("--layer", metavar="PATH", help="layer to explain, e.g. backbone.layer4.1 "
                   "(default: the last feature map, or the layer measured to point best for the "
                   "method where measured)")
    c.add_argument("--raw", action="store_true",
                   help="also write <name>_cam.npy: the map at the image's resolution, in [0, 1]")
    c.add_argument("--colormap", default=COLORMAPS[0], choices=COLORMAPS)
    c.add_argument("--alpha", type=float, default=0.5, help="overlay opacity, 0 to 1")


# command -> (its line in `transfer-gui --help`, the function that adds its options)
_COMMAND_PARSERS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "train": ("train a classifier on a folder of images", _add_train_options),
    "backbones": ("list backbones and whether their weights are here", _add_backbones_options),
    "evaluate": ("score a saved model on a dataset's split", _add_evaluate_options),
    "predict": ("predict the class of images, flagging those unlike the training data",
                _add_predict_options),
    "cam": ("class activation maps: which image regions drove a prediction", _add_cam_options),
    "cv": (CV_SUMMARY, add_cv_options),
    "rank": (RANK_SUMMARY, add_rank_options),
    "ensemble": (ENSEMBLE_SUMMARY, add_ensemble_options),
    "export": ("export a run's model (TorchScript, ONNX or a bundle) and check it against the "
               "run's validation images", _add_export_options),
    "compare": ("compare run folders side by side in a table", _add_compare_options),
    "shift": (SHIFT_SUMMARY, add_shift_options),
    "doctor": (DOCTOR_SUMMARY, add_doctor_options),
}


def _command_in(argv: Sequence[str]) -> Optional[str]:
    """The command named on the command line (its first word that is not an option), if any."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs one command; without one, prints help (the launcher opens the app instead).

    Args:
        argv: The arguments after the program name (default: sys.argv[1:]).

    Returns:
        The exit code: EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED or EXIT_ERROR.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints as \udcff
        getattr(stream, "reconfigure", lambda **_: None)(errors="backslashreplace")
    try:  # Ctrl-C while the parser or torch loads: the same one line as during a command
        named = _command_in(argv)
        parser = build_parser(with_options=[named] if named else [])
        args = parser.parse_args(argv)
        from .core.runtime import tune_memory_allocator

        tune_memory_allocator()
        if args.command is None:
            parser.print_help()
            return EXIT_OK
        return COMMANDS[args.command](args)
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


if __name__ == "__main__":
    sys.exit(main())
