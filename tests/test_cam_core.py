"""CAM core: agreement with pytorch-grad-cam (test-only oracle), the classic-CAM identity,
invariants every method must keep, ViT support, and the overlay helpers."""

from __future__ import annotations

import contextlib
import gc
import os

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from synthetic import TinyNet
from transfer_gui.core.cam import (CLASS_SPECIFIC, COLORMAPS, DEFAULT_METHOD, METHODS,
                                   ActivationsAndGradients, cam_target_for, candidate_layers,
                                   colorbar, colorize, compute_cam, overlay, to_original,
                                   vit_reshape)
from transfer_gui.core.data import load_image_array
from transfer_gui.core.models import TransferModel, get_backbone, make_model
from transfer_gui.core.models.spec import Preprocessing
from transfer_gui.core.inputs import InputPipeline

GRADIENT_METHODS = ["gradcam", "hirescam", "gradcam++", "xgradcam", "layercam"]
ORACLE_LAYERS = {"resnet18": "layer4.1", "mobilenet_v2": "features.18",
                 "efficientnet_b0": "features.8"}  # layer4[-1], features[-1], features[-1]


def relative(maps: np.ndarray) -> np.ndarray:
    """Each map divided by its largest |value| (so maps equal up to scale compare equal)."""
    peak = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    return maps / np.where(peak > 0, peak, 1)[:, None, None]


def tiny_model(classes: int = 3, seed: int = 0) -> TransferModel:
    torch.manual_seed(seed)
    return TransferModel(TinyNet(), 16, classes)


def no_hooks_left(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._backward_hooks and not m._forward_pre_hooks
               for m in model.modules())


@pytest.fixture(scope="module")
def torchvision_models():
    """Random-weight torchvision classifiers, seeded, in eval mode (built once)."""
    out = {}
    for i, name in enumerate(ORACLE_LAYERS):
        torch.manual_seed(i)
        out[name] = getattr(torchvision.models, name)(weights=None).eval()
    return out


@pytest.fixture(scope="module")
def oracle_inputs():
    return torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))


def library_raw(method: str, model: nn.Module, layer: nn.Module, x: torch.Tensor,
                targets: list[int]) -> np.ndarray:
    """pytorch-grad-cam's own per-layer map, captured before its ReLU, resize and scaling."""
    from pytorch_grad_cam import (EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM,
                                  XGradCAM)
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    library = {"gradcam": GradCAM, "hirescam": HiResCAM, "gradcam++": GradCAMPlusPlus,
               "xgradcam": XGradCAM, "layercam": LayerCAM, "eigencam": EigenCAM}[method]

    class Capture(library):
        def get_cam_image(self, *args, **kwargs):
            cam = super().get_cam_image(*args, **kwargs)
            self.raw = np.array(cam, dtype=np.float32)
            return cam

    with Capture(model, [layer]) as cam, _one_blas_thread():
        cam(x, [ClassifierOutputTarget(t) for t in targets])
        return cam.raw


