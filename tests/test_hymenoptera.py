"""The real dataset: feature extraction with the bundled Lite0 reaches 0.90 well inside 2 minutes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from transfer_gui.core.features import FeatureCache
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "hymenoptera_data"


@pytest.mark.slow
@pytest.mark.skipif(not DATA.is_dir(), reason="hymenoptera_data is not beside the checkout")
def test_feature_extraction_on_hymenoptera(tmp_path):
    started = time.perf_counter()
    result = train_run(TrainConfig.for_mode(str(DATA), "feature_extraction"), tmp_path / "run",
                       feature_cache=FeatureCache())
    seconds = time.perf_counter() - started
    val = result.evaluation["splits"]["val"]
    print(f"hymenoptera feature extraction: val accuracy {val['accuracy']:.3f}, {seconds:.1f} s")
    assert val["num_samples"] == 153
    assert val["accuracy"] >= 0.90
    assert seconds < 120
