"""torchvision is imported only when a torchvision backbone is asked for (it costs ~1.5 s and
~160 MB), and registering, replacing or removing entries behaves the same before and after."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

from transfer_gui.core import models
from transfer_gui.core.models import registry

_LITE_ONLY = """
import sys
from transfer_gui.core import inputs, predict
from transfer_gui.core.cam import explain
from transfer_gui.core.models import get_backbone, make_model
spec = get_backbone("efficientnet_lite0")
make_model(spec, num_classes=2, pretrained=False)
print("torchvision loaded:", "torchvision" in sys.modules)
get_backbone("resnet18")
print("after resnet18:", "torchvision" in sys.modules)
"""


def test_a_lite_model_never_imports_torchvision(tmp_path):
    proc = subprocess.run([sys.executable, "-c", _LITE_ONLY], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TORCH_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "torchvision loaded: False" in proc.stdout
    assert "after resnet18: True" in proc.stdout


def test_registered_entries_replace_and_remove_built_ins_in_place():
    names = models.backbone_names()
    assert names[:3] == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    assert "resnet18" in names
    resnet = models.get_backbone("resnet18")
    replacement = dataclasses.replace(resnet, display_name="My ResNet")
    try:
        models.register_backbone(replacement)
        assert models.get_backbone("resnet18").display_name == "My ResNet"
        assert models.backbone_names() == names  # same place in the list
        models.unregister_backbone("resnet18")
        assert "resnet18" not in models.backbone_names()
    finally:
        models.register_backbone(resnet)
        registry._registered.pop("resnet18", None)
    assert models.backbone_names() == names
    assert models.get_backbone("resnet18") is resnet
