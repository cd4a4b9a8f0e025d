"""Reading image files safely: the error every unreadable file becomes, and opening only regular
files (a pipe or device passed as an image would block `open()` forever)."""

from __future__ import annotations

import os
import stat
from typing import BinaryIO


class ImageReadError(Exception):
    """A file cannot be used as an image.

    Attributes:
        reason: A short human sentence saying why, e.g. "truncated image data".
        path: The file, when known.
    """

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


def _kind_of_special_file(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def open_regular_file(path: str) -> BinaryIO:
    """Open `path` for reading only if it is a regular file (a pipe or device would block).

    Opened non-blocking, so a FIFO never hangs the caller, then checked with fstat.

    Raises:
        ImageReadError: "not a regular file: ..." for pipes, devices, sockets and folders.
        OSError: When the file cannot be opened.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ImageReadError(f"not a regular file: {_kind_of_special_file(mode)}", path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
