"""Following a run that another process or machine is writing (a shared drive): its settings,
its epochs so far and whether it has ended, read again on each `poll()`.

A new run is written into a staging folder beside its destination and moved into place when it
has a model (core/run_writer.py), so the follower reads the staging folder while the run trains
and the destination once it is there. Whatever it reads may be half-written or vanish between
two reads (a rename, a copy still in progress on a network drive): such a read counts as
"nothing new yet", never as an error.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .errors import UserError
from .run import CONFIG, METRICS, RESULT, Run
from .run_writer import staged_run


@dataclass
class FollowedRun:
    """What a poll found.

    Attributes:
        destination: The run folder being followed.
        source: Where the files were read (the staging folder while it trains), None before the
            run has started writing.
        config: config.json once readable.
        epochs: One dict per epoch line so far (epoch 0: fine-tuning's probe).
        ended: The run is in place with its result.json (finished, stopped or failed).
        result: result.json once ended.
        ended_in: Where the ended run is: `destination`, or `NAME.partial` beside it where an
            interrupted run could not replace an older one there.
    """

    destination: Path
    source: Optional[Path] = None
    config: Optional[dict[str, Any]] = None
    epochs: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False
    result: dict[str, Any] = field(default_factory=dict)
    ended_in: Optional[Path] = None

    @property
    def planned_epochs(self) -> Optional[int]:
        value = (self.config or {}).get("epochs")
        return value if isinstance(value, int) else None


def _read_json(path: Path) -> Optional[Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None  # not there yet, half-written, or moved away meanwhile


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """The complete JSON-object lines of a JSONL file; a last line still being written (no
    newline yet, or not valid JSON) is left for the next read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    rows = []
    for line in text.split("\n")[:-1]:  # the part after the last newline may be incomplete
        try:
            row = json.loads(line) if line.strip() else None
        except (ValueError, RecursionError):
            break  # a torn line: what follows it is not trusted yet either
        if isinstance(row, dict):
            rows.append(row)
    return rows


def resolve_followed(folder: str | os.PathLike) -> Path:
    """The run folder to follow for `folder`: itself when it is (or is becoming) a run folder,
    else the run being written inside it most recently (a runs folder was chosen).

    Raises:
        UserError: Nothing is being written there and it is not a run folder.
    """
    folder = Path(os.path.abspath(folder))
    if Run.is_run_folder(folder) or staged_run(folder) is not None:
        return folder
    staging = sorted(folder.glob(".*.partial-*"), key=lambda p: p.stat().st_mtime
                     if p.exists() else 0) if folder.is_dir() else []
    if staging:
        name = staging[-1].name[1:].rsplit(".partial-", 1)[0]
        return folder / name
    raise UserError(f"No run is being written in {folder}, and it is not a run folder. Choose "
                    f"the run folder given to `train --out` (or the folder that holds it) once "
                    f"the training has started.", path=str(folder))


class RunFollower:
    """Polls one run folder (see the module docstring)."""

    def __init__(self, destination: str | os.PathLike) -> None:
        self.state = FollowedRun(Path(os.path.abspath(destination)))
        self._staging_seen = 0.0  # when a staging folder for it was first seen

    def poll(self) -> FollowedRun:
        state = self.state
        if state.ended:
            return state
        staged = staged_run(state.destination)
        result, source = None, None
        if staged is not None:  # a run being written (also over an older run in place)
            source = staged.path
            self._staging_seen = self._staging_seen or time.time()
        else:
            for place in self._finished_places():
                result = _read_json(place / RESULT)
                if isinstance(result, dict):
                    source = place
                    break
            if source is None and (state.destination / CONFIG).is_file():
                source = state.destination  # a run folder without its result (yet)
        if source is None:
            return state
        config = _read_json(source / CONFIG)
        if isinstance(config, dict):
            state.config = config
        rows = _read_lines(source / METRICS)
        if len(rows) >= len(state.epochs) or source != state.source:
            state.epochs = rows
        state.source = source
        if isinstance(result, dict):
            state.ended, state.result, state.ended_in = True, result, source
        return state

    def _finished_places(self) -> list[Path]:
        """Where the run may have ended: the destination and, once its staging folder was seen,
        a `NAME.partial*` beside it; a result older than that staging folder is an earlier
        run's (the one --overwrite would have replaced), not this one's."""
        d = self.state.destination
        if not self._staging_seen:
            return [d]
        places = [d, *d.parent.glob(f"{d.name}.partial*")]
        fresh = [p for p in places if _mtime(p / RESULT) >= self._staging_seen - 2.0]
        return sorted(fresh, key=lambda p: _mtime(p / RESULT), reverse=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("-inf")


__all__ = ["RunFollower", "FollowedRun", "resolve_followed"]
