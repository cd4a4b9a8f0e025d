"""The Settings step: the training options of the chosen method."""
