"""The Export window: TorchScript, ONNX and bundles."""
