"""`transfer-gui cam`, `export` and `compare`: what a run's model produces besides predictions."""

from __future__ import annotations

import argparse
import sys

from ..core.atomic import check_writable_file, check_writable_folder
from ..core.errors import UserError
from ..core.jobs import CancelToken
from ..core.run import Run
from .common import EXIT_OK, cancel_on_ctrl_c


def cmd_cam(args: argparse.Namespace) -> int:
    """Writes a class activation map overlay (and optionally the raw map) for each image.

    Raises:
        UserError: A bad --alpha, no image files, or none of them could be processed.
    """
    from ..core.cam import explain_images, output_stems, save_explanation
    from ..core.model_file import load_model
    from ..core.predict import collect_images
    from .prediction_output import printable, report_skipped_inputs

    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha must be between 0 and 1, not {args.alpha}.")
    Run.refuse_output_inside(args.out, "--out")  # before the work, not after it
    check_writable_folder(args.out, "--out")
    loaded = load_model(args.model)
    skipped: list[tuple[str, str]] = []
    files = collect_images(args.images, skipped)
    report_skipped_inputs(skipped)
    if not files:
        raise UserError("No image files found in: " + ", ".join(args.images))
    stems = dict(zip(files, output_stems(files)))
    cancel = CancelToken()
    cancel_on_ctrl_c(cancel)
    failed: list[str] = []

    def report_error(path: str, reason: str) -> None:
        failed.append(path)
        print(f"{printable(path)}\tERROR: {printable(reason)} (skipped)")

    done = 0
    models = getattr(loaded, "members", None) or [loaded]  # an ensemble: each member's map
    for model in models:
        member = f"_{model.spec.name}" if len(models) > 1 else ""  # <name>_<member>_cam.png
        for e in explain_images(model, files, method=args.method, target=args.target_class,
                                layer=args.layer, cancel=cancel, on_error=report_error,
                                trust=True):
            save_explanation(e, args.out, stems[e.path] + member, colormap=args.colormap,
                             alpha=args.alpha, raw=args.raw)
            line = (f"{printable(e.path)}\t{printable(e.predicted_name)}\t"
                    f"{e.predicted_probability:.3f}")
            if e.target != e.predicted:
                line += f"\ttarget {e.target_name}: {e.target_probability:.3f}"
            if e.no_positive_evidence:
                line += f"\tno positive evidence for {e.target_name}"
            if e.trust is not None:  # how much to trust the map (core/cam/trust.py)
                line += f"\t{printable(e.trust.sentence(e.target_name))}"
            print(line + (f"\tmember {model.spec.name}" if member else ""))
            done += 1
    if not done:
        raise UserError(f"None of the {len(files)} image(s) could be processed.")
    print(f"Wrote {done} CAM overlay(s) to {args.out}"
          + (f"; skipped {len(set(failed))} unreadable image(s)" if failed else ""),
          file=sys.stderr)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """Prints run folders side by side in a table."""
    from ..core.compare import compare_runs, format_table

    print(format_table(compare_runs(args.runs)))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Exports a run's model and prints the check of the exported file against the run."""
    from ..core.export import export_run

    check_out = check_writable_folder if args.format == "bundle" else check_writable_file
    check_out(args.out, "--out")  # before the work, not after it
    cancel = CancelToken()
    cancel_on_ctrl_c(cancel)
    result = export_run(args.run_dir, args.format, args.out, cancel=cancel)
    check = result.check
    print(check.message)
    print(f"format: {check.format}\npath: {result.path}\nimages checked: {check.images_checked}\n"
          f"max probability difference: {check.max_prob_diff:.2e}\n"
          f"mismatches: {len(check.mismatches)}\npassed: {check.passed}")
    return EXIT_OK
