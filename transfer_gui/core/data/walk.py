"""Fast, loop-safe folder walking for the dataset scan (os.scandir, symlinks followed once and
only within the dataset folder, never into another class folder; see links.py)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..jobs import CancelToken, Progress, ProgressCallback, no_progress
from .formats import IMAGE_EXTENSIONS, ImageReadError, is_ignored_name, probe_image
from .links import LinkFence

PROGRESS_EVERY_FILES = 200
NOT_IN_CLASS_FOLDER = "not inside a class folder"


def natural_key(name: str) -> tuple[list[object], str]:
    """Sort key: case-insensitive, with digit runs compared as numbers ("img2" < "img10")."""
    pieces = re.split(r"(\d+)", name)
    return [int(p) if i % 2 else p.casefold() for i, p in enumerate(pieces)], name


@dataclass
class FolderListing:
    """The direct children of one folder.

    Attributes:
        folders: (name, path) of each subfolder (symlinks to folders included), naturally sorted.
        files: Paths of the files directly inside, sorted.
        skipped: (path, reason) for broken links and entries that are neither file nor folder.
        links: The paths among `folders` and `files` that are symbolic links.
    """

    folders: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    links: set[str] = field(default_factory=set)


@dataclass
class WalkResult:
    """Usable images and skipped files found below one class folder (both sorted by path)."""

    images: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _os_reason(prefix: str, error: OSError) -> str:
    return f"{prefix}: {(error.strerror or str(error)).lower()}"


def list_folder(path: str) -> FolderListing:
    """List a folder's children, ignoring hidden names and OS clutter files.

    Raises:
        OSError: When the folder itself cannot be listed.
    """
    listing = FolderListing()
    with os.scandir(path) as entries:
        for entry in entries:
            if is_ignored_name(entry.name):
                continue
            kind = _entry_kind(entry)
            if kind in ("folder", "file") and entry.is_symlink():
                listing.links.add(entry.path)
            if kind == "folder":
                listing.folders.append((entry.name, entry.path))
            elif kind == "file":
                listing.files.append(entry.path)
            else:
                listing.skipped.append((entry.path, kind))
    listing.folders.sort(key=lambda item: natural_key(item[0]))
    listing.files.sort()
    listing.skipped.sort()
    return listing


def _entry_kind(entry: os.DirEntry[str]) -> str:
    """Return "folder", "file", or a skip reason for anything else."""
    try:
        if entry.is_dir():
            return "folder"
        if entry.is_file():
            return "file"
        if entry.is_symlink() and not os.path.exists(entry.path):
            return "broken link"
    except OSError as error:
        return _os_reason("cannot read", error)
    return "not a regular file"


def _extension_reason(path: str) -> str | None:
    extension = os.path.splitext(path)[1].lower()
    if extension in IMAGE_EXTENSIONS:
        return None
    return f"not an image type ({extension or 'no extension'})"


class ImageWalker:
    """Walks class folders recursively, checks every image, and reports progress.

    One walker is used for a whole scan so its file count and progress span all folders.
    Set `fence` (the dataset and class folders) before walking to keep links inside the
    dataset and out of other class folders.
    """

    def __init__(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> None:
        self._progress = progress
        self._cancel = cancel
        self.files_seen = 0
        self.fence = LinkFence()

    def count_file(self) -> None:
        """Count one file; check for cancel and report progress every few hundred files."""
        if self._cancel is not None:
            self._cancel.raise_if_cancelled()
        self.files_seen += 1
        if self.files_seen % PROGRESS_EVERY_FILES == 0:
            self._progress(Progress(None, f"Scanned {self.files_seen:,} files", stage="scan"))

    def check_file(self, path: str) -> str | None:
        """Return None when `path` is a usable image, else the reason it is skipped."""
        self.count_file()
        reason = _extension_reason(path)
        if reason is not None:
            return reason
        try:
            probe_image(path)
        except ImageReadError as error:
            return error.reason
        return None

    def walk(self, folder: str) -> WalkResult:
        """Find the usable images in `folder` and all its subfolders.

        Symlinked folders are followed, but a folder already visited in this walk (a symlink
        loop, or a second link to the same folder) is skipped with a reason, and so are links
        the walker's `fence` refuses (outside the dataset, into another class folder).
        """
        result = WalkResult()
        try:
            top = os.stat(folder)
        except OSError as error:
            result.skipped.append((folder, _os_reason("cannot open folder", error)))
            return result
        visited = {(top.st_dev, top.st_ino)}
        # Each stack item: (folder path, identities of its ancestors including itself).
        stack: list[tuple[str, frozenset[tuple[int, int]]]] = [
            (folder, frozenset(visited))
        ]
        while stack:
            path, ancestors = stack.pop()
            try:
                listing = list_folder(path)
            except OSError as error:
                result.skipped.append((path, _os_reason("cannot open folder", error)))
                continue
            for file_path in listing.files:
                reason = None
                if file_path in listing.links:
                    reason = self.fence.file_link_reason(file_path, folder)
                if reason is None:
                    reason = self.check_file(file_path)
                else:
                    self.count_file()
                if reason is None:
                    result.images.append(file_path)
                else:
                    result.skipped.append((file_path, reason))
            result.skipped.extend(listing.skipped)
            for _, sub_path in reversed(listing.folders):
                reason = None
                if sub_path in listing.links:
                    reason = self.fence.folder_link_reason(sub_path, folder)
                if reason is None:
                    self._push_folder(sub_path, ancestors, visited, stack, result)
                else:
                    result.skipped.append((sub_path, reason))
        result.images.sort()
        result.skipped.sort()
        return result

    @staticmethod
    def _push_folder(
        path: str,
        ancestors: frozenset[tuple[int, int]],
        visited: set[tuple[int, int]],
        stack: list[tuple[str, frozenset[tuple[int, int]]]],
        result: WalkResult,
    ) -> None:
        try:
            info = os.stat(path)
        except OSError as error:
            result.skipped.append((path, _os_reason("cannot open folder", error)))
            return
        identity = (info.st_dev, info.st_ino)
        if identity in ancestors:
            result.skipped.append((path, "symlink loop (links back to a parent folder)"))
        elif identity in visited:
            result.skipped.append((path, "folder already scanned through another link"))
        else:
            visited.add(identity)
            stack.append((path, ancestors | {identity}))
