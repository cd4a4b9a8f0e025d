"""`transfer-gui train`: train a classifier on a folder of images and summarise the run."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..core.cli_progress import TextProgress
from ..core.jobs import CancelToken
from .common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, cancel_on_ctrl_c


def add_option_flag(parser, option, **overrides: Any) -> None:
    """Adds `option`'s flag (core/training/options.py) to `parser`; unset, it is None (the mode's
    default). `overrides`: argparse settings that differ for this command (e.g. a default)."""
    settings: dict[str, Any] = dict(dest=option.name, help=option.help)
    if option.kind == "flag":
        settings.update(action="store_const", const=option.flag_value)
    elif option.kind == "choice":
        settings.update(choices=option.choices)
    else:
        settings.update(metavar=option.metavar, type={"int": int, "float": float}.get(option.kind))
    if option.range is not None:  # the allowed numbers, as TrainConfig.validated() checks them
        text, allowed = option.help, option.range.describe()
        settings["help"] = (f"{text[:-1]}; {allowed})" if text.endswith(")")
                            else f"{text} ({allowed})")
    settings.update(overrides)
    parser.add_argument(option.flag, **{k: v for k, v in settings.items() if v is not None})


def cmd_train(args: argparse.Namespace) -> int:
    """Trains a run and prints its summary (Ctrl-C stops it, keeping the best model: exit 130);
    with --write-job writes a job folder instead, with --job trains one."""
    from ..core.errors import ConfigError
    from ..core.training.config import TrainConfig
    from ..core.training.distributed import Distributed
    from ..core.training.engine import train_run
    from ..core.training.options import OPTIONS

    dist = Distributed.from_environment()  # torchrun --nproc_per_node N: N copies of this
    if dist.active and (args.write_job or getattr(args, "auto", False)):
        raise ConfigError("--write-job and --auto run in one process: start them without "
                          "torchrun (then train the job, or the settings found, with torchrun).")
    if args.job and args.write_job:
        raise ConfigError("Give --job (train a job) or --write-job (write one), not both.")
    if not args.job and not args.data:
        raise ConfigError("Give the dataset folder with --data (or a job folder with --job).")
    if not args.write_job and not args.out:
        raise ConfigError("Give the run folder to create with --out.")
    if args.write_job and getattr(args, "auto", False):
        raise ConfigError("--auto searches settings by training here; a job trains elsewhere. "
                          "Leave out --auto, or search here first and write the job with the "
                          "settings it chose.")
    cancel = CancelToken()
    cancel_on_ctrl_c(cancel)
    if not dist.is_main:  # rank 0 speaks for the run; the others print only their errors
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
    bar = TextProgress(stream=None if dist.is_main else sys.stdout)
    scan, notes = None, None
    if args.job:
        config, scan, notes = _job_to_train(args, bar, cancel)
    else:
        config = TrainConfig.for_mode(args.data, args.mode, backbone=args.backbone,
                                      **{o.name: getattr(args, o.name) for o in OPTIONS})
    if args.write_job:
        return _write_job(args, config, bar, cancel)
    if getattr(args, "auto", False):  # search the settings first (cli_commands/train_auto.py)
        from ..core.run import AUTO_SETTINGS
        from ..core.training.engine import scan_for
        from .train_auto import search_settings

        scan = scan_for(config, bar, cancel)
        found = search_settings(args, config, scan, cancel, bar)
        if found.cancelled:
            print("The search was stopped, so nothing was trained.")
            return EXIT_INTERRUPTED
        config, notes = found.config, {AUTO_SETTINGS: found.to_dict()}
    result = train_run(config, args.out, progress=bar, cancel=cancel, dataset=scan,
                       allow_download=not args.offline, overwrite=args.overwrite,
                       config_notes=notes)
    if not dist.is_main:
        return EXIT_INTERRUPTED if result.cancelled else EXIT_OK
    bar.close()
    _print_summary(result)
    if result.cancelled and Path(result.run_dir).resolve() != Path(args.out).resolve():
        print(f"The run was interrupted, so it was kept as {result.run_dir}; {args.out} was "
              f"left as it was.")
    if result.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.has_model else EXIT_ERROR  # e.g. the loss diverged in epoch 1


def _job_to_train(args: argparse.Namespace, bar, cancel):
    """The job's settings and the dataset here, checked against its manifest."""
    from ..core.errors import ConfigError
    from ..core.job import check_dataset, job_config, read_job
    from ..core.training.engine import scan_for
    from .train_auto import given_options

    given = given_options(args)
    if given or getattr(args, "auto", False):
        raise ConfigError("A job's settings are fixed where it was made: leave out "
                          + ", ".join(given or ["--auto"]) + " (or write a new job).")
    job = read_job(args.job)
    config = job_config(job, args.data)
    print(f"Job {job.folder}: {config.mode}, {config.backbone}, {len(job.files)} images in "
          f"{config.data_dir}; checking them against the job's manifest.")
    scan = scan_for(config, bar, cancel)
    check_dataset(job, scan, bar, cancel)
    bar.close()
    return config, scan, {"job": {"folder": str(job.folder), "images": len(job.files)}}


def _write_job(args: argparse.Namespace, config, bar, cancel) -> int:
    from ..core.job import write_job
    from ..core.training.engine import scan_for

    job = write_job(args.write_job, config, scan_for(config, bar, cancel), bar, cancel)
    bar.close()
    print(f"Wrote the job {job.folder} ({len(job.files)} images). On the machine that trains, "
          f"with a copy of the dataset:")
    print(f"  {job.command(args.out or 'RUN_DIR', 'DATASET_FOLDER')}")
    print("or with one process per GPU:")
    print(f"  {job.command(args.out or 'RUN_DIR', 'DATASET_FOLDER', processes='GPUS')}")
    print("(--data can be left out where the dataset has the same path there.)")
    return EXIT_OK


def _print_summary(result) -> None:
    """Prints what a training run did: dataset, stop reason, best epoch and the scores."""
    from ..core.evaluation import describe_accuracy

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
        epochs = sum(1 for h in result.history if h["epoch"] > 0)
        which = " (the linear probe, before fine-tuning)" if b["epoch"] == 0 else ""
        lines.append(f"Best epoch {b['epoch']}/{epochs}{which}: val accuracy "
                     f"{b['val_acc']:.1%}, val loss {b['val_loss']:.3f}; saved to model.pt")
    else:
        lines.append("No epoch finished, so no model was saved.")
    if result.note:
        lines.append(result.note)
    if result.evaluation:
        for split, s in result.evaluation["splits"].items():
            lines.append(f"{split}: accuracy {describe_accuracy(s)}, balanced accuracy "
                         f"{s['balanced_accuracy']:.1%}, macro-F1 {s['macro_f1']:.3f}")
    print("\n".join(lines))
