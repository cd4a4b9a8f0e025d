"""Render every platform icon from the one source image, transfer_gui/resources/icons/app.svg.

Usage::

    python packaging/icons/make_icons.py [--out DIR] [--svg PATH]

Writes into DIR (default transfer_gui/resources/icons/generated/):

* ``app.ico``      Windows executable and installer icon (16 to 256 px).
* ``app.icns``     macOS bundle icon (16 to 512 px at @1x and @2x, so up to 1024 px).
* ``app-256.png``, ``app-512.png``  Linux desktop entry and Qt window icon.
* ``project.ico``, ``project.icns`` the ``.tgproj`` document icon: the app icon on a page.

Each size is rendered from the vector source rather than scaled down from one big
bitmap, so the small sizes stay sharp. Rendering uses Qt's SVG renderer (no display
needed: the offscreen platform is selected when none is set) and Pillow writes the
ICO and ICNS containers. The output is deterministic for a given Qt and Pillow, so the
generated files are committed and only need regenerating when app.svg changes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SVG = ROOT / "transfer_gui" / "resources" / "icons" / "app.svg"
DEFAULT_OUT = ROOT / "transfer_gui" / "resources" / "icons" / "generated"

# Windows picks the nearest size per DPI and view: 16/20/24 small icons (100/125/150 %),
# 32/40/48 large icons, 64+ for tiles and Explorer's big views, 256 the largest.
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)
# Pixel sizes Pillow's ICNS writer stores: 16@2x, 32@2x, 128, 128@2x (=256), 256,
# 256@2x (=512), 512 and 512@2x (=1024). macOS derives the 16/32 @1x slots from these.
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)
PNG_SIZES = (256, 512)

# The SVG's tile fills 960 of its 1024 units. macOS icons sit on Apple's grid instead:
# an 824-unit body centred on a 1024 canvas, leaving room for the drop shadow. Without
# it the icon looks oversized next to every other one in the Dock and Finder.
SVG_TILE_FRACTION = 960 / 1024
MACOS_BODY_FRACTION = 824 / 1024

EXPECTED_FILES = (
    "app.ico",
    "app.icns",
    "app-256.png",
    "app-512.png",
    "project.ico",
    "project.icns",
)


_app: object | None = None  # the QGuiApplication this module created, kept alive


def _qt():
    """Import Qt lazily and make sure a QGuiApplication exists.

    Returns:
        The (QtCore, QtGui, QtSvg) modules.
    """
    global _app
    # Nothing is shown on screen, so the offscreen platform works everywhere and lets
    # this run on headless CI without a display server.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore, QtGui, QtSvg

    if QtGui.QGuiApplication.instance() is None:
        _app = QtGui.QGuiApplication(sys.argv[:1])
    return QtCore, QtGui, QtSvg


def _to_pillow(image) -> Image.Image:
    """Convert a QImage to a Pillow RGBA image (straight, not premultiplied, alpha).

    Args:
        image: The QImage to convert.

    Returns:
        An independent Pillow image in mode RGBA.
    """
    _, QtGui, _ = _qt()
    rgba = image.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    data = bytes(rgba.constBits())
    return Image.frombuffer(
        "RGBA", (rgba.width(), rgba.height()), data, "raw", "RGBA", rgba.bytesPerLine(), 1
    ).copy()


class IconRenderer:
    """Renders the app icon and the document icon at any pixel size.

    Args:
        svg: Path of the source SVG.

    Raises:
        ValueError: If Qt cannot parse the SVG.
    """

    def __init__(self, svg: Path) -> None:
        QtCore, QtGui, QtSvg = _qt()
        self._core, self._gui = QtCore, QtGui
        self._svg = QtSvg.QSvgRenderer(str(svg))
        if not self._svg.isValid():
            raise ValueError(f"Qt could not render {svg}")

    def _canvas(self, size: int):
        """A transparent QImage and an antialiased painter on it."""
        QtGui = self._gui
        image = QtGui.QImage(size, size, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(self._core.Qt.GlobalColor.transparent)
        painter = QtGui.QPainter(image)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform)
        return image, painter

    def _draw_svg(self, painter, x: float, y: float, side: float) -> None:
        self._svg.render(painter, self._core.QRectF(x, y, side, side))

    def app(self, size: int, macos: bool = False) -> Image.Image:
        """The app icon.

        Args:
            size: Edge length in pixels.
            macos: Lay it out on Apple's icon grid (smaller body plus a drop shadow).

        Returns:
            The icon as an RGBA image.
        """
        image, painter = self._canvas(size)
        side = size * (MACOS_BODY_FRACTION / SVG_TILE_FRACTION if macos else 1.0)
        offset = (size - side) / 2
        self._draw_svg(painter, offset, offset, side)
        painter.end()
        result = _to_pillow(image)
        return _with_shadow(result) if macos else result

    def document(self, size: int, macos: bool = False) -> Image.Image:
        """The ``.tgproj`` document icon: a white page with a folded corner and the app icon.

        Args:
            size: Edge length in pixels.
            macos: Use a slimmer page with a shadow, as macOS document icons have.

        Returns:
            The icon as an RGBA image.
        """
        QtCore, QtGui = self._core, self._gui
        image, painter = self._canvas(size)
        # Page edges snap to whole pixels and the outline to half pixels, so that the
        # 16 and 32 px icons have crisp edges instead of grey, blurred ones.
        width_frac, height_frac = (0.62, 0.80) if macos else (0.76, 0.96)
        left = round(size * (1 - width_frac) / 2)
        top = round(size * (1 - height_frac) / 2)
        right, bottom = size - left, size - top
        pen_width = max(1, round(size / 64))
        inset = pen_width / 2
        fold = round((right - left) * 0.30)

        page = QtGui.QPainterPath()
        page.moveTo(left + inset, top + inset)
        page.lineTo(right - fold, top + inset)
        page.lineTo(right - inset, top + fold)
        page.lineTo(right - inset, bottom - inset)
        page.lineTo(left + inset, bottom - inset)
        page.closeSubpath()
        outline = QtGui.QPen(QtGui.QColor("#8A94A8"), pen_width)
        outline.setJoinStyle(QtCore.Qt.PenJoinStyle.MiterJoin)
        painter.setPen(outline)
        painter.setBrush(QtGui.QColor("#FFFFFF"))
        painter.drawPath(page)

        corner = QtGui.QPainterPath()
        corner.moveTo(right - fold, top + inset)
        corner.lineTo(right - fold, top + fold)
        corner.lineTo(right - inset, top + fold)
        corner.closeSubpath()
        # A bevel join: the corner's 45-degree tips would stick out as mitre spikes.
        outline.setJoinStyle(QtCore.Qt.PenJoinStyle.BevelJoin)
        painter.setPen(outline)
        painter.setBrush(QtGui.QColor("#D5DBE6"))
        painter.drawPath(corner)

        # The app icon in the lower part of the page, clear of the folded corner.
        side = (right - left) * 0.80
        x = (size - side) / 2
        y = bottom - pen_width - side - (bottom - top) * 0.06
        self._draw_svg(painter, x, y, side)
        painter.end()
        result = _to_pillow(image)
        return _with_shadow(result) if macos else result


def _with_shadow(icon: Image.Image) -> Image.Image:
    """Put a soft drop shadow under an icon, like Apple's icon template.

    Args:
        icon: RGBA image with room around the artwork.

    Returns:
        A new RGBA image of the same size.
    """
    size = icon.width
    alpha = icon.getchannel("A").point(lambda a: a * 30 // 100)
    shadow = Image.new("RGBA", icon.size, (0, 0, 0, 0))
    shadow.putalpha(alpha)
    # Blurring RGBA channels separately is exact here: the colour is black everywhere.
    shadow = shadow.filter(ImageFilter.GaussianBlur(size * 10 / 1024))
    moved = Image.new("RGBA", icon.size, (0, 0, 0, 0))
    moved.paste(shadow, (0, round(size * 12 / 1024)))
    return Image.alpha_composite(moved, icon)


def _save_ico(images: list[Image.Image], path: Path) -> None:
    """Write a multi-size ICO using our renders for every size (no rescaling)."""
    largest = max(images, key=lambda im: im.width)
    largest.save(
        path,
        format="ICO",
        sizes=[(im.width, im.height) for im in images],
        append_images=[im for im in images if im is not largest],
    )


def _save_icns(images: list[Image.Image], path: Path) -> None:
    """Write an ICNS using our renders for every size Pillow stores."""
    largest = max(images, key=lambda im: im.width)
    largest.save(path, format="ICNS", append_images=[im for im in images if im is not largest])


def make_icons(out_dir: Path, svg: Path = DEFAULT_SVG) -> list[Path]:
    """Render every icon file into a folder.

    Args:
        out_dir: Destination folder; created if missing, files in it are overwritten.
        svg: The source SVG.

    Returns:
        The written files, in the order of EXPECTED_FILES.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = IconRenderer(svg)

    _save_ico([renderer.app(s) for s in ICO_SIZES], out_dir / "app.ico")
    _save_icns([renderer.app(s, macos=True) for s in ICNS_SIZES], out_dir / "app.icns")
    for size in PNG_SIZES:
        renderer.app(size).save(out_dir / f"app-{size}.png", format="PNG", optimize=True)
    _save_ico([renderer.document(s) for s in ICO_SIZES], out_dir / "project.ico")
    _save_icns([renderer.document(s, macos=True) for s in ICNS_SIZES], out_dir / "project.icns")
    return [out_dir / name for name in EXPECTED_FILES]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments without the program name; defaults to sys.argv[1:].

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--svg", type=Path, default=DEFAULT_SVG, help="source SVG")
    args = parser.parse_args(argv)
    for path in make_icons(args.out, args.svg):
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
