"""Before Qt starts on Linux: name the system packages its X11 platform plugin cannot find.

Without them Qt prints "no Qt platform plugin could be initialized" and aborts, which tells a
biologist nothing. A stock Debian or Ubuntu desktop lacks libxcb-cursor0, libxcb-icccm4 and
libxcb-keysyms1, for instance. This module loads the plugin the way Qt would (ctypes, before any
Qt import) and, when that fails, says which packages to install and the command that does it.
Qt-free and torch-free: it runs first, in a fraction of a second.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Callable, Mapping, Optional

# Shared library -> the Debian/Ubuntu package that provides it: what PySide6's xcb plugin and
# QtGui link against beyond glibc (`ldd .../platforms/libqxcb.so`, PySide6 6.6 to 6.11).
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
# The ones a stock desktop most often lacks, named in the README.
USUALLY_MISSING = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1")

Loader = Callable[[str], object]
# The dynamic loader's words for a missing library: "libfoo.so.1: cannot open shared object file"
_MISSING = re.compile(r"([\w.+-]+\.so[.\d]*): cannot open shared object file")


def uses_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will start with its X11 (xcb) plugin alone, the one these libraries serve."""
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested:  # "xcb", "xcb:option", or a fallback list such as "wayland;xcb"
        return all(p.split(":")[0].strip() == "xcb" for p in requested.split(";") if p.strip())
    return environ.get("XDG_SESSION_TYPE", "") != "wayland"  # Qt tries Wayland first there


def xcb_plugin_path() -> Optional[Path]:
    """PySide6's libqxcb.so, found without importing Qt (None when it cannot be found)."""
    spec = importlib.util.find_spec("PySide6")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def missing_libraries(load: Loader = ctypes.CDLL, plugin: Optional[Path] = None) -> list[str]:
    """The libraries the xcb plugin needs and the loader cannot find; [] when the plugin loads.

    Args:
        load: Loads a shared library by path or name, raising OSError when it cannot.
        plugin: The plugin file (default: PySide6's). When it cannot be found, nothing is
            reported: a guess must never stop the app from starting.
    """
    plugin = plugin or xcb_plugin_path()
    if plugin is None:
        return []
    try:
        load(str(plugin))
        return []
    except OSError as error:  # names only the first missing library; look for the others too
        named = _MISSING.findall(str(error))
    missing = [name for name in DEBIAN_PACKAGES if name not in named and not _loads(load, name)]
    return [*named, *missing] or [plugin.name]


def _loads(load: Loader, name: str) -> bool:
    try:
        load(name)
        return True
    except OSError:
        return False


def install_hint(missing: list[str]) -> str:
    """What to tell the user: the missing libraries, their packages and the command to run."""
    packages = list(dict.fromkeys(DEBIAN_PACKAGES[m] for m in missing if m in DEBIAN_PACKAGES))
    lines = ["Transfer GUI cannot open its window: these system libraries are not installed:"]
    lines += [f"  {m}" + (f" (package {DEBIAN_PACKAGES[m]})" if m in DEBIAN_PACKAGES else "")
              for m in missing]
    if packages:
        lines += ["On Debian or Ubuntu, install them with:",
                  f"  sudo apt install {' '.join(packages)}"]
    lines += ["(Fedora: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms.)",
              "Then start Transfer GUI again. The command line (transfer-gui --help) works "
              "without them."]
    return "\n".join(lines)


def import_error_hint(error: ImportError) -> Optional[str]:
    """install_hint() for an ImportError of a missing shared library (None for any other)."""
    named = _MISSING.findall(str(error))
    return install_hint(named) if named else None


def no_display_hint() -> str:
    return ("Transfer GUI cannot open its window: there is no screen to show it on. Start it from "
            "your desktop session (over SSH: ssh -X), or use the command line: "
            "transfer-gui --help.")


def qt_start_problem(environ: Mapping[str, str] = os.environ, platform: str = sys.platform,
                     load: Loader = ctypes.CDLL) -> Optional[str]:
    """Why Qt's window could not start here, in words for the user; None when it can (or when
    Qt will not use X11, where this check has nothing to say)."""
    if not uses_xcb(environ, platform):
        return None
    if not environ.get("DISPLAY"):
        return no_display_hint()
    missing = missing_libraries(load)
    return install_hint(missing) if missing else None
