"""Fast checks of the packaging files (nothing is built): workflows, installer script, icons.

The frozen build itself is tested by .github/workflows/package.yml; these catch the mistakes
that would only show there, half an hour later: a workflow that no longer runs the self-test,
an installer that asks for administrator rights, icons missing a size or out of date.
"""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
ISS = ROOT / "packaging" / "windows" / "transfer_gui.iss"
MACOS = ROOT / "packaging" / "macos"
MAKE_ICONS = ROOT / "packaging" / "icons" / "make_icons.py"
GENERATED = ROOT / "transfer_gui" / "resources" / "icons" / "generated"
ICON_FILES = {"app.ico", "app.icns", "app-256.png", "app-512.png", "project.ico", "project.icns"}
ICO_SIZES = {(s, s) for s in (16, 20, 24, 32, 40, 48, 64, 128, 256)}


def _workflow(name: str) -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def _runs(workflow: dict, job: str) -> str:
    return "\n".join(step.get("run", "") for step in workflow["jobs"][job]["steps"])


def _uses(workflow: dict, job: str) -> list[str]:
    return [step["uses"] for step in workflow["jobs"][job]["steps"] if "uses" in step]


def test_tests_workflow_runs_the_readme_command_on_three_platforms():
    workflow = _workflow("tests.yml")
    assert {"push", "pull_request"} <= set(_triggers(workflow))
    job = workflow["jobs"]["test"]
    assert set(job["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "windows-latest", "macos-14"}
    assert job["timeout-minutes"] == 60
    runs = _runs(workflow, "test")
    assert "download.pytorch.org/whl/cpu" in runs
    assert 'pip install -e ".[test,lite,onnx]"' in runs
    test_step = next(s for s in job["steps"] if "pytest" in s.get("run", ""))
    assert test_step["env"]["QT_QPA_PLATFORM"] == "offscreen"


def test_package_workflow_builds_self_tests_and_releases():
    workflow = _workflow("package.yml")
    triggers = _triggers(workflow)
    assert triggers["push"]["tags"] == ["v*"]
    assert "workflow_dispatch" in triggers
    assert "packaging/**" in triggers["pull_request"]["paths"]

    build = workflow["jobs"]["build"]
    targets = {entry["target"] for entry in build["strategy"]["matrix"]["include"]}
    assert targets == {"linux-x64", "windows-x64", "macos-arm64"}
    runs = _runs(workflow, "build")
    assert "packaging/build.py --cpu-build" in runs
    # Both frozen executables self-test, and every report goes through check_report.py.
    assert '"$CONSOLE_EXE" --self-test --report' in runs
    assert '"$GUI_EXE" --self-test --report' in runs
    assert runs.count("packaging/check_report.py --frozen") >= 4
    assert "transfer_gui.iss" in runs and "/VERYSILENT" in runs and "/CURRENTUSER" in runs
    assert "make_dmg.sh" in runs and "sign_and_notarize.sh" in runs
    assert any(u.startswith("actions/upload-artifact@") for u in _uses(workflow, "build"))

    release = workflow["jobs"]["release"]
    assert release["needs"] == "build"
    assert release["permissions"] == {"contents": "write"}
    assert "softprops/action-gh-release@v2" in _uses(workflow, "release")


def test_inno_setup_script_installs_per_user_with_the_project_association():
    text = ISS.read_text(encoding="utf-8")
    assert "PrivilegesRequired=lowest" in text
    assert r"DefaultDirName={localappdata}\Programs\TransferGUI" in text
    assert r'Root: HKCU; Subkey: "Software\Classes\.tgproj"' in text
    assert r"{app}\project.ico" in text
    assert "OutputBaseFilename=TransferGUI-{#AppVersion}-windows-x64-setup" in text
    assert '#define AppVersion "' in text  # the default when ISCC gets no /DAppVersion
    # The icon folder the script names is the generated one, relative to the script.
    icon_dir = text.split('#define IconDir "', 1)[1].split('"', 1)[0]
    resolved = (ISS.parent / icon_dir.replace("\\", "/")).resolve()
    assert resolved == GENERATED.resolve()


def test_macos_plists():
    entitlements = plistlib.loads((MACOS / "entitlements.plist").read_bytes())
    assert entitlements == {
        "com.apple.security.cs.allow-unsigned-executable-memory": True,
        "com.apple.security.cs.allow-jit": True,
        "com.apple.security.cs.disable-library-validation": True,
    }
    info = json.loads((MACOS / "info_plist.json").read_text(encoding="utf-8"))
    uti = info["UTExportedTypeDeclarations"][0]
    assert uti["UTTypeTagSpecification"]["public.filename-extension"] == ["tgproj"]
    assert info["CFBundleDocumentTypes"][0]["LSItemContentTypes"] == [uti["UTTypeIdentifier"]]


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("bash") is None,
                    reason="needs a POSIX bash (on Windows `bash` may be WSL's)")
def test_macos_scripts_parse_and_signing_skips_without_secrets():
    for script in ("make_dmg.sh", "sign_and_notarize.sh"):
        text = (MACOS / script).read_text(encoding="utf-8")
        assert "set -euo pipefail" in text
        subprocess.run(["bash", "-n", str(MACOS / script)], check=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MACOS_CERTIFICATE", "MACOS_CERTIFICATE_PASSWORD", "MACOS_SIGN_IDENTITY",
                        "APPLE_ID", "APPLE_TEAM_ID", "APPLE_APP_PASSWORD")}
    proc = subprocess.run(["bash", str(MACOS / "sign_and_notarize.sh"), "sign"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "signing skipped: secrets not set" in proc.stdout


def test_generated_icons_have_every_size():
    assert {p.name for p in GENERATED.iterdir()} == ICON_FILES
    for name in ("app.ico", "project.ico"):
        with Image.open(GENERATED / name) as ico:
            assert set(ico.info["sizes"]) == ICO_SIZES, name
    for name in ("app.icns", "project.icns"):
        with Image.open(GENERATED / name) as icns:
            sizes = set(icns.info["sizes"])
            assert (512, 512, 2) in sizes and (16, 16, 2) in sizes, name
    for size in (256, 512):
        with Image.open(GENERATED / f"app-{size}.png") as png:
            assert png.size == (size, size) and png.mode == "RGBA"


def test_make_icons_regenerates_the_committed_set(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, str(MAKE_ICONS), "--out", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {p.name for p in tmp_path.iterdir()} == ICON_FILES
    with Image.open(tmp_path / "app.ico") as ico:
        assert set(ico.info["sizes"]) == ICO_SIZES
    # The committed icons match app.svg: regenerate after editing it. (A tolerance, not
    # equality: another Qt version may anti-alias edges a little differently.)
    with Image.open(tmp_path / "app-256.png") as fresh, Image.open(GENERATED / "app-256.png") as old:
        diff = ImageStat.Stat(ImageChops.difference(fresh.convert("RGBA"), old.convert("RGBA")))
        assert max(diff.mean) < 2.0, "transfer_gui/resources/icons/generated is stale: run make_icons.py"
