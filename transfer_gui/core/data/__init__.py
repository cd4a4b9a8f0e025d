"""Dataset handling: image formats, folder scanning, stratified splits and decoded-image storage.

Qt-free. The public names are re-exported here; import them from `transfer_gui.core.data`.
"""

from __future__ import annotations

from .dataset import DatasetScan, Sample, SkippedFile
from .formats import (
    IGNORED_NAMES,
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    ImageReadError,
    load_image_array,
    open_image_rgb,
    probe_image,
)
from .scan import scan_dataset
from .splits import stratified_split
from .store import ImageStore

__all__ = [
    "IGNORED_NAMES",
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "DatasetScan",
    "ImageReadError",
    "ImageStore",
    "Sample",
    "SkippedFile",
    "load_image_array",
    "open_image_rgb",
    "probe_image",
    "scan_dataset",
    "stratified_split",
]
