"""What `predict` and `evaluate` print and write: one line per image whatever its name, a CSV that
keeps every name, and the images or folders that could not be read."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the commands import this lazily; keep torch out of the import
    from ..core.model_file import LoadedModel
    from ..core.predict import Prediction

SHOWN_UNREADABLE = 5
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def printable(text: str) -> str:
    """`text` on one line: newline, tab and other control characters as escapes (\\n, \\t,
    \\x07) and each byte of a name that is not valid UTF-8 as \\xNN, so a file name can never
    split a tab-separated line."""
    out = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a raw byte kept by the file system decoding
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def prediction_line(prediction: Prediction) -> str:
    """One tab-separated line: file, class, probability, "unlike the training data" score and
    flag (both empty for a model saved without the check; the flag empty when not flagged), or
    the file and the error."""
    from ..core.predict import unlike_fields

    if prediction.error:
        return f"{printable(prediction.path)}\tERROR: {printable(prediction.error)}"
    score, flag = unlike_fields(prediction)
    return (f"{printable(prediction.path)}\t{printable(prediction.predicted)}\t"
            f"{prediction.probability:.3f}\t{score}\t{flag}")


def predictions_csv(rows: Sequence[Prediction], top_k: int) -> bytes:
    """The CSV table of `rows` as bytes: UTF-8, with names that are not valid UTF-8 kept as
    their original bytes (surrogateescape), and names with newlines quoted by the csv module."""
    from ..core.predict import csv_fields, csv_header

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(csv_header(top_k))
    for p in rows:
        writer.writerow(csv_fields(p, top_k))
    return text.getvalue().encode("utf-8", errors="surrogateescape")


def report_unlike_training(loaded: LoadedModel, rows: Sequence[Prediction]) -> None:
    """Say (on stderr) how many images were "not like any training class", or that the model
    was saved without that check."""
    from ..core.ood import FLAG_WORDS, ood_block

    if ood_block(loaded) is None:
        print(f"{printable(loaded.path)} was saved without the \"unlike the training data\" "
              f"check (an older model): its score and flag columns are empty. Train again to "
              f"get them.", file=sys.stderr)
        return
    scored = [p for p in rows if p.unlike_score is not None]
    flagged = sum(bool(p.unlike_training) for p in scored)
    if scored:
        print(f"{flagged} of {len(scored)} image(s) {FLAG_WORDS} (unlike-the-training-data score "
              f"above 1.00; 1.00 is where the 5% least typical validation images begin).",
              file=sys.stderr)


def report_skipped_inputs(skipped: Sequence[tuple[str, str]]) -> None:
    """Say (on stderr) which folders or entries were not searched for images, and why."""
    for path, reason in skipped:
        print(f"Skipped {printable(path)}: {printable(reason)}", file=sys.stderr)


def unreadable_images(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """JSON fields naming the images that could not be read: count and every file's reason."""
    failed = [p for p in predictions if p.error]
    return {"num_unreadable": len(failed),
            "unreadable": [{"file": p.path, "reason": p.error} for p in failed]}


def report_unreadable(predictions: Sequence[Prediction]) -> None:
    """Print how many images could not be read (left out of the scores), and the first few."""
    failed = [p for p in predictions if p.error]
    if not failed:
        return
    print(f"Left out {len(failed)} of {len(predictions)} image(s) that could not be read:")
    for p in failed[:SHOWN_UNREADABLE]:
        print(f"  {printable(p.path)}: {printable(p.error)}")
    if len(failed) > SHOWN_UNREADABLE:
        print(f"  ... and {len(failed) - SHOWN_UNREADABLE} more (all are listed in --out's JSON)")


def scan_skipped_images(skipped: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """JSON fields naming the image files the dataset scan left out (never scored)."""
    return {"num_skipped_by_scan": len(skipped),
            "skipped_by_scan": [{"file": path, "reason": reason} for path, reason in skipped]}


def report_scan_skipped(skipped: Sequence[tuple[str, str]], where: str) -> None:
    """Print how many image files of `where` the dataset scan left out (unreadable, or a link
    it does not follow), and the first few with the reason."""
    if not skipped:
        return
    print(f"The scan of {printable(where)} left out {len(skipped)} image file(s), not scored:")
    for path, reason in skipped[:SHOWN_UNREADABLE]:
        print(f"  {printable(path)}: {printable(reason)}")
    if len(skipped) > SHOWN_UNREADABLE:
        print(f"  ... and {len(skipped) - SHOWN_UNREADABLE} more (all are listed in --out's JSON)")
