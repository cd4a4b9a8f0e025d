"""The Model step: choose a pretrained backbone and a training method."""
