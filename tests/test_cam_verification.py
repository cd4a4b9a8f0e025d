"""Does the CAM core point at the evidence? Verification on data where the evidence is known.

A small GAP classifier is trained from scratch on synthetic 128x128 images holding one coloured
shape (its colour is the class) and a grey decoy of the same shape (see cam_synthetic.py); the
maps of `compute_cam` are then scored for localisation (pointing game), class sensitivity (two
objects), the sanity checks of Adebayo et al. 2018 (cascading model randomisation, data
randomisation) and faithfulness (deletion / insertion). Figures are printed: run with -s.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import cam_synthetic as cs
from transfer_gui.core.cam import METHODS, compute_cam

pytestmark = pytest.mark.slow

LAYER = "block4"
TOL = cs.half_cell_tolerance(cs.SIZE, cs.CamNet.FEATURE_SIZE)  # 2 px: half a 4-px feature cell
TRAIN_SEED, SHUFFLE_SEED = 0, 0
# Data randomisation: a training subset small enough for the net to memorise shuffled labels.
SHUFFLE_TRAIN_SIZE, SHUFFLE_EPOCHS = 192, 40
# Methods held to Grad-CAM's pointing threshold; EigenCAM is not class-specific: printed only.
GRADIENT_METHODS = ("gradcam", "hirescam", "gradcam++", "xgradcam", "layercam")


def report(text: str) -> None:
    print(f"[cam-verify] {text}")


def cam(model, x: torch.Tensor, targets, method: str = "gradcam", layer=LAYER,
        batch_size: int = 75) -> np.ndarray:
    """(N, H, W) maps from the real compute_cam, in batches."""
    out = []
    for i in range(0, len(x), batch_size):
        t = [int(v) for v in targets[i:i + batch_size]]
        res = compute_cam(model, x[i:i + batch_size], layer=layer, method=method, targets=t)
        assert res.maps.shape == (len(t), *x.shape[-2:]) and res.maps.dtype == np.float32
        out.append(res.maps)
    return np.concatenate(out)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: the figures then do not depend on the machine's core count, and a busy
    2-core machine does not slow training 5x with threads spinning for a core (measured here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    t0 = time.perf_counter()
    sets = dict(train=cs.make_dataset(720, seed=1), test=cs.make_dataset(150, seed=2),
                two=cs.make_two_object_dataset(100, seed=3))
    report(f"data generated in {time.perf_counter() - t0:.1f}s")
    return sets


@pytest.fixture(scope="module")
def model(data):
    t0 = time.perf_counter()
    net = cs.train_model(data["train"], seed=TRAIN_SEED)
    acc = cs.accuracy(net, data["test"])
    report(f"trained in {time.perf_counter() - t0:.1f}s; test accuracy {acc:.3f}")
    net.test_accuracy = acc
    return net


@pytest.fixture(scope="module")
def gradcam_maps(model, data):
    test = data["test"]
    return cam(model, test.tensor(), test.labels)


def test_precondition_accuracy(model):
    assert model.test_accuracy >= 0.95


def test_known_location_pointing_game(model, data, gradcam_maps):
    test = data["test"]
    x = test.tensor()
    rates = {}
    for method in METHODS:
        maps = gradcam_maps if method == "gradcam" else cam(model, x, test.labels, method)
        hit = cs.pointing_hits(maps, test.boxes, TOL).mean()
        decoy = cs.pointing_hits(maps, test.decoy_boxes, TOL).mean()
        rates[method] = (hit, decoy)
        report(f"pointing {method:10s} hit {hit:.3f}  decoy {decoy:.3f}")
    noise = cs.random_maps(len(test), cs.SIZE, seed=0)
    random_hit = cs.pointing_hits(noise, test.boxes, TOL).mean()
    report(f"pointing random maps  hit {random_hit:.3f}")

    hit, decoy = rates["gradcam"]
    assert hit >= 0.80
    assert decoy <= 0.05
    assert hit - random_hit >= 0.3
    for method in GRADIENT_METHODS:
        assert rates[method][0] >= 0.80, (method, rates[method])


def test_two_objects_map_follows_the_target_class(model, data):
    two = data["two"]
    x = two.tensor()
    own, cross = [], []
    for k in (0, 1):
        maps = cam(model, x, two.labels[:, k])
        own.append(cs.pointing_hits(maps, two.boxes[:, k], TOL))
        cross.append(cs.pointing_hits(maps, two.boxes[:, 1 - k], TOL))
    own_rate, cross_rate = np.concatenate(own).mean(), np.concatenate(cross).mean()
    report(f"two objects: map for class a on object a {own_rate:.3f}, on object b {cross_rate:.3f}")
    assert cross_rate <= 0.05


def test_cascading_model_randomisation(model, data, gradcam_maps):
    test = data["test"]
    x = test.tensor()
    medians = {}
    for step, randomised in cs.cascading_randomisations(model, LAYER):
        maps = cam(randomised, x, test.labels)
        rho = np.array([cs.spearman(a, b) for a, b in zip(gradcam_maps, maps)])
        medians[step] = float(np.median(rho))
        report(f"cascading randomisation through {step:6s}: median Spearman {medians[step]:.3f}"
               f"  (pointing hit {cs.pointing_hits(maps, test.boxes, TOL).mean():.3f})")
    # head, then block4 (the target layer): from there on the maps must have changed.
    assert medians[LAYER] < 0.5


def test_data_randomisation_shuffled_labels(data):
    """Adebayo et al.'s data randomisation test: a net that has fitted shuffled labels.

    The labels are permuted over the images, so the object's colour says nothing about them, and
    the same architecture is trained until it has memorised them (precondition: training accuracy
    on the shuffled labels >= 0.9; test accuracy against the true labels is then near chance). A
    subset of the training images keeps memorisation within seconds. Grad-CAM for the true class
    must then not point at the object. Measured, seeds 0-9 (shuffle = training seed): training
    accuracy 0.97-1.00, test accuracy 0.30-0.39, hit rate 0.11-0.27 (mean 0.20; 0.247 here).
    """
    train, test = data["train"], data["test"]
    subset = cs.subset(train, SHUFFLE_TRAIN_SIZE)
    shuffled = np.random.default_rng(SHUFFLE_SEED).permutation(subset.labels)
    t0 = time.perf_counter()
    net = cs.train_model(subset, labels=shuffled, seed=SHUFFLE_SEED, epochs=SHUFFLE_EPOCHS)
    seconds = time.perf_counter() - t0
    fit = float((cs.predict_proba(net, subset.tensor()).argmax(1).numpy() == shuffled).mean())
    test_acc = cs.accuracy(net, test)  # against the true labels
    x = test.tensor()
    hit = cs.pointing_hits(cam(net, x, test.labels), test.boxes, TOL).mean()
    predicted = cs.predict_proba(net, x).argmax(1).numpy()
    hit_predicted = cs.pointing_hits(cam(net, x, predicted), test.boxes, TOL).mean()
    report(f"shuffled labels: {len(subset)} images x {SHUFFLE_EPOCHS} epochs in {seconds:.1f}s, "
           f"training accuracy on the shuffled labels {fit:.3f}, test accuracy (true labels) "
           f"{test_acc:.3f}, pointing hit {hit:.3f} (true class), {hit_predicted:.3f} "
           f"(predicted class)")
    assert fit >= 0.9  # precondition: the random labels have been fitted
    assert test_acc <= 0.5  # and nothing about the true classes was learnt (chance: 1/3)
    assert hit < 0.3


def test_faithfulness_deletion_insertion(model, data, gradcam_maps):
    train, test = data["train"], data["test"]
    n = 60
    f = cs.deletion_insertion(model, test.tensor(slice(0, n)), test.labels[:n], gradcam_maps[:n],
                              fill=cs.mean_color(train.images), steps=16, seed=0)
    report(f"deletion AUC  gradcam {f.deletion_auc:.3f}  random {f.deletion_auc_random:.3f}")
    report(f"insertion AUC gradcam {f.insertion_auc:.3f}  random {f.insertion_auc_random:.3f}")
    assert f.deletion_auc <= f.deletion_auc_random - 0.1
    assert f.insertion_auc >= f.insertion_auc_random + 0.05


def test_gradcam_matches_reference_and_leaves_model_as_it_was(model, data):
    """The real Grad-CAM's raw map equals the textbook one; mode and hooks are restored."""
    test = data["test"]
    x, targets = test.tensor(slice(0, 16)), [int(t) for t in test.labels[:16]]
    hooks = lambda: {n: (len(m._forward_hooks), len(m._backward_hooks), len(m._forward_pre_hooks))
                     for n, m in model.named_modules()}
    grads = lambda: [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    hooks_before, grads_before = hooks(), grads()
    model.train()
    try:
        res = compute_cam(model, x, layer=LAYER, targets=targets)
        assert model.training and all(m.training for m in model.modules())
    finally:
        model.eval()
    assert hooks() == hooks_before
    for before, after in zip(grads_before, grads()):  # .grad untouched (left over from training)
        assert (before is None and after is None) or torch.equal(before, after)
    for k, v in model.state_dict().items():  # BatchNorm statistics untouched: it ran in eval mode
        assert torch.equal(v, state[k]), k
    ref = cs.reference_gradcam(model, x, model.block4, targets)
    assert res.raw.shape == (16, 32, 32)
    np.testing.assert_allclose(np.maximum(res.raw, 0), ref.raw.numpy(), rtol=1e-4, atol=1e-6)
    assert res.targets == targets
    assert res.maps.min() >= 0 and res.maps.max() <= 1
    # Same peak as the reference (its min-max scaling only shifts and stretches the map).
    np.testing.assert_array_equal(cs.peak_positions(res.maps), cs.peak_positions(ref.maps.numpy()))
