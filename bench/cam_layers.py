"""Which CAM layer points at the evidence, per backbone and method (issue 16)?

A known-location set (tests/cam_synthetic.py at 160 px): a textured noise background, one
coloured square or disc whose colour is the class (3 classes) and a grey decoy of the same shape
elsewhere; object sides drawn from 20 to 48 px. The pretrained backbone is fine-tuned on it with
a short AdamW loop over every weight, batch norm kept in inference mode (running statistics as
pretrained), until the test set is classified (accuracy printed). Then, for every class-specific
method and every candidate layer (`candidate_layers`, the picker's list):

- pointing: the share of test images whose map peak lies on the coloured object, +-8 px;
  `decoy`: the share whose peak lies on the decoy;
- deletion / insertion AUC (cam_synthetic.deletion_insertion: pixels replaced by the mean
  colour in the map's order; lower deletion and higher insertion are better), on the first
  `--faith-images` test images, with the random-order figures once per backbone;
- trust: the share of those images where the trust note (core/cam/trust.py) says the map beats
  a random area.

With --from-scratch the backbone starts from random weights and batch norm trains at momentum
0.1 (the app's "from scratch"), for backbones whose pretrained weights are not on this machine.

With --app-input the pictures go through the app's own input path (resized to the backbone's
resize size, centre-cropped to its input size: 160 -> 256 -> 224 px for Lite0) for fine-tuning
and maps, and the object boxes and the +-8 px tolerance are scaled and shifted to match; without
it the 160-px pictures are fed as they are.

One intra-op thread (figures independent of the core count).

    python bench/cam_layers.py                               # Lite0 (~15 min on a busy 2-core box)
    python bench/cam_layers.py --backbones efficientnet_lite0 efficientnet_lite1 --json out.json
    python bench/cam_layers.py --backbones resnet18 --from-scratch --app-input --train 300 \
        --epochs 6
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import cam_synthetic as cs  # noqa: E402

from transfer_gui.core.cam import (CLASS_SPECIFIC, METHODS, ActivationsAndGradients,  # noqa
                                   candidate_layers, compute_cam, get_method, scale_maps)
from transfer_gui.core.cam.trust import trust_check  # noqa: E402
from transfer_gui.core.models import get_backbone  # noqa: E402
from transfer_gui.core.models.network import make_model  # noqa: E402
from transfer_gui.core.training.batchnorm import set_momentum  # noqa: E402

SIZE = 160
SIDES = (20, 48)
TOL = 8


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbones", nargs="+", default=["efficientnet_lite0"])
    p.add_argument("--train", type=int, default=150)
    p.add_argument("--test", type=int, default=100)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--faith-images", type=int, default=8)
    p.add_argument("--steps", type=int, default=4, help="deletion/insertion steps")
    p.add_argument("--methods", nargs="+", default=[m for m in METHODS if CLASS_SPECIFIC[m]])
    p.add_argument("--faith-methods", nargs="+", default=["gradcam", "layercam"],
                   help="methods whose deletion/insertion and trust are measured at every layer; "
                        "the others only at the default layer and their best-pointing layer")
    p.add_argument("--seed", type=int, default=0, help="fine-tuning seed (the data are fixed)")
    p.add_argument("--app-input", action="store_true",
                   help="resize and crop the pictures as the app does (see above)")
    p.add_argument("--from-scratch", action="store_true",
                   help="random initial weights, batch norm training at momentum 0.1 (the app's "
                        "'from scratch'); for backbones whose pretrained weights are not on this machine")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--json", help="write every figure here")
    return p.parse_args(argv)


def app_inputs(data, spec) -> tuple[torch.Tensor, np.ndarray, np.ndarray, float]:
    """The pictures as the app feeds them (data/pixels.py resize and crop, then
    InputPipeline.eval_batch), with the object and decoy boxes in those coordinates and the
    scale from picture to network input."""
    from PIL import Image

    from transfer_gui.core.data.pixels import resize_shorter_and_center_crop
    from transfer_gui.core.inputs import InputPipeline

    pre = spec.preprocessing
    arrays = np.stack([np.array(resize_shorter_and_center_crop(
        Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0))), pre.resize_size))
        for img in data.images])
    scale, shift = pre.resize_size / SIZE, (pre.resize_size - pre.input_size) / 2
    return (InputPipeline(pre).eval_batch(arrays), data.boxes * scale - shift,
            data.decoy_boxes * scale - shift, scale)


def normalised(x: torch.Tensor, spec) -> torch.Tensor:
    pre = spec.preprocessing
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)
    return (x - mean) / std


def new_model(spec, *, from_scratch: bool):
    """The model to train on the set: the pretrained backbone, or random weights with batch norm
    at momentum 0.1 as the app trains from scratch (training/plans.py)."""
    model = make_model(spec, len(cs.CLASS_NAMES), pretrained=not from_scratch)
    if from_scratch:
        set_momentum(model, 0.1)
    return model


def fine_tune(model, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int = 0,
              batch: int = 16, lr: float = 1e-3, train_bn: bool = False):
    """AdamW over every weight, one-cycle schedule; batch norm in inference mode (pretrained
    statistics) unless `train_bn` (from scratch: there are no statistics to keep)."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    gen = torch.Generator().manual_seed(seed)
    model.train(train_bn)  # eval: batch norm keeps its running statistics; dropout off
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model


