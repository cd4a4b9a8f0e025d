"""The Predict page's rows in words and in CSV: flags, top-k text, CSV rows (Qt-free).

The predictions come from `transfer_gui.core.jobs.predict.predict_job`; the CSV helpers write the
same columns as `transfer-gui predict --csv` (core/predict.py owns them), plus the page's
"uncertain" column.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Iterable

from transfer_gui.core.atomic import atomic_write
from transfer_gui.core.jobs.predict import TOP_K
from transfer_gui.core.predict import Prediction, csv_fields, csv_header

# The CLI's --csv columns, then the page's own: "uncertain" is "yes" below the page's confidence
# threshold, "no" above it, "" for an unreadable image.
CLI_COLUMNS = csv_header(TOP_K)
CSV_COLUMNS = [*CLI_COLUMNS, "uncertain"]


def flag_for(prediction: Prediction, threshold: float) -> str:
    """Classifies a prediction against a confidence threshold.

    Args:
        prediction: One row's prediction.
        threshold: Top-class probabilities below this are uncertain.

    Returns:
        "error" for an unreadable image, "unlike" for one not like any training class (whatever
        its confidence), "uncertain" below the threshold, else "".
    """
    if prediction.error:
        return "error"
    if prediction.unlike_training:
        return "unlike"
    return "uncertain" if prediction.probability < threshold else ""


def score_text(p: Prediction) -> str:
    """The "unlike the training data" score as the table shows it ("" without one)."""
    return "" if p.unlike_score is None else f"{p.unlike_score:.2f}"


def percent(q: float) -> str:
    """A probability as a whole percentage; "<1%" for a small but non-zero one."""
    return "<1%" if 0 < q < 0.005 else f"{q:.0%}"


def top_text(p: Prediction) -> str:
    """The most likely classes, each followed by its probability in brackets: "ゼロ (97%) ·
    1 (2%) · 2 (<1%)", so a number or a name in any script never runs into its percentage."""
    return " · ".join(f"{name} ({percent(q)})" for name, q in p.top)


def csv_row(p: Prediction, threshold: float, top_k: int = TOP_K) -> list[str]:
    """Returns one CSV row: the CLI's columns, then "uncertain" against `threshold`."""
    uncertain = "" if p.error else ("yes" if p.probability < threshold else "no")
    return [*csv_fields(p, top_k), uncertain]


def write_predictions_csv(path: str | os.PathLike, predictions: Iterable[Prediction],
                          threshold: float) -> Path:
    """Writes `predictions` as CSV (the CLI's --csv columns plus "uncertain"), atomically.

    Args:
        path: The file to write.
        predictions: The rows, in order.
        threshold: Top-class probabilities below this are marked uncertain.

    Returns:
        The path written.
    """
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    for p in predictions:
        writer.writerow(csv_row(p, threshold))
    data = text.getvalue().encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))
