"""Following a run another process writes (issue 17, core/follow.py): the staging folder while
it trains, the run folder once it is in place; half-written lines and files that vanish between
two reads are "nothing new yet"; an interrupted run kept as NAME.partial ends the follow there."""

from __future__ import annotations

import json

import pytest

from transfer_gui.core.errors import UserError
from transfer_gui.core.follow import RunFollower, resolve_followed
from transfer_gui.core.run_writer import RunWriter


def test_a_run_is_followed_from_its_staging_folder_into_place(tmp_path):
    destination = tmp_path / "runs" / "r1"
    follower = RunFollower(destination)
    assert follower.poll().source is None  # not started yet
    with RunWriter(destination) as out:
        out.write_config({"epochs": 3, "mode": "fine_tuning"})
        state = follower.poll()
        assert state.source == out.path != destination and state.planned_epochs == 3
        assert resolve_followed(tmp_path / "runs") == destination  # the runs folder chosen
        assert resolve_followed(destination) == destination
        for epoch in (0, 1):
            out.append_metrics({"epoch": epoch, "val_acc": 0.5 + epoch / 10})
            assert [r["epoch"] for r in follower.poll().epochs] == list(range(epoch + 1))
        # a torn last line (a copy still arriving over the network) is left for later
        metrics = out.path / "metrics.jsonl"
        metrics.write_text(metrics.read_text() + '{"epoch": 2, "val_a')
        assert len(follower.poll().epochs) == 2 and not follower.state.ended
        out.append_metrics({"epoch": 2, "val_acc": 0.8})
        out.write_result({"best_epoch": 2, "has_model": True})
        assert not follower.poll().ended  # still in the staging folder
        out.commit()
    state = follower.poll()
    assert state.ended and state.ended_in == destination and state.result["best_epoch"] == 2
    assert [r["epoch"] for r in state.epochs] == [0, 1, 2]


def test_an_interrupted_run_kept_beside_an_older_one_ends_there(tmp_path):
    destination = tmp_path / "r"
    with RunWriter(destination) as out:  # an older run in place
        out.write_config({"epochs": 1})
        out.write_result({"has_model": True, "note": "old"})
        out.commit()
    follower = RunFollower(destination)
    with RunWriter(destination, overwrite=True) as writer:  # retrained over it, then stopped
        writer.write_config({"epochs": 5})
        writer.append_metrics({"epoch": 1, "val_acc": 0.4})
        state = follower.poll()
        assert state.source == writer.path and not state.ended  # not the old run's result
        writer.write_result({"cancelled": True, "has_model": True, "note": "new"})
        kept = writer.keep_partial()
    state = follower.poll()
    assert state.ended and state.ended_in == kept and state.result["note"] == "new"
    assert [r["epoch"] for r in state.epochs] == [1]


def test_nothing_to_follow_says_what_to_choose(tmp_path):
    with pytest.raises(UserError, match="No run is being written"):
        resolve_followed(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"epochs": 2}))
    assert RunFollower(tmp_path).poll().planned_epochs == 2  # a run folder without its result