def _one_blas_thread():
    """The library's EigenCAM runs a full-matrices numpy SVD (a 1280x1280 V^T); two OpenBLAS
    threads on a busy 2-core machine make it 20x slower than one."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (grad-cam)
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# ------------------------------------------------------------------------------------------
# Oracles


@pytest.mark.parametrize("arch", list(ORACLE_LAYERS))
@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_raw_maps_agree_with_pytorch_grad_cam(arch, method, torchvision_models, oracle_inputs):
    model, path = torchvision_models[arch], ORACLE_LAYERS[arch]
    ours = compute_cam(model, oracle_inputs, layer=path, method=method, targets=[3, 7]).raw
    ref = library_raw(method, model, model.get_submodule(path), oracle_inputs, [3, 7])
    assert ours.shape == ref.shape == (2, 7, 7)
    diff = np.abs(relative(ours) - relative(ref)).max()
    assert diff <= 1e-4, f"{arch} {method}: max |difference| {diff:.2e}"


@pytest.mark.parametrize("arch", list(ORACLE_LAYERS))
def test_eigencam_agrees_with_pytorch_grad_cam_up_to_the_svd_sign(arch, torchvision_models,
                                                                  oracle_inputs):
    model, path = torchvision_models[arch], ORACLE_LAYERS[arch]
    ours = relative(compute_cam(model, oracle_inputs, layer=path, method="eigencam").raw)
    ref = relative(library_raw("eigencam", model, model.get_submodule(path), oracle_inputs, [3, 7]))
    for a, b in zip(ours, ref):
        assert min(np.abs(a - b).max(), np.abs(a + b).max()) <= 1e-4


@pytest.mark.parametrize("model_kind", ["tiny", "resnet18"])
def test_gradcam_on_gap_linear_head_is_the_classic_cam(model_kind, torchvision_models):
    """With global average pooling then a linear layer, Grad-CAM's channel weights are the
    head's weights / (h*w): the map is the classic CAM (Zhou et al. 2016) up to scale."""
    if model_kind == "tiny":
        model, layer, size = tiny_model(classes=4).eval(), "backbone.block2", 32
        weight = model.head[1].weight
    else:
        model, layer, size = torchvision_models["resnet18"], "layer4.1", 96
        weight = model.fc.weight
    x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(2))
    targets = [0, 2, 3]
    result = compute_cam(model, x, layer=layer, targets=targets)
    with torch.no_grad(), ActivationsAndGradients(model.get_submodule(layer)) as hooks:
        model(x)
        acts = hooks.activations
        classic = torch.einsum("bc,bchw->bhw", weight[targets], acts).numpy()
    assert np.abs(relative(result.raw) - relative(classic)).max() <= 1e-5


# ------------------------------------------------------------------------------------------
# Invariants


def test_method_registry():
    assert list(METHODS) == ["gradcam", "hirescam", "gradcam++", "xgradcam", "layercam",
                             "eigencam"]
    assert DEFAULT_METHOD == "gradcam"
    assert CLASS_SPECIFIC == {**{m: True for m in GRADIENT_METHODS}, "eigencam": False}


@pytest.mark.parametrize("method", list(METHODS))
def test_maps_have_input_shape_range_and_no_nan(method):
    model = tiny_model()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    r = compute_cam(model, x, layer="backbone.block2", method=method)
    assert r.maps.shape == (4, 32, 32) and r.maps.dtype == np.float32
    assert r.raw.shape == (4, 8, 8) and r.raw.dtype == np.float32
    assert np.isfinite(r.maps).all() and r.maps.min() >= 0 and r.maps.max() <= 1
    for m, empty in zip(r.maps, r.no_positive_evidence):
        assert (m.max() == 0) if empty else m.max() == pytest.approx(1.0)
    with torch.no_grad():
        logits = model.eval()(x)
    assert r.predicted == logits.argmax(1).tolist() == r.targets
    assert np.allclose(r.target_logits, logits.max(1).values.numpy(), atol=1e-5)
    assert np.allclose(r.target_probabilities, logits.softmax(1).max(1).values.numpy(), atol=1e-6)


@pytest.mark.parametrize("method", list(METHODS))
def test_a_map_is_the_same_alone_or_in_a_batch(method, torchvision_models):
    model = torchvision_models["resnet18"]
    x = torch.randn(3, 3, 128, 128, generator=torch.Generator().manual_seed(4))
    targets = [1, 5, 9]
    batch = compute_cam(model, x, layer="layer4.1", method=method, targets=targets)
    for i in range(3):
        alone = compute_cam(model, x[i:i + 1], layer="layer4.1", method=method,
                            targets=targets[i:i + 1])
        np.testing.assert_allclose(alone.maps[0], batch.maps[i], atol=1e-5)


