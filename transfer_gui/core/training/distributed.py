"""Training across the processes torchrun starts: one process group, DDP, gathered features.

`torchrun --nproc_per_node N -m transfer_gui train ...` starts N copies of the same command with
RANK / WORLD_SIZE / LOCAL_RANK set. `Distributed.from_environment()` reads them; with a world
size of 1 (a plain start) every method here is a no-op, so the engine has one code path.

How a distributed run divides the work (torch.distributed; no launcher or transport of our own):
- The batch size is the **global** batch: each optimisation step takes the same `batch_size`
  images as a one-process run, and process r trains rows r, r+N, r+2N, ... of it. Gradients are
  averaged across processes by DistributedDataParallel, each process's loss weighted by its
  share of the batch, so a step equals the one-process step over the whole batch and the
  learning rate needs no scaling: N processes give the one-process result (within floating-point
  summation order; random augmentation and dropout draw differently per process).
- Validation images are split the same way and their sums added, so every process sees the
  same metrics and takes the same decisions (best epoch, early stop, divergence).
- A cancel (Ctrl-C, SIGTERM) on any process stops all of them at the same step.
- Feature extraction (and fine-tuning's linear-probe start) splits the images across processes
  and gathers the features.
- Only rank 0 writes files (RunWriter); the others use OtherRankWriter, which writes nothing.
"""

from __future__ import annotations

import datetime
import inspect
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from torch import nn

from ..errors import UserError

# A collective that waits longer than this for another process gives up (a hung process).
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=10)


class PeerLost(UserError):
    """Another process of a distributed run stopped (it failed or was killed); the Trainer
    turns it into a stop that keeps the best model. `detail`: torch.distributed's own words."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"Another of the training processes stopped while {what}, so this one "
                         f"stopped too. torchrun's report names the process that stopped "
                         f"first and why (e.g. it ran out of memory or was killed).")
        self.what, self.detail = what, detail


@dataclass(frozen=True)
class Distributed:
    """This process's place in a distributed run (rank 0 of 1 when started plainly)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> "Distributed":
        def number(name: str, default: int) -> int:
            try:
                return int(os.environ.get(name, "") or default)
            except ValueError:
                return default

        world = number("WORLD_SIZE", 1)
        return cls(number("RANK", 0), world, number("LOCAL_RANK", 0)) if world > 1 else cls()

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's files and reports progress."""
        return self.rank == 0

    # -- set-up ---------------------------------------------------------------------------------
    def start(self, device: torch.device) -> torch.device:
        """Join the process group (NCCL on CUDA, gloo otherwise); returns this process's device
        (its own GPU by LOCAL_RANK)."""
        if not self.active:
            return device
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank % torch.cuda.device_count())
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            try:
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                        timeout=COLLECTIVE_TIMEOUT)
            except ValueError as exc:  # WORLD_SIZE set by hand, without the rest of torchrun's
                raise UserError(f"WORLD_SIZE is {self.world_size}, but this process was not "
                                f"started by torchrun ({first_line(exc)}). Start several "
                                f"processes with: torchrun --nproc_per_node N -m transfer_gui "
                                f"train ..., or unset WORLD_SIZE to train in one.") from None
        return device

    def close(self) -> None:
        if self.active:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    def describe(self, batch_size: int) -> dict[str, Any]:
        """What config.json records to reproduce the run (empty for one process)."""
        if not self.active:
            return {}
        import torch.distributed as dist

        return {"distributed": {
            "world_size": self.world_size, "global_batch_size": batch_size,
            "batch_per_process": -(-batch_size // self.world_size),
            "backend": dist.get_backend() if dist.is_initialized() else None,
            "note": "batch_size is the global batch: each step trains on batch_size images "
                    "split across the processes, so the learning rate is the one-process one"}}

    # -- the work of one process ---------------------------------------------------------------
    def shard(self, items: Sequence) -> list:
        """This process's share: items r, r+N, r+2N, ..."""
        return list(items[self.rank::self.world_size])

    def wrap(self, model: nn.Module, device: torch.device, sync_buffers: bool) -> nn.Module:
        """DistributedDataParallel around `model` (rank 0's weights are copied to all).
        `sync_buffers`: copy rank 0's batch-norm statistics at each forward (needs the same
        number of training forwards on every process, so not with micro-batches)."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        # torch 2.14 renamed broadcast_buffers (both still copy rank 0's buffers at the start).
        named = ("forward_sync_buffers" if "forward_sync_buffers"
                 in inspect.signature(DistributedDataParallel).parameters else "broadcast_buffers")
        with self.collective("setting up the model"):
            return DistributedDataParallel(model, device_ids=ids, **{named: sync_buffers})

    # -- collectives ---------------------------------------------------------------------------
    def collective(self, what: str):
        """A context in which a lost process raises PeerLost (naming `what` was under way)."""
        return _PeerErrors(what) if self.active else _Nothing()

    def sum(self, *values: float) -> list[float]:
        """Each value added up over all processes (float64)."""
        if not self.active:
            return list(values)
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64)
        with self.collective("adding up the metrics"):
            dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, value: Any) -> list[Any]:
        """Every process's `value`, in rank order (any picklable object)."""
        if not self.active:
            return [value]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        with self.collective("gathering features"):
            dist.all_gather_object(out, value)
        return out


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> bool:
        return False


class _PeerErrors:
    """Turns the error a collective raises when another process is gone into PeerLost."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and is_peer_error(exc):
            raise PeerLost(self.what, first_line(exc)) from exc
        return False


def is_peer_error(exc: BaseException) -> bool:
    """Whether `exc` is how torch.distributed reports a lost process (a closed connection, a
    collective timeout)."""
    import torch.distributed as dist

    return isinstance(exc, (dist.DistError, RuntimeError)) and not isinstance(exc, PeerLost) and (
        isinstance(exc, dist.DistError) or any(
            word in str(exc).lower() for word in ("connection", "gloo", "nccl", "timed out",
                                                   "peer", "broken pipe")))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def sharded(dist: Distributed, n: int, compute: Callable[[list[int]], list[Any]]) -> list[Any]:
    """`compute(positions)` for this process's share of range(n), gathered back into one list
    of n items in order on every process."""
    mine = dist.shard(range(n))
    if not dist.active:
        return compute(mine)
    out: list[Any] = [None] * n
    for positions, items in dist.gather((mine, compute(mine))):
        for position, item in zip(positions, items):
            out[position] = item
    return out


__all__ = ["Distributed", "PeerLost", "sharded", "is_peer_error"]
