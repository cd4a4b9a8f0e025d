"""The explanation panel: Grad-CAM and friends over one image."""
