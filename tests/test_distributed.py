"""Training across processes (torchrun, DistributedDataParallel, gloo on the CPU).

The slow tests start `python -m torch.distributed.run` (torchrun) with 2 processes on a
generated dataset, through the real `train` command (tests/ddp_cli.py adds the tiny backbone),
and compare with one process at the same global batch. Tolerance: fine-tuning's per-epoch losses and
the evaluation's numbers within 1e-5 (float summation order differs: gradients are averaged
across processes), accuracies equal; feature extraction's probe at convergence within 1e-4.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthetic import make_color_dataset, tiny_spec

from transfer_gui.cli import main
from transfer_gui.core.errors import ConfigError
from transfer_gui.core.inputs import InputPipeline
from transfer_gui.core.model_file import load_model
from transfer_gui.core.run import Run
from transfer_gui.core.run_writer import OtherRankWriter, RunWriter
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.distributed import Distributed, sharded
from transfer_gui.core.training.engine import train_run
from transfer_gui.core.training.setup import ImageBatches

HELPER = Path(__file__).parent / "ddp_cli.py"
LOSS_TOLERANCE = 1e-5
FIT_TOLERANCE = 1e-4  # feature extraction: the linear probe's losses at convergence


# -- the pieces, in one process ------------------------------------------------------------------
def _batches(rank: int, processes: int, n: int = 11, batch: int = 4) -> ImageBatches:
    images = lambda rows: np.zeros((len(rows), 36, 36, 3), np.uint8)  # noqa: E731
    pipeline = InputPipeline(tiny_spec(Path("/nonexistent.pth")).preprocessing)
    return ImageBatches(images, list(range(n)), list(range(n)), pipeline, batch, seed=3,
                        shard=(rank, processes))


def test_each_process_trains_its_rows_of_the_same_global_batches():
    whole = [targets.tolist() for _, targets in _batches(0, 1).train(epoch=2)]
    shares = [list(_batches(rank, 3).train(epoch=2)) for rank in range(3)]
    assert len(whole) == 3 and all(len(s) == len(whole) for s in shares)
    for b, rows in enumerate(whole):
        parts = [shares[rank][b] for rank in range(3)]
        real = [p[1].tolist() for p in parts if p[2] > 0]
        assert sorted(sum(real, [])) == sorted(rows)  # every row once, no other
        assert sum(p[2] for p in parts) == pytest.approx(1.0)
    # the last global batch has 3 rows for 3 processes; 11 = 4 + 4 + 3: each has one. With 2
    # rows left over for 3 processes, the third takes part with a stand-in row of weight 0.
    last = [list(_batches(rank, 3, n=10).train(epoch=0))[-1] for rank in range(3)]
    assert [p[2] for p in last] == [0.5, 0.5, 0.0] and len(last[2][1]) == 1


def test_validation_rows_are_split_between_processes():
    parts = [sum((t.tolist() for _, t in _batches(rank, 2).evaluate()), []) for rank in (0, 1)]
    assert sorted(parts[0] + parts[1]) == list(range(11)) and not set(parts[0]) & set(parts[1])


def test_one_process_is_the_plain_path(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    plain = Distributed.from_environment()
    assert not plain.active and plain.is_main and plain.sum(2.0, 3) == [2.0, 3]
    assert sharded(plain, 3, lambda positions: [p * 10 for p in positions]) == [0, 10, 20]
    assert plain.describe(32) == {}
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert Distributed.from_environment() == Distributed(3, 4, 1)
    assert Distributed.from_environment().shard(list(range(10))) == [3, 7]


def test_other_processes_write_nothing(tmp_path):
    with OtherRankWriter(tmp_path / "run") as out:
        out.write_config({"a": 1})
        out.append_metrics({"epoch": 1})
        out.write_model(lambda path: path.write_text("x"))
        out.write_result({})
        assert out.finish(has_model=True, interrupted=False) == tmp_path / "run"
    assert list(tmp_path.iterdir()) == []
    with RunWriter(tmp_path / "run") as out:  # rank 0's writer: the model goes through it
        out.write_model(lambda path: path.write_text("x"))
        assert out.model_path.read_text() == "x"


def test_what_several_processes_cannot_do_is_refused_in_plain_words(
        monkeypatch, tmp_path, color_dataset, tiny_backbone, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    config = TrainConfig.for_mode(str(color_dataset), "fine_tuning", backbone="tiny_test",
                                  warmup_epochs=1, epochs=2)
    with pytest.raises(ConfigError, match="warm-up epochs"):
        train_run(config, tmp_path / "run")
    assert main(["train", "--data", str(color_dataset), "--backbone", "tiny_test",
                 "--write-job", str(tmp_path / "job")]) == 2
    assert "start them without torchrun" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "job").exists()


# -- torchrun, 2 processes -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    data = make_color_dataset(root / "data", classes=("red", "c1", "c2", "c3", "c4", "c5"),
                              per_class=16, size=40, seed=3)
    return root, data, root / "tiny.pth"


def _train(workspace, out: str, *options: str, processes: int = 1,
           die: tuple[int, int] | None = None) -> subprocess.CompletedProcess:
    root, data, weights = workspace
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone",
                 "--nproc_per_node", str(processes)] if processes > 1 else [sys.executable])
    own = [str(weights)] + ([f"--die-rank={die[0]}", f"--die-after-epoch={die[1]}"] if die
                            else [])
    command = [*launcher, str(HELPER), *own, "--", "--data", str(data), "--backbone",
               "tiny_test", "--seed", "1", "--augmentation", "none",
               "--cache-dir", str(root / f"cache-{out}"), "--out", str(root / out), *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=240,
                          stdin=subprocess.DEVNULL)


FINE_TUNING = ("--mode", "fine_tuning", "--no-probe-start", "--lr", "0.05", "--epochs", "5",
               "--batch-size", "12")


def _epochs(run_dir: Path) -> list[dict]:
    return Run(run_dir).metrics()


def _assert_one_consistent_run(run_dir: Path, processes: int, epochs: int) -> None:
    """Only the run folder is left (no staging folder, no lock), written by one process."""
    leftovers = [p.name for p in run_dir.parent.iterdir() if p.name.startswith(f".{run_dir.name}")]
    assert leftovers == []
    config = json.loads((run_dir / "config.json").read_text())
    assert config["distributed"]["world_size"] == processes
    assert config["distributed"]["global_batch_size"] == config["batch_size"]
    assert [m["epoch"] for m in _epochs(run_dir) if m["epoch"] > 0] == list(range(1, epochs + 1))
    load_model(run_dir / "model.pt")


@pytest.mark.slow
def test_two_processes_train_the_one_process_run(workspace, tiny_backbone):
    one, two = _train(workspace, "ft1", *FINE_TUNING), _train(workspace, "ft2", *FINE_TUNING,
                                                               processes=2)
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stderr[-3000:]
    root = workspace[0]
    a, b = _epochs(root / "ft1"), _epochs(root / "ft2")
    assert len(a) == len(b) == 5
    assert a[0]["train_acc"] < 0.3 < 0.7 < a[-1]["train_acc"]  # it learnt: the test can fail
    for x, y in zip(a, b):
        for key in ("train_loss", "val_loss"):
            assert abs(x[key] - y[key]) < LOSS_TOLERANCE, (key, x, y)
        assert x["train_acc"] == pytest.approx(y["train_acc"])
        assert x["val_acc"] == pytest.approx(y["val_acc"])
    _assert_one_consistent_run(root / "ft2", processes=2, epochs=5)
    assert "Run folder:" in two.stdout and two.stdout.count("Run folder:") == 1  # rank 0 only
    _assert_close(json.loads((root / "ft2" / "evaluation.json").read_text()),
                  json.loads((root / "ft1" / "evaluation.json").read_text()))


def _assert_close(a, b, where: str = "", tolerance: float = LOSS_TOLERANCE) -> None:
    """The same JSON, numbers within `tolerance` (probabilities differ in the 7th digit)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_close(a[key], b[key], f"{where}/{key}", tolerance)
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{where}[{i}]", tolerance)
    elif isinstance(a, float):
        assert a == pytest.approx(b, abs=tolerance), where
    else:
        assert a == b, where


