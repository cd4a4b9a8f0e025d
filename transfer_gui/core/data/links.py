"""Where a symbolic link inside a class folder may lead, so a link never mixes classes or splits.

A link `cat/up -> ..` would pull every other class into `cat`, and `train/cat/v -> ../../val/cat`
would put validation images into training. The fence knows the dataset folder and every
class folder (of every split) and says why a link may not be followed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _inside(path: str, folder: str) -> bool:
    """True when `path` is `folder` or below it (both real, absolute paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


@dataclass
class LinkFence:
    """The dataset folder and its class folders, as real paths.

    Attributes:
        root: The dataset folder.
        class_folders: {real path: "split/class" or "class"} for every class folder.
    """

    root: str = ""
    class_folders: dict[str, str] = field(default_factory=dict)
    listed: dict[str, str] = field(default_factory=dict)  # class folders as listed (not real)

    @classmethod
    def around(cls, root: str, class_folders: dict[str, str]) -> LinkFence:
        """A fence for `root` with `class_folders` ({folder path: label shown in reasons})."""
        return cls(_real(root), {_real(path): label for path, label in class_folders.items()},
                   dict(class_folders))

    def class_link_reason(self, folder: str) -> str | None:
        """Why the class folder `folder`, itself a link, is left out (None: it is a class).

        A class folder linked to another class folder (or to a folder holding one, or inside
        one) would count the same images for two classes. The first of such folders that is
        not a link, else the first listed, stays the class.
        """
        target = _real(folder)
        for path, label in self.listed.items():
            if path == folder:
                return None  # every folder listed before it was checked: no clash
            other = _real(path)
            if _inside(target, other) or _inside(other, target):
                return (f"class folder that is a link to the class folder '{label}' (or to a "
                        "folder holding it); left out, so no image counts for two classes")
        return None

    def _other_class(self, target: str, own: str) -> str | None:
        for folder, label in self.class_folders.items():
            if folder == own:
                continue
            if _inside(target, folder) or _inside(folder, target):
                return label
        return None

    def folder_link_reason(self, link: str, class_folder: str) -> str | None:
        """Why the folder link `link`, found below `class_folder`, is not followed (None: follow).

        Followed only when it leads inside the dataset folder (or inside the class folder's own
        real location), not back up to a folder that holds this class folder, and not into
        (or above) another class folder of any split.
        """
        if not self.root:
            return None
        target, own = _real(link), _real(class_folder)
        if _inside(own, target):
            return "symlink loop (links back to a parent folder)"
        other = self._other_class(target, own)
        if other is not None:
            return (f"link to another class or split folder ({other}); not followed, so "
                    "classes and splits stay apart")
        if not (_inside(target, self.root) or _inside(target, own)):
            return ("link to a folder outside the dataset folder; not followed (move or copy "
                    "those images into the class folder)")
        return None

    def file_link_reason(self, link: str, class_folder: str) -> str | None:
        """Why the file link `link` below `class_folder` is skipped (None: keep it).

        A link to an image in another class or split folder would count that image twice.
        """
        if not self.root:
            return None
        other = self._other_class(_real(link), _real(class_folder))
        if other is None:
            return None
        return f"link to an image of another class or split ({other}); skipped"
