"""transfer_gui: build an image classifier by transfer learning, in a desktop app or from the CLI."""

__version__ = "0.1.0"