@torch.no_grad()
def accuracy(model, x: torch.Tensor, y: np.ndarray) -> float:
    model.eval()
    pred = torch.cat([model(x[i:i + 64]).argmax(1) for i in range(0, len(x), 64)])
    return float((pred.numpy() == y).mean())


def all_maps(model, x: torch.Tensor, y: np.ndarray, methods: list[str], layers: list[str],
             batch: int = 30) -> dict[tuple[str, str], np.ndarray]:
    """(method, layer) -> (N, H, W) maps, as compute_cam makes them (same methods, same
    scale_maps), from one forward and backward pass per batch for all layers together."""
    out: dict[tuple[str, str], list] = {(m, l): [] for m in methods for l in layers}
    for i in range(0, len(x), batch):
        hooks = [ActivationsAndGradients(model.get_submodule(l)) for l in layers]
        try:
            with torch.enable_grad():
                xb = x[i:i + batch].clone().requires_grad_(True)
                logits = model(xb)
                score = logits.gather(1, torch.from_numpy(y[i:i + batch])[:, None]).sum()
                grads = torch.autograd.grad(score, [h.output for h in hooks], allow_unused=True)
            for layer, h, g in zip(layers, hooks, grads):
                g = torch.zeros_like(h.activations) if g is None else g.detach()
                for m in methods:
                    raw = get_method(m).cam(h.activations.float(), g.float())
                    out[(m, layer)].append(scale_maps(raw, tuple(x.shape[-2:]))[0].numpy())
        finally:
            for h in hooks:
                h.release()
    return {k: np.concatenate(v) for k, v in out.items()}


def check_against_compute_cam(model, x, y, maps, method: str, layer: str) -> None:
    """The fused computation must give compute_cam's maps (the app's)."""
    ref = compute_cam(model, x[:4], layer=layer, method=method,
                      targets=[int(t) for t in y[:4]]).maps
    assert np.allclose(ref, maps[(method, layer)][:4], atol=1e-4), (method, layer)


