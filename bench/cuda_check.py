"""Check the CUDA path: each mode trains on the GPU, with and without mixed precision.

Prints, per run: device, mixed precision on/off, best val accuracy, seconds, and whether every
epoch's losses are finite. Run by hand on a machine with a GPU:

    python bench/cuda_check.py --data DIR [--epochs-ft 5]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time

import torch

from transfer_gui.core.features import FeatureCache
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run
from transfer_gui.core.training.loop import Callback


class DeviceProbe(Callback):
    """Records the device of the model's parameters and whether autocast was on, per batch."""

    def __init__(self) -> None:
        self.devices: set[str] = set()
        self.amp: set[bool] = set()

    def before_batch(self, trainer) -> None:
        self.devices.add(str(next(trainer.model.parameters()).device))
        self.amp.add(trainer.amp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs-ft", type=int, default=5)
    parser.add_argument("--epochs-scratch", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}",
          f"({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
    runs = [("feature_extraction", True, None), ("fine_tuning", True, args.epochs_ft),
            ("fine_tuning", False, args.epochs_ft), ("from_scratch", True, args.epochs_scratch)]
    figures = []
    for mode, amp, epochs in runs:
        probe = DeviceProbe()
        config = TrainConfig.for_mode(args.data, mode, device="cuda", mixed_precision=amp,
                                      epochs=epochs)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            result = train_run(config, out, callbacks=[probe], feature_cache=FeatureCache())
        seconds = time.perf_counter() - started
        finite = all(math.isfinite(m["train_loss"]) and math.isfinite(m["val_loss"])
                     for m in result.history)
        row = {"mode": mode, "mixed_precision": amp, "device": result.device,
               "param_devices": sorted(probe.devices), "autocast": sorted(probe.amp),
               "best_val_acc": result.best["val_acc"], "epochs": len(result.history),
               "seconds": round(seconds, 1), "losses_finite": finite}
        figures.append(row)
        print(f"{mode:19s} amp={amp!s:5s} device={result.device} params on {sorted(probe.devices)} "
              f"autocast={sorted(probe.amp)} best val acc {row['best_val_acc']:.3f} "
              f"epochs {row['epochs']} {seconds:.1f} s finite={finite}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