@pytest.mark.slow
def test_feature_extraction_shards_the_images_and_gathers_the_features(workspace):
    options = ("--mode", "feature_extraction")
    one, two = _train(workspace, "fe1", *options), _train(workspace, "fe2", *options,
                                                           processes=2)
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-3000:]
    root = workspace[0]
    a, b = _epochs(root / "fe1"), _epochs(root / "fe2")
    # The first round starts from the same features (they differ in the 7th digit: one
    # thread per process under torchrun); L-BFGS then takes its own path to the same optimum.
    assert (a[0]["train_loss"], a[0]["val_loss"]) == pytest.approx(
        (b[0]["train_loss"], b[0]["val_loss"]), abs=LOSS_TOLERANCE)
    assert (a[-1]["train_loss"], a[-1]["val_loss"]) == pytest.approx(
        (b[-1]["train_loss"], b[-1]["val_loss"]), abs=FIT_TOLERANCE)
    _assert_close(json.loads((root / "fe2" / "evaluation.json").read_text())["splits"],
                  json.loads((root / "fe1" / "evaluation.json").read_text())["splits"],
                  tolerance=1e-3)


@pytest.mark.slow
def test_from_scratch_across_processes_writes_one_run(workspace, tiny_backbone):
    result = _train(workspace, "fs2", "--mode", "from_scratch", "--epochs", "3",
                    "--batch-size", "12", processes=2)
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_one_consistent_run(workspace[0] / "fs2", processes=2, epochs=3)
    assert (workspace[0] / "fs2" / "evaluation.json").exists()


@pytest.mark.slow
def test_a_process_that_dies_stops_the_run_and_the_best_model_is_kept(workspace, tiny_backbone):
    result = _train(workspace, "died", *FINE_TUNING, processes=2, die=(1, 2))
    assert result.returncode != 0  # torchrun reports the failure
    run_dir = workspace[0] / "died"
    assert "another of the 2 training processes stopped" in result.stdout
    assert [m["epoch"] for m in _epochs(run_dir)] == [1, 2]  # what was done before it died
    summary = json.loads((run_dir / "result.json").read_text())
    assert summary["has_model"] and summary["best_epoch"] in (1, 2) and summary["cancelled"]
    assert not (run_dir / "evaluation.json").exists()
    load_model(run_dir / "model.pt")
    assert [p.name for p in run_dir.parent.iterdir() if p.name.startswith(".died")] == []
