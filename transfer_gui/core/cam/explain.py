"""Explain a saved model's decision on image files: the call the CLI and the GUI make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from ..data import load_image_array
from ..data.formats import ImageReadError, open_image_rgb
from ..errors import UserError
from ..jobs import CancelToken, Progress, ProgressCallback, no_progress
from ..model_file import LoadedModel
from ..inputs import InputPipeline
from .compute import compute_cam, resolve_layer
from .layers import cam_target_for, reshape_for
from .methods import DEFAULT_METHOD, METHODS
from .overlay import to_original
from .trust import TrustCheck, trust_check

OVERLAY_MAX_SIDE = 2048
"""The picture an explanation is drawn on is shrunk to at most this many pixels on its longer
side: a 13000x13000 image then needs about 50 MB instead of 15 GB, and its overlay PNG stays a
few MB (bench/README.md, "CAM memory")."""

ErrorCallback = Callable[[str, str], None]  # (path, reason)


@dataclass
class Explanation:
    """One image explained.

    Attributes:
        path: The image file.
        image: The original picture, RGB uint8 (H, W, 3), EXIF orientation applied, shrunk
            to at most OVERLAY_MAX_SIDE pixels on its longer side.
        map_input: (input_size, input_size) map in [0, 1] on the network's input crop.
        map_original: (H, W) the same map placed on the original image (0 outside the crop).
        raw: (h, w) raw map at the layer's resolution.
        target: Index of the class explained; `target_name` its name.
        target_probability: The model's probability for it; `target_logit` its logit.
        predicted: Index of the predicted class; `predicted_name`, `predicted_probability`.
        no_positive_evidence: True when the map has nothing positive to show.
        method: CAM method name; layer: the layer path explained.
        trust: The deletion test of the map (core/cam/trust.py) when asked for; None when not
            asked or when the map is empty.
    """

    path: str
    image: np.ndarray
    map_input: np.ndarray
    map_original: np.ndarray
    raw: np.ndarray
    target: int
    target_name: str
    target_probability: float
    target_logit: float
    predicted: int
    predicted_name: str
    predicted_probability: float
    no_positive_evidence: bool
    method: str
    layer: str
    trust: Optional[TrustCheck] = None


def resolve_target(class_names: Sequence[str], target: int | str | None) -> Optional[int]:
    """None (the predicted class) or a class index, from None, "predicted", an index or a name."""
    if target is None or target == "predicted":
        return None
    if isinstance(target, str):
        if target in class_names:
            return list(class_names).index(target)
        if not target.strip().lstrip("-").isdigit():
            raise UserError(f"Unknown class {target!r}. The model's classes: "
                            f"{', '.join(class_names)}.")
        target = int(target)
    if isinstance(target, bool) or not 0 <= int(target) < len(class_names):
        raise UserError(f"Class index {target} is out of range: the model has "
                        f"{len(class_names)} classes (0 to {len(class_names) - 1}: "
                        f"{', '.join(class_names)}).")
    return int(target)


def _check_options(loaded: LoadedModel, method: str, layer: Optional[str]) -> str:
    if getattr(loaded, "members", None):  # core/ensemble: maps are per member
        raise UserError("An ensemble has no activation map of its own: explain each of its "
                        "members (`transfer-gui cam` writes one map per member).")
    if method not in METHODS:
        raise UserError(f"Unknown CAM method {method!r}. Choose one of: {', '.join(METHODS)}.")
    if layer is None:
        return cam_target_for(loaded.spec, loaded.model, method)[0]
    try:
        return resolve_layer(loaded.model, layer)[0]
    except ValueError as exc:
        raise UserError(str(exc)) from None


def explain_images(loaded: LoadedModel, paths: Sequence[str], *, method: str = DEFAULT_METHOD,
                   target: int | str | None = None, layer: Optional[str] = None,
                   batch_size: int = 8, progress: ProgressCallback = no_progress,
                   cancel: Optional[CancelToken] = None,
                   on_error: Optional[ErrorCallback] = None,
                   trust: bool = False) -> Iterator[Explanation]:
    """Yield an Explanation per readable image, in order, batch by batch.

    Args:
        loaded: The model (from `load_model`).
        paths: Image files.
        method: A key of METHODS.
        target: None or "predicted" (each image's predicted class), a class index or a name.
        layer: Layer path in the model; None takes the backbone's default for the method
            (`cam_target_for`).
        batch_size: Images per forward/backward pass.
        progress: Called after each batch.
        cancel: Checked before each batch (raises Cancelled).
        on_error: Called with (path, reason) for an unreadable image, which is then skipped;
            None raises a UserError instead.
        trust: Also run each map's deletion test (`trust_check`: 10 more forward passes per
            image) into Explanation.trust.

    Raises:
        UserError: Unknown method, layer or class; an unreadable image when `on_error` is None.
    """
    cancel = cancel or CancelToken()
    target_index = resolve_target(loaded.class_names, target)
    layer_path = _check_options(loaded, method, layer)
    model = loaded.model
    reshape = reshape_for(model)
    device = next(model.parameters()).device
    pipeline = InputPipeline(loaded.preprocessing)
    names = loaded.class_names
    for start in range(0, len(paths), batch_size):
        cancel.raise_if_cancelled()
        images, arrays, good = [], [], []
        for path in paths[start:start + batch_size]:
            try:
                arrays.append(load_image_array(path, loaded.preprocessing.resize_size))
                images.append(np.asarray(open_image_rgb(path, OVERLAY_MAX_SIDE),
                                         dtype=np.uint8))
                good.append(path)
            except ImageReadError as exc:
                arrays = arrays[:len(good)]
                if on_error is None:
                    raise UserError(f"{path}: {exc.reason}", path=path) from None
                on_error(path, exc.reason)
        if good:
            inputs = pipeline.eval_batch(np.stack(arrays)).to(device)
            targets = None if target_index is None else [target_index] * len(good)
            result = compute_cam(model, inputs, layer=layer_path, method=method, targets=targets,
                                 reshape=reshape)
            for i, (path, image) in enumerate(zip(good, images)):
                t, p = result.targets[i], result.predicted[i]
                yield Explanation(
                    path=path, image=image, map_input=result.maps[i],
                    map_original=to_original(result.maps[i], (image.shape[1], image.shape[0]),
                                             loaded.preprocessing),
                    raw=result.raw[i], target=t, target_name=names[t],
                    target_probability=float(result.target_probabilities[i]),
                    target_logit=float(result.target_logits[i]), predicted=p,
                    predicted_name=names[p],
                    predicted_probability=float(result.probabilities[i, p]),
                    no_positive_evidence=result.no_positive_evidence[i], method=method,
                    layer=layer_path,
                    trust=trust_check(model, inputs[i], result.maps[i], t) if trust else None)
        done = min(start + batch_size, len(paths))
        progress(Progress(done / max(len(paths), 1), f"Explained {done}/{len(paths)} images",
                          stage="cam", done=done, total=len(paths)))


def explain_image(loaded: LoadedModel, path: str, *, method: str = DEFAULT_METHOD,
                  target: int | str | None = None, layer: Optional[str] = None,
                  trust: bool = False) -> Explanation:
    """Explain one image (see `explain_images`); an unreadable file raises a UserError."""
    return next(explain_images(loaded, [path], method=method, target=target, layer=layer,
                               trust=trust))
