"""Class activation maps (Grad-CAM and relatives): which parts of an image drove a prediction.

Qt-free. `compute_cam` works on network inputs; `explain_image(s)` on image files with a saved
model; `overlay` colours maps and puts them back on the original picture.
"""

from .compute import CamResult, compute_cam, eval_mode, resolve_layer, scale_maps
from .explain import Explanation, explain_image, explain_images, resolve_target
from .export import output_stems, save_explanation
from .hooks import ActivationsAndGradients
from .layers import (cam_target_for, candidate_layers, plain_layer_names, reshape_for,
                     vit_reshape)
from .methods import (CLASS_SPECIFIC, DEFAULT_METHOD, METHOD_NAMES, METHODS, CamMethod, EigenCAM,
                      GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM, get_method)
from .overlay import COLORMAPS, DEFAULT_COLORMAP, colorbar, colorize, overlay, to_original

__all__ = [
    "COLORMAPS", "CLASS_SPECIFIC", "DEFAULT_COLORMAP", "DEFAULT_METHOD", "METHOD_NAMES", "METHODS",
    "ActivationsAndGradients", "CamMethod", "CamResult", "EigenCAM", "Explanation", "GradCAM",
    "GradCAMPlusPlus", "HiResCAM", "LayerCAM", "XGradCAM", "cam_target_for", "candidate_layers",
    "colorbar", "colorize", "compute_cam", "eval_mode", "explain_image", "explain_images",
    "get_method", "output_stems", "overlay", "reshape_for", "resolve_layer", "resolve_target",
    "plain_layer_names", "save_explanation", "scale_maps", "to_original", "vit_reshape",
]