@pytest.mark.parametrize("method", list(METHODS))
def test_modes_hooks_and_grads_are_left_as_they_were(method):
    model = tiny_model()
    model.train()
    model.backbone.block1.eval()  # a mix, as fine-tuning with frozen batch-norm leaves it
    model.head[1].eval()
    before = {name: m.training for name, m in model.named_modules()}
    marker = torch.full_like(model.head[1].weight, 7.0)
    model.head[1].weight.grad = marker.clone()
    x = torch.randn(2, 3, 32, 32)
    r = compute_cam(model, x, layer=model.backbone.block2, method=method)
    assert {name: m.training for name, m in model.named_modules()} == before
    assert no_hooks_left(model)
    assert torch.equal(model.head[1].weight.grad, marker)
    assert all(p.grad is None for n, p in model.named_parameters() if n != "head.1.weight")
    with torch.no_grad():  # dropout was off during the computation (eval mode)
        eval_logits = model.eval()(x)
    assert np.allclose(r.target_logits, eval_logits.max(1).values.numpy(), atol=1e-5)


@pytest.mark.parametrize("method", list(METHODS))
def test_hooks_are_removed_and_modes_restored_after_an_error(method):
    model = tiny_model().train()
    with pytest.raises(ValueError, match="out of range"):
        compute_cam(model, torch.randn(2, 3, 32, 32), layer="backbone.block2", method=method,
                    targets=[0, 3])
    assert no_hooks_left(model) and all(m.training for m in model.modules())


@pytest.mark.parametrize("method", list(METHODS))
def test_frozen_backbone_no_grad_and_inference_mode_give_the_same_map(method):
    model = tiny_model()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    reference = compute_cam(model, x, layer="backbone.block2", method=method).maps
    with torch.no_grad():
        np.testing.assert_allclose(
            compute_cam(model, x, layer="backbone.block2", method=method).maps, reference,
            atol=1e-6)
    with torch.inference_mode():
        frozen_input = x.clone()
        np.testing.assert_allclose(
            compute_cam(model, frozen_input, layer="backbone.block2", method=method).maps,
            reference, atol=1e-6)
    model.requires_grad_(False)  # feature extraction: the whole model frozen
    np.testing.assert_allclose(
        compute_cam(model, x, layer="backbone.block2", method=method).maps, reference, atol=1e-6)
    assert all(not p.requires_grad and p.grad is None for p in model.parameters())


def test_bad_arguments_raise_value_errors_that_list_the_choices():
    model, x = tiny_model(), torch.randn(2, 3, 32, 32)
    with pytest.raises(ValueError, match="2 images"):
        compute_cam(model, x, layer="backbone.block2", targets=[0])
    for bad in ([0, 3], [-1, 0], [0, 1.5]):
        with pytest.raises(ValueError, match="out of range"):
            compute_cam(model, x, layer="backbone.block2", targets=bad)
    with pytest.raises(ValueError, match="gradcam, hirescam, gradcam\\+\\+"):
        compute_cam(model, x, layer="backbone.block2", method="scorecam")
    with pytest.raises(ValueError, match="backbone.block2"):
        compute_cam(model, x, layer="backbone.block9")
    with pytest.raises(ValueError, match="not a submodule"):
        compute_cam(model, x, layer=nn.ReLU())
    with pytest.raises(ValueError, match="reshape"):  # pooled features are not a feature map
        compute_cam(model, x, layer="backbone")
    assert no_hooks_left(model)


class _TwiceNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.unused = nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 1)
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.conv(self.conv(x)).mean(dim=(2, 3)))


def test_a_layer_must_run_exactly_once():
    model, x = _TwiceNet(), torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="ran 2 times"):
        compute_cam(model, x, layer="conv")
    with pytest.raises(ValueError, match="ran 0 times"):
        compute_cam(model, x, layer="unused")
    assert no_hooks_left(model)


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
def test_hundred_calls_keep_memory_bounded_and_leave_no_hooks(torchvision_models):
    model = torchvision_models["resnet18"]
    x = torch.randn(2, 3, 96, 96)
    for _ in range(10):  # warm-up: allocator pools, lazy init
        compute_cam(model, x, layer="layer4.1")
    gc.collect()
    start = _rss_bytes()
    for i in range(100):
        compute_cam(model, x, layer="layer4.1", method=list(METHODS)[i % len(METHODS)])
    gc.collect()
    grown = _rss_bytes() - start
    # One call's autograd graph is ~10 MB here: keeping each would grow by ~1 GB.
    assert grown < 60e6, f"RSS grew by {grown / 1e6:.0f} MB over 100 calls"
    assert no_hooks_left(model)


