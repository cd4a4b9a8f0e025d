"""Where the CAM panel saves an overlay: never inside the run's dataset (the next scan would
take the heatmap for a training image), by default in the visible outputs folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from transfer_gui.core.output_folder import default_output_folder, is_inside
from transfer_gui.core.errors import UserError
from transfer_gui.core.run import Run

OVERLAYS_FOLDER = "CAM overlays"  # under the outputs folder


def dataset_of_model(model_path: str | Path) -> Optional[Path]:
    """The dataset folder the run that saved `model_path` (its run folder's model.pt) trained
    on, from the run's config.json; None when that cannot be read."""
    try:
        return Run.open(Path(model_path).parent).data_dir()
    except (UserError, OSError):
        return None


def default_overlay_path(image_path: str | Path) -> Path:
    """"<outputs folder>/CAM overlays/<image name>_cam.png"."""
    return default_output_folder() / OVERLAYS_FOLDER / f"{Path(image_path).stem}_cam.png"


def destination_problem(path: str | Path, dataset: Optional[Path]) -> str:
    """Why the overlay must not be saved at `path` ("" when it may)."""
    if dataset is not None and is_inside(Path(path).parent, dataset):
        return (f"{Path(path).parent} is inside the dataset folder {dataset}. A picture saved "
                "there would be read as a training image the next time the dataset is scanned. "
                "Choose a folder outside the dataset.")
    return ""


def ask_overlay_path(parent: QWidget, image_path: str, dataset: Optional[Path]) -> Optional[str]:
    """Ask where to save the overlay of `image_path`: the outputs folder is proposed, and a
    folder inside `dataset` is refused with the reason (the dialog opens again); None when
    the user cancels."""
    default = default_overlay_path(image_path)
    try:
        default.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # the dialog then opens where it can, and the user picks a folder
    title = parent.tr("Save overlay")
    while True:
        path, _ = QFileDialog.getSaveFileName(parent, title, str(default),
                                              parent.tr("PNG image (*.png)"))
        if not path:
            return None
        problem = destination_problem(path, dataset)
        if not problem:
            return path
        QMessageBox.warning(parent, title, problem)
