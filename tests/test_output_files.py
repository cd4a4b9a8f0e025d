"""Outputs are files the user can find and share: atomic writes honour the umask (not the 0600 of
a temporary file), and the outputs folder is a visible "Transfer GUI" folder, never in a dataset."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from transfer_gui.core import output_folder
from transfer_gui.core.atomic import atomic_write_json, atomic_write_text, current_umask


@pytest.fixture
def umask():
    """Set the process umask for one test, and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.skipif(sys.platform == "win32", reason="no POSIX permission bits on Windows")
@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_honour_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    assert current_umask() == mask
    written = atomic_write_text(tmp_path / "out" / "note.txt", "hello")
    assert stat.S_IMODE(written.stat().st_mode) == expected
    # Replacing an existing file gives it the same, normal permissions.
    again = atomic_write_json(written, {"a": 1})
    assert stat.S_IMODE(again.stat().st_mode) == expected
    assert [p.name for p in written.parent.iterdir()] == ["note.txt"]  # no temporary left


def test_default_output_folder_is_a_visible_folder_under_documents(tmp_path, monkeypatch):
    documents = tmp_path / "Documents"
    documents.mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DOCUMENTS_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    output_folder.set_output_folder(None)
    assert output_folder.default_output_folder() == documents / "Transfer GUI"
    assert not any(part.startswith(".") for part in output_folder.default_output_folder().parts)
    # Qt's Documents location, when the app passes it, wins over the guess.
    assert output_folder.default_output_folder(tmp_path / "Docs") == tmp_path / "Docs" / "Transfer GUI"
    # A localised Documents folder named in ~/.config/user-dirs.dirs is found too.
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "user-dirs.dirs").write_text('XDG_DOCUMENTS_DIR="$HOME/Dokumente"\n')
    assert output_folder.documents_folder() == tmp_path / "Dokumente"


def test_chosen_output_folder_is_used_until_reset(tmp_path):
    try:
        output_folder.set_output_folder(tmp_path / "mine")
        assert output_folder.default_output_folder(tmp_path / "Docs") == tmp_path / "mine"
    finally:
        output_folder.set_output_folder(None)
    assert output_folder.default_output_folder(tmp_path / "Docs") == tmp_path / "Docs" / "Transfer GUI"


def test_is_inside(tmp_path):
    data = tmp_path / "data"
    (data / "ants").mkdir(parents=True)
    assert output_folder.is_inside(data / "ants" / "x.png", data)
    assert output_folder.is_inside(data, data)
    assert not output_folder.is_inside(tmp_path / "data2" / "x.png", data)
    assert not output_folder.is_inside(tmp_path, data)
    link = tmp_path / "link"
    link.symlink_to(data / "ants")
    assert output_folder.is_inside(link / "y.png", data)  # through a link, still the dataset
