"""Fine-tuning on 2 CPU cores: peak memory and how fast Stop answers.

1. Peak RSS (ru_maxrss of a child process) of one Lite0 fine-tuning epoch on hymenoptera at
   batch 32, with the CPU micro-batch of the engine (plans.CPU_MICRO_BATCH) and, for comparison,
   with whole batches (the code before micro-batching). Target <= 2 GB.
2. Stop latency: fine-tuning runs in a thread; at random moments during training the token is
   cancelled, and the time until train_run returns (the best model saved, no evaluation) is
   measured. Target < 2 s, every sample.

    python bench/fine_tuning_stop_memory.py
    python bench/fine_tuning_stop_memory.py --samples 3 --micro-batches 8 0
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=common.DEFAULT_DATA)
    p.add_argument("--backbone", default=common.DEFAULT_BACKBONE)
    p.add_argument("--micro-batches", nargs="+", type=int, default=[8, 0],
                   help="CPU micro-batch sizes to measure memory with (0: whole batches)")
    p.add_argument("--samples", type=int, default=5, help="Stop latency samples")
    p.add_argument("--child", nargs=2, metavar=("MICRO", "OUT"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _config(args, **kw):
    from transfer_gui.core.training.config import TrainConfig

    return TrainConfig.for_mode(args.data, "fine_tuning", backbone=args.backbone, **kw)


def child(args) -> None:
    """One fine-tuning epoch with plans.CPU_MICRO_BATCH set to MICRO (0: None)."""
    from transfer_gui.core.training import plans
    from transfer_gui.core.training.engine import train_run

    micro, out = int(args.child[0]), args.child[1]
    plans.CPU_MICRO_BATCH = micro or None
    started = time.perf_counter()
    train_run(_config(args, epochs=1, early_stopping_patience=0), out, allow_download=False)
    print(f"seconds {time.perf_counter() - started:.1f}")


def stop_latency(args, figures: common.Figures) -> None:
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.jobs import CancelToken
    from transfer_gui.core.training.engine import train_run
    from transfer_gui.core.training.loop import Callback

    class Started(Callback):
        def __init__(self):
            self.event = threading.Event()

        def before_batch(self, trainer):
            if trainer.epoch >= 0:
                self.event.set()

    cache, rng, latencies = FeatureCache(), random.Random(0), []
    for k in range(args.samples):
        token, started = CancelToken(), Started()
        with tempfile.TemporaryDirectory() as tmp:
            done = {}
            thread = threading.Thread(target=lambda: done.setdefault("r", train_run(
                _config(args, epochs=3), Path(tmp) / "run", callbacks=[started], cancel=token,
                feature_cache=cache, allow_download=False)))
            thread.start()
            started.event.wait()
            time.sleep(rng.uniform(0.5, 6.0))
            t0 = time.perf_counter()
            token.cancel()
            thread.join()
            latencies.append(time.perf_counter() - t0)
            figures.info(f"  sample {k + 1}: Stop answered in {latencies[-1]:.2f} s "
                         f"(cancelled={done['r'].cancelled}, model kept={done['r'].has_model})")
    if not latencies:
        return
    figures.add("stop_latency_max_s", round(max(latencies), 2), "Stop latency, worst sample", "s",
                target=("<", 2.0))
    figures.add("stop_latency_median_s", round(sorted(latencies)[len(latencies) // 2], 2),
                "Stop latency, median", "s")


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.child:
        child(args)
        return {}
    figures = common.Figures("fine_tuning_stop_memory")
    common.print_header("fine-tuning: peak memory and Stop latency", figures)
    for micro in args.micro_batches:
        with tempfile.TemporaryDirectory() as tmp:
            run = common.run_measured([sys.executable, __file__, "--data", args.data,
                                       "--backbone", args.backbone, "--child", str(micro),
                                       str(Path(tmp) / "run")], echo_prefix=None)
        label = f"micro-batch {micro}" if micro else "whole batches of 32"
        figures.add(f"peak_rss_mb_micro_{micro}", common.mb(run.ru_maxrss_bytes),
                    f"peak RSS, one fine-tuning epoch, {label}", "MB",
                    target=("<=", 2000) if micro else None,
                    note=" ".join(run.lines[-1:]))
    stop_latency(args, figures)
    return figures.finish()


if __name__ == "__main__":
    main()