class _PatchNet(nn.Module):
    """Features = the input itself (C=8 channels), then global pooling and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Identity()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


@pytest.mark.parametrize("seed", range(6))
def test_eigencam_points_at_the_strongly_activated_object(seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 8, 12, 12, generator=gen) * 0.3
    x[0, :, 2:6, 3:8] += 3 + torch.rand(8, 4, 5, generator=gen)  # the object: all channels high
    x[1, :, 7:11, 6:10] += 3 + torch.rand(8, 4, 4, generator=gen)
    r = compute_cam(_PatchNet(), x, layer="features", method="eigencam")
    for raw, (rows, cols) in zip(r.raw, [(slice(2, 6), slice(3, 8)), (slice(7, 11), slice(6, 10))]):
        peak = np.unravel_index(np.argmax(raw), raw.shape)
        assert rows.start <= peak[0] < rows.stop and cols.start <= peak[1] < cols.stop
        inside = np.zeros_like(raw, dtype=bool)
        inside[rows, cols] = True
        assert raw[inside].min() > raw[~inside].max()


# ------------------------------------------------------------------------------------------
# Layers: defaults, candidates, ViT


def test_default_layer_and_candidates_for_resnet18():
    spec = get_backbone("resnet18")
    model = make_model(spec, 3, pretrained=False).eval()
    assert cam_target_for(spec, model) == ("backbone.layer4.1", None)
    layers = candidate_layers(model, spec)
    assert layers[0] == "backbone.layer4.1"
    assert layers[1:] == ["backbone.bn1", "backbone.layer1", "backbone.layer2", "backbone.layer3"]
    x = torch.randn(1, 3, 64, 64)
    for path in layers:
        assert compute_cam(model, x, layer=path).maps.shape == (1, 64, 64)


def test_tiny_backbone_candidates(tiny_backbone):
    model = make_model(tiny_backbone, 2, pretrained=False)
    assert candidate_layers(model, tiny_backbone) == ["backbone.block2", "backbone.block1"]


def test_vit_reshape_drops_the_class_token():
    tokens = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
    grid = vit_reshape(2)(tokens)
    assert grid.shape == (2, 3, 2, 2)
    assert torch.equal(grid[1, :, 0, 1], tokens[1, 2])  # token 1 + (0 * 2 + 1) = 2
    with pytest.raises(ValueError, match="tokens"):
        vit_reshape(3)(tokens)


def test_vit_b16_default_layer_gives_a_map_and_the_block_output_gets_no_gradient():
    spec = get_backbone("vit_b_16")
    torch.manual_seed(0)
    model = make_model(spec, 3, pretrained=False).eval()
    layer, reshape = cam_target_for(spec, model)
    assert layer == "backbone.encoder.layers.encoder_layer_11.ln_1"
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(6))
    r = compute_cam(model, x, layer=layer, reshape=reshape)
    assert r.raw.shape == (1, 14, 14) and np.abs(r.raw).max() > 0
    assert r.maps.shape == (1, 224, 224)
    # The last block's output reaches the head only through the class token.
    block = compute_cam(model, x, layer="backbone.encoder.layers.encoder_layer_11",
                        reshape=reshape)
    assert np.abs(block.raw).max() == 0 and block.no_positive_evidence == [True]
    assert block.maps.max() == 0
    layers = candidate_layers(model, spec)
    assert layers[0] == layer and "backbone.conv_proj" in layers
    assert not any(p.startswith("backbone.encoder.layers.encoder_layer_11") for p in layers[1:])
    assert "backbone.encoder.ln" not in layers


# ------------------------------------------------------------------------------------------
# Overlay


def test_colorize_shapes_and_endpoints():
    ramp = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    for name in COLORMAPS:
        out = colorize(ramp, name)
        assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    jet = colorize(np.array([[0.0, 1.0, np.nan, 2.0]]), "jet")[0]
    assert tuple(jet[0]) == (0, 0, 128) and tuple(jet[1]) == (128, 0, 0)  # dark blue, dark red
    assert tuple(jet[2]) == (0, 0, 128) and tuple(jet[3]) == (128, 0, 0)  # NaN -> 0, clipped
    with pytest.raises(ValueError, match="viridis"):
        colorize(ramp, "rainbow")


@pytest.mark.parametrize("name, tolerance", [("viridis", 6), ("inferno", 8), ("turbo", 40)])
def test_colormaps_are_close_to_matplotlib(name, tolerance):
    matplotlib = pytest.importorskip("matplotlib")
    ref = np.rint(matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255)
    ours = colorize(np.linspace(0, 1, 256)[None], name)[0].astype(float)
    assert np.abs(ours - ref).max() <= tolerance and np.abs(ours - ref).mean() <= 7


def test_colorbar_and_overlay():
    bar = colorbar("jet", 200, 16)
    assert bar.shape == (200, 16, 3) and tuple(bar[0, 0]) == (128, 0, 0)  # 1 at the top
    assert colorbar("viridis", 10, 50).shape == (10, 50, 3)
    image = np.full((5, 6, 3), 100, np.uint8)
    heat = np.ones((5, 6), np.float32)
    assert np.array_equal(overlay(image, heat, alpha=0.0), image)
    assert np.array_equal(overlay(image, heat, alpha=1.0, colormap="jet"), colorize(heat, "jet"))
    mixed = overlay(image, heat, alpha=0.5)
    assert mixed.dtype == np.uint8 and tuple(mixed[0, 0]) == (114, 50, 50)
    with pytest.raises(ValueError):
        overlay(image, np.ones((4, 6)))


@pytest.mark.parametrize("size", [(300, 200), (200, 300), (256, 256), (41, 97)])
def test_to_original_puts_a_box_back_where_it_was(tmp_path, size):
    """A box drawn on the original is found in the network input; a map equal to 1 on that box
    maps back onto the box in the original, and nothing lands outside the crop."""
    width, height = size
    pre = Preprocessing(224, 256, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    box = (int(width * 0.4), int(height * 0.35), int(width * 0.7), int(height * 0.6))  # l t r b
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[box[1]:box[3], box[0]:box[2]] = 255
    path = tmp_path / "original.png"
    Image.fromarray(pixels).save(path)
    crop = InputPipeline(pre).eval_batch(load_image_array(str(path), pre.resize_size)[None])[0]
    map_input = (crop[0] > 0).numpy().astype(np.float32)  # white is +1 after normalisation
    assert map_input.any()
    back = to_original(map_input, (width, height), pre)
    assert back.shape == (height, width) and back.dtype == np.float32
    found = np.argwhere(back >= 0.5)
    (top, left), (bottom, right) = found.min(axis=0), found.max(axis=0) + 1
    assert abs(left - box[0]) <= 2 and abs(top - box[1]) <= 2
    assert abs(right - box[2]) <= 2 and abs(bottom - box[3]) <= 2
    # Outside the crop: a map of ones comes back as 1 inside the crop and 0 outside it.
    ones = to_original(np.ones((224, 224), np.float32), (width, height), pre)
    scale = pre.resize_size / min(width, height)
    kept_w, kept_h = (min(224 / scale, width), min(224 / scale, height))
    assert abs(float((ones > 0.5).sum(axis=1).max()) - kept_w) <= 2
    assert abs(float((ones > 0.5).sum(axis=0).max()) - kept_h) <= 2
    assert set(np.unique(ones)) <= {0.0, 1.0}
