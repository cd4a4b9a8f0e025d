"""`transfer-gui train` with the tiny test backbone, for the distributed tests (run under
torchrun, and plainly for the one-process reference).

    python tests/ddp_cli.py WEIGHTS [--die-rank R --die-after-epoch E] -- TRAIN_ARGS...

--die-rank/--die-after-epoch: that process kills itself (SIGKILL, no clean-up) after that
epoch, as a crashed process would.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import tiny_spec  # noqa: E402

from transfer_gui.cli import main  # noqa: E402
from transfer_gui.core.models import register_backbone  # noqa: E402
from transfer_gui.core.training import engine  # noqa: E402
from transfer_gui.core.training.loop import Callback  # noqa: E402


class DieAfterEpoch(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_epoch(self, trainer) -> None:
        if trainer.epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


def run(argv: list[str]) -> int:
    split = argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("weights", type=Path)
    parser.add_argument("--die-rank")
    parser.add_argument("--die-after-epoch", type=int)
    own, train_args = parser.parse_args(argv[:split]), argv[split + 1:]
    register_backbone(tiny_spec(own.weights))
    if own.die_rank is not None and os.environ.get("RANK") == own.die_rank:
        original = engine.train_run

        def train_run(*args, callbacks=(), **kwargs):
            return original(*args, callbacks=[*callbacks, DieAfterEpoch(own.die_after_epoch)],
                            **kwargs)

        engine.train_run = train_run
    return main(["train", *train_args])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
