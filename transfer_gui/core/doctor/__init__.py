"""The data doctor: copies and leaks, likely label errors, odd pictures, class balance.

Everything runs on cached backbone features and small thumbnails, so after the one feature
pass each check takes seconds. Nothing here changes files on disk.
"""

from .checkup import balance_notes, examine_dataset
from .report import CopyGroup, DoctorReport, LabelFinding, OddPicture, Picture

__all__ = ["examine_dataset", "balance_notes", "DoctorReport", "CopyGroup", "LabelFinding",
           "OddPicture", "Picture"]
