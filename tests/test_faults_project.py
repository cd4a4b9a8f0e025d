"""A project file with deeply nested JSON is refused as damaged, not with a RecursionError."""

from __future__ import annotations

import zipfile

import pytest

from transfer_gui.core.project import ProjectError, load_project


@pytest.mark.parametrize("member", ["project.json", "runs/r1/config.json"])
def test_deeply_nested_json_is_a_project_error(tmp_path, member):
    nested = "[" * 100_000 + "]" * 100_000
    manifest = ('{"format": "transfer_gui.project", "schema_version": 1, "name": "p", '
                '"runs": [{"id": "r1"}]}')
    members = {"project.json": manifest, "runs/r1/config.json": "{}"}
    members[member] = nested
    path = tmp_path / "p.tgproj"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    with pytest.raises(ProjectError, match="nested too deeply") as caught:
        load_project(path, tmp_path / "out")
    assert str(path) in str(caught.value)
    assert not (tmp_path / "out").exists()
