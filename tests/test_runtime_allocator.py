"""The allocator tuning also holds on worker threads (the app trains on one)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = r"""
import resource, sys, threading
if sys.argv[1] == "tuned":  # before anything starts a thread, as the app's entry points do
    from transfer_gui.core.runtime import tune_memory_allocator
    assert tune_memory_allocator()
import torch
torch.set_num_threads(1)
# A network's first layers at batch 16: activations of 13-77 MB, freed after each forward.
net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, 2, 1), torch.nn.ReLU(),
                          torch.nn.Conv2d(16, 96, 1), torch.nn.ReLU(), torch.nn.Conv2d(96, 24, 1))
x = torch.rand(16, 3, 224, 224)

def work():
    with torch.no_grad():
        net(x), net(x)  # warm up: the heap grows
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(3):
            net(x)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)

thread = threading.Thread(target=work)  # the app trains on a worker thread
thread.start()
thread.join()
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         timeout=120, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_activations_freed_on_a_worker_thread_are_reused_not_mapped_again():
    # Mapped afresh, 3 forwards touch ~240,000 new pages (measured); reused, almost none.
    untuned, tuned = _faults("plain"), _faults("tuned")
    assert untuned > 100_000  # the probe does see the cost it guards against
    assert tuned < untuned / 10, (tuned, untuned)
