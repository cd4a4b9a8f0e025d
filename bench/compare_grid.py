"""The Compare window's grid from the command line (issue 15, "the comparison the source material
made"): the ticked (backbone, mode) cells trained one after the other on one split through
`compare_grid_job`, then the table (with seconds per epoch and peak memory) and the sentence about
transfer the window shows. Features go to a fresh cache in the work folder, so feature
extraction's time includes computing them.

    python bench/compare_grid.py [--data DIR] [--cells lite0:feature_extraction lite0:from_scratch]
                                 [--scratch-epochs 3] [--workdir /tmp/bench_compare_grid]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _common  # noqa: F401  (repository importable, allocator tuned)

from transfer_gui.core.compare import compare_runs, format_table
from transfer_gui.core.compare_summary import transfer_summary
from transfer_gui.core.jobs.compare_modes import compare_grid_job, estimate_job, grid_configs
from transfer_gui.core.jobs.state import RecordingState
from transfer_gui.core.models import get_backbone

HYMENOPTERA = "/work/shared/datasets/hymenoptera_data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=HYMENOPTERA)
    parser.add_argument("--cells", nargs="+",
                        default=["lite0:feature_extraction", "lite0:from_scratch"],
                        help="BACKBONE:MODE, where liteN stands for efficientnet_liteN")
    parser.add_argument("--scratch-epochs", type=int, default=3)
    parser.add_argument("--workdir", default="/tmp/bench_compare_grid")
    args = parser.parse_args()
    cells = []
    for cell in args.cells:
        backbone, mode = cell.split(":")
        cells.append((backbone.replace("lite", "efficientnet_lite")
                      if backbone.startswith("lite") else backbone, mode))
    work = Path(args.workdir)
    overrides = {"feature_cache_dir": str(work / "cache")}
    own = {"from_scratch": {"epochs": args.scratch_epochs}}
    started = time.perf_counter()
    estimate = estimate_job(RecordingState(), grid_configs(args.data, cells, overrides, own))
    print(f"estimate: {[round(s) for s in estimate]} s (took "
          f"{time.perf_counter() - started:.0f} s)", flush=True)
    started = time.perf_counter()
    folders = compare_grid_job(RecordingState(), args.data, cells, work / "runs", overrides, own)
    print(f"grid: {time.perf_counter() - started:.0f} s")
    summaries = compare_runs(folders)
    print(format_table(summaries))
    print(transfer_summary(summaries, {b: get_backbone(b).display_name for b, _ in cells}))


if __name__ == "__main__":
    main()
