"""Exceptions the core raises for problems a user can fix (bad input), as opposed to bugs."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input; the message says what is wrong and what to do.

    Attributes:
        path: The file or folder the problem is about, when there is one.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class DatasetError(UserError):
    """The dataset folder cannot be used (too few classes, an empty class, ...)."""


class EmptyClassError(DatasetError):
    """One or more class folders hold no usable image.

    Attributes:
        classes: The names of every such class, in scan order (the message names the first);
            `scan_dataset(..., leave_out_empty_classes=True)` scans without them.
    """

    def __init__(self, message: str, classes: list[str], path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.classes = list(classes)


class WeightsError(UserError):
    """Backbone weights are missing, corrupt, unsafe or of the wrong architecture."""


class ModelFileError(UserError):
    """A saved model file (model.pt) cannot be read."""


class ConfigError(UserError):
    """A training option has a value that is not allowed."""


class Cancelled(Exception):
    """Raised inside a job when its cancel token is set; caught where the job started."""
