"""What a comparison table shows about transfer, in plain sentences (the Compare window's text).

`transfer_summary` reads finished runs (RunSummary rows) and says, per backbone, what each mode
reached and how long it took ("Feature extraction reached 91% in 40 s; from scratch 55% in
12 min"), then only the conclusions the numbers support: a difference in accuracy counts only
when it is larger than what the validation images can tell apart (two standard errors of the
difference of two accuracies measured on n images; 5 points when n is unknown).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from .compare import RunSummary
from .training.config import FEATURE_EXTRACTION, FINE_TUNING, FROM_SCRATCH, MODE_NAMES, MODES

UNKNOWN_MARGIN = 0.05


def duration_text(seconds: Optional[float]) -> str:
    """ "0.4 s", "40 s", "12 min", "1 h 05 min"."""
    if seconds is None:
        return "an unknown time"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def margin(a: RunSummary, b: RunSummary) -> float:
    """The smallest accuracy difference between two runs that their validation images can tell
    apart (two standard errors; UNKNOWN_MARGIN without the image count)."""
    n = min(a.val_images or 0, b.val_images or 0)
    if n <= 0 or a.best_val_acc is None or b.best_val_acc is None:
        return UNKNOWN_MARGIN
    variance = sum(p * (1 - p) / n for p in (a.best_val_acc, b.best_val_acc))
    return max(2 * math.sqrt(variance), 1.0 / n)


def _finished(summaries: Sequence[RunSummary]) -> list[RunSummary]:
    return [s for s in summaries if not s.cancelled and s.best_val_acc is not None
            and s.mode in MODES]


def _best_per_mode(runs: Sequence[RunSummary]) -> dict[str, RunSummary]:
    best: dict[str, RunSummary] = {}
    for s in runs:
        if s.mode not in best or (s.best_val_acc or 0) > (best[s.mode].best_val_acc or 0):
            best[s.mode] = s
    return {mode: best[mode] for mode in MODES if mode in best}


def _points(a: float, b: float) -> str:
    return f"{abs(a - b) * 100:.0f} points"


def _verdict(by_mode: dict[str, RunSummary]) -> list[str]:
    """The conclusions the numbers support, for one backbone's runs (best run per mode)."""
    out = []
    pretrained = [by_mode[m] for m in (FEATURE_EXTRACTION, FINE_TUNING) if m in by_mode]
    scratch = by_mode.get(FROM_SCRATCH)
    if pretrained and scratch is not None:
        top = max(pretrained, key=lambda s: s.best_val_acc or 0)
        gap = (top.best_val_acc or 0) - (scratch.best_val_acc or 0)
        if gap > margin(top, scratch):
            faster = (top.seconds is not None and scratch.seconds is not None
                      and top.seconds < scratch.seconds)
            out.append(f"the pretrained backbone is worth it here ({_points(gap, 0)} more"
                       f"{', in less time' if faster else ''})")
        elif -gap > margin(top, scratch):
            out.append(f"from scratch beat the pretrained backbone by {_points(gap, 0)}: these "
                       f"images may be unlike the ImageNet photos it learnt from")
        else:
            out.append("from scratch came as close as these validation images can tell, so "
                       "the pretrained weights add little accuracy here")
    fe, ft = by_mode.get(FEATURE_EXTRACTION), by_mode.get(FINE_TUNING)
    if fe is not None and ft is not None:
        gap = (ft.best_val_acc or 0) - (fe.best_val_acc or 0)
        if gap > margin(fe, ft):
            out.append(f"fine-tuning added {_points(gap, 0)} over feature extraction")
        elif -gap > margin(fe, ft):
            out.append(f"feature extraction beat fine-tuning by {_points(gap, 0)}")
        elif fe.seconds is not None and ft.seconds is not None and fe.seconds < ft.seconds:
            out.append("feature extraction did as well as fine-tuning in less time")
    return out


def _backbone_sentence(runs: Sequence[RunSummary], label: str) -> str:
    by_mode = _best_per_mode(runs)
    parts = []
    for i, (mode, s) in enumerate(by_mode.items()):
        name = MODE_NAMES[mode] if i == 0 and not label else MODE_NAMES[mode].lower()
        verb = "reached " if i == 0 else ""
        parts.append(f"{name} {verb}{s.best_val_acc:.0%} in {duration_text(s.seconds)}")
    text = (f"{label}: " if label else "") + "; ".join(parts)
    verdict = _verdict(by_mode)
    if verdict:
        text += ": " + "; ".join(verdict)
    return text + "."


def transfer_summary(summaries: Sequence[RunSummary],
                     backbone_names: Optional[dict[str, str]] = None) -> str:
    """Sentences about transfer from the finished runs (stopped runs left out): per backbone
    when there are several, then which run reached the highest accuracy. "" without a finished
    run. `backbone_names`: how to call each backbone (its display name)."""
    runs = _finished(summaries)
    if not runs:
        return ""
    names = backbone_names or {}
    backbones = list(dict.fromkeys(s.backbone for s in runs))
    several = len(backbones) > 1
    sentences = [_backbone_sentence([s for s in runs if s.backbone == b],
                                    names.get(b, b) if several else "")
                 for b in backbones]
    if several:
        sentences.append(_best_sentence(runs, names))
    return " ".join(sentences)


def _best_sentence(runs: Sequence[RunSummary], names: dict[str, str]) -> str:
    """The most accurate run; when others are as accurate as the validation images can tell,
    how many, and the fastest of them."""
    def called(s: RunSummary) -> str:
        return f"{MODE_NAMES[s.mode].lower()} of {names.get(s.backbone, s.backbone)}"

    top = max(runs, key=lambda s: s.best_val_acc or 0)
    tied = [s for s in runs if (top.best_val_acc or 0) - (s.best_val_acc or 0) <= margin(top, s)]
    if len(tied) == 1:
        return f"Highest: {called(top)} ({top.best_val_acc:.0%})."
    timed = [s for s in tied if s.seconds is not None]
    text = (f"Highest: {called(top)} ({top.best_val_acc:.0%}), but {len(tied) - 1} other "
            f"run{'s' if len(tied) > 2 else ''} came as close as the validation images can tell")
    if timed:
        fastest = min(timed, key=lambda s: s.seconds)
        text += f"; the fastest of them: {called(fastest)} ({duration_text(fastest.seconds)})"
    return text + "."


__all__ = ["transfer_summary", "duration_text", "margin"]