def measure_backbone(name: str, args) -> dict:
    spec = get_backbone(name)
    train = cs.make_dataset(args.train, seed=11, size=SIZE, side_range=SIDES)
    test = cs.make_dataset(args.test, seed=12, size=SIZE, side_range=SIDES)
    x_train, x_test = normalised(train.tensor(), spec), normalised(test.tensor(), spec)
    boxes, decoys, tol = test.boxes, test.decoy_boxes, TOL
    if args.app_input:
        x_train = app_inputs(train, spec)[0]
        x_test, boxes, decoys, scale = app_inputs(test, spec)
        tol = TOL * scale
    side = x_test.shape[-1]
    fill = ((cs.mean_color(test.images) - torch.tensor(spec.preprocessing.mean))
            / torch.tensor(spec.preprocessing.std))  # the mean colour, normalised as inputs
    torch.manual_seed(args.seed)  # the initial weights when from scratch
    model = new_model(spec, from_scratch=args.from_scratch)
    t0 = time.perf_counter()
    fine_tune(model, x_train, torch.from_numpy(train.labels), args.epochs, seed=args.seed,
              lr=args.lr, train_bn=args.from_scratch)
    acc = accuracy(model, x_test, test.labels)
    how = "trained from scratch" if args.from_scratch else "fine-tuned"
    print(f"\n{name}: {how} on {len(train)} images x {args.epochs} epochs in "
          f"{time.perf_counter() - t0:.0f} s; test accuracy {acc:.3f} ({len(test)} images)",
          flush=True)
    layers = candidate_layers(model, spec)
    nf = args.faith_images
    xf, yf = x_test[:nf], test.labels[:nf]
    base = cs.deletion_insertion(model, xf, yf, cs.random_maps(nf, side, 0), fill, args.steps)
    print(f"random order: deletion {base.deletion_auc_random:.3f}, insertion "
          f"{base.insertion_auc_random:.3f} ({nf} images, {args.steps} steps)", flush=True)
    model.eval()
    t1 = time.perf_counter()
    every = all_maps(model, x_test, test.labels, args.methods, layers)
    check_against_compute_cam(model, x_test, test.labels, every, args.methods[0], layers[-1])
    print(f"maps of {len(args.methods)} methods x {len(layers)} layers in "
          f"{time.perf_counter() - t1:.0f} s", flush=True)
    rows = []
    for method in args.methods:
        for layer in layers:
            maps = every[(method, layer)]
            rows.append(dict(method=method, layer=layer,
                             pointing=float(cs.pointing_hits(maps, boxes, tol).mean()),
                             decoy=float(cs.pointing_hits(maps, decoys, tol).mean())))
    print("| method | layer | pointing | decoy | deletion | insertion | trust |")
    print("|---|---|---|---|---|---|---|")
    for method in args.methods:
        mine = [r for r in rows if r["method"] == method]
        top = max(mine, key=lambda r: r["pointing"])["layer"]
        for row in mine:
            if method in args.faith_methods or row["layer"] in (layers[0], top):
                maps = every[(method, row["layer"])][:nf]
                faith = cs.deletion_insertion(model, xf, yf, maps, fill, args.steps)
                checks = [trust_check(model, xf[i], maps[i], int(yf[i])) for i in range(nf)]
                row.update(deletion=faith.deletion_auc, insertion=faith.insertion_auc,
                           trust=float(np.mean([c is not None and c.beats_random
                                                for c in checks])))
            cells = " | ".join(f"{row[k]:.3f}" if k in row else "-"
                               for k in ("deletion", "insertion", "trust"))
            print(f"| {method} | {row['layer']} | {row['pointing']:.2f} | {row['decoy']:.2f} "
                  f"| {cells} |", flush=True)
    fused = fused_layercam_rows(every, rows, layers, boxes, decoys, tol)
    for row in fused:
        print(f"| LayerCAM fused (max) | {row['layer']} | {row['pointing']:.2f} | "
              f"{row['decoy']:.2f} | - | - | - |", flush=True)
    best = {}
    for method in args.methods:
        mine = [r for r in rows if r["method"] == method]
        top = max(mine, key=lambda r: (r["pointing"], -r.get("deletion", 1.0)))
        best[method] = top["layer"]
        print(f"best for {method}: {top['layer']} (pointing {top['pointing']:.2f}; default "
              f"{layers[0]}: {mine[0]['pointing']:.2f})")
    return dict(backbone=name, from_scratch=args.from_scratch, accuracy=acc, train=len(train),
                test=len(test), input=side, epochs=args.epochs, faith_images=nf, steps=args.steps,
                random_deletion=base.deletion_auc_random,
                random_insertion=base.insertion_auc_random, rows=rows + fused, best=best)


def fused_layercam_rows(every, rows, layers, boxes, decoys, tol) -> list[dict]:
    """Pointing of LayerCAM maps fused over two layers (each map scaled to [0, 1], then the
    element-wise maximum, as the LayerCAM paper fuses stages): the last two stages, and the two
    best single layers."""
    if ("layercam", layers[-1]) not in every:
        return []
    single = {r["layer"]: r["pointing"] for r in rows if r["method"] == "layercam"}
    stages = layers[1:]
    pairs = [stages[-2:], sorted(stages, key=lambda layer: -single[layer])[:2]]
    out = []
    for pair in pairs:
        maps = np.maximum(*[unit(every[("layercam", layer)]) for layer in pair])
        out.append(dict(method="layercam-fused", layer=" + ".join(pair),
                        pointing=float(cs.pointing_hits(maps, boxes, tol).mean()),
                        decoy=float(cs.pointing_hits(maps, decoys, tol).mean())))
    return out


def unit(maps: np.ndarray) -> np.ndarray:
    """Each map scaled to [0, 1]."""
    low = maps.min(axis=(1, 2), keepdims=True)
    return (maps - low) / np.maximum(maps.max(axis=(1, 2), keepdims=True) - low, 1e-12)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results = [measure_backbone(name, args) for name in args.backbones]
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
