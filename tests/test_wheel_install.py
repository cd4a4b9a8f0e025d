"""A plain `pip install .` (a wheel, not editable) carries the icons and translations the app loads.

.ci/run goes further: it installs the wheel into a fresh virtual environment and runs
`transfer-gui --self-test` there.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "transfer_gui"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300, cwd=ROOT)
    (built,) = out.glob("transfer_gui-*.whl")
    return built


def test_the_wheel_holds_every_file_the_app_loads(wheel):
    from transfer_gui.ui.app import APP_ICON, RESOURCES

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    icon = APP_ICON.resolve().relative_to(PACKAGE.parent).as_posix()
    assert icon in names  # transfer_gui/resources/icons/generated/app-256.png
    source_files = [p for p in RESOURCES.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert source_files
    for path in source_files:
        assert path.resolve().relative_to(PACKAGE.parent).as_posix() in names
    assert not any(name.startswith(("tests/", "bench/", "packaging/")) for name in names)


@pytest.mark.slow
def test_installed_from_the_wheel_the_app_finds_its_icon_inside_the_install(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    python = venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-index", "--no-deps", str(wheel)], check=True, timeout=300)
    code = ("import sys, transfer_gui.ui.app as app; "
            "print(app.APP_ICON.is_file(), app.APP_ICON.is_relative_to(sys.prefix))")
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)  # outside the checkout
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
