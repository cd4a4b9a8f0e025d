"""Tests for transfer_gui.core.models.weights: cache, download, import and safe loading.

Everything runs offline: downloads come from an HTTP server on 127.0.0.1 started by a fixture.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import pickle
import random
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import torch
from torch import nn

from transfer_gui.core.errors import Cancelled, WeightsError
from transfer_gui.core.jobs import CancelToken
from transfer_gui.core.models import weights
from transfer_gui.core.models.weights import (
    BASE_URL_ENV,
    cached_weights_path,
    download_weights,
    expected_hash_prefix,
    hub_checkpoint_dir,
    import_weights_file,
    load_into,
    load_state_dict_file,
    resolve_url,
)

UNREACHABLE_BASE = "https://example.invalid/models"


class TinyNet(nn.Module):
    """A two-layer network standing in for a backbone."""

    def __init__(self, width: int = 4, classes: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, kernel_size=3)
        self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, classes)


class TinyNetWithHead(TinyNet):
    """TinyNet plus one more layer: its state dict has keys TinyNet lacks."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(2, 2)


def _torch_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _publish(folder: Path, stem: str, obj: object) -> Path:
    """Save `obj` as torchvision would name it: `<stem>-<first 8 hex of sha256>.pth`."""
    data = _torch_bytes(obj)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    path.write_bytes(data)
    return path


def _files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@dataclass
class WeightsServer:
    """A local HTTP server over `root`; `/short/NAME` sends half of NAME then hangs up."""

    root: Path
    base_url: str = ""
    requests: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    for scheme in ("http", "https", "all"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WeightsServer]:
    state = WeightsServer(root=tmp_path / "served")
    state.root.mkdir()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            state.requests.append(self.path)
            truncate = self.path.startswith("/short/")
            file = state.root / self.path.rpartition("/")[2]
            if not file.is_file():
                self.send_error(404, "Not Found")
                return
            data = file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data[: len(data) // 2] if truncate else data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client hung up (cancelled download)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def tiny_file(server: WeightsServer) -> Path:
    return _publish(server.root, "tiny", TinyNet().state_dict())


@pytest.fixture
def big_file(server: WeightsServer) -> Path:
    """A valid weights file about five download chunks long."""
    floats = 5 * weights.DOWNLOAD_CHUNK_SIZE // 4
    return _publish(server.root, "big", {"w": torch.arange(floats, dtype=torch.float32)})


# --- names, cache folder, mirrors -------------------------------------------------------------


def test_expected_hash_prefix_follows_torch_hub_convention() -> None:
    assert expected_hash_prefix("resnet18-f37072fd.pth") == "f37072fd"
    assert expected_hash_prefix("efficientnet_b0_rwightman-7f5810bc.pth") == "7f5810bc"
    assert expected_hash_prefix("resnet18.pth") is None
    assert expected_hash_prefix("resnet18-.pth") is None


def test_hub_checkpoint_dir_follows_torch_home(tmp_path: Path) -> None:
    assert hub_checkpoint_dir() == tmp_path / "torch_home" / "hub" / "checkpoints"


def test_resolve_url_uses_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert resolve_url(url) == url
    assert resolve_url(url, "http://mirror/w/") == "http://mirror/w/resnet18-f37072fd.pth"
    assert resolve_url(url, "http://mirror/w") == "http://mirror/w/resnet18-f37072fd.pth"
    monkeypatch.setenv(BASE_URL_ENV, "file:///media/usb/")
    assert resolve_url(url) == "file:///media/usb/resnet18-f37072fd.pth"
    assert resolve_url(url, "http://other") == "http://other/resnet18-f37072fd.pth"
    assert resolve_url(url, "") == url


def test_cached_weights_path_finds_file_in_hub_cache() -> None:
    url = "https://example.invalid/models/tiny-0123abcd.pth"
    assert cached_weights_path(url) is None
    hub_checkpoint_dir().mkdir(parents=True)
    (hub_checkpoint_dir() / "tiny-0123abcd.pth").write_bytes(b"x")
    assert cached_weights_path(url) == hub_checkpoint_dir() / "tiny-0123abcd.pth"


# --- download --------------------------------------------------------------------------------


def test_download_reports_progress_and_lands_in_dest_dir(
    server: WeightsServer, big_file: Path, tmp_path: Path
) -> None:
    reports: list[tuple[int, int | None]] = []
    dest = tmp_path / "dest"
    path = download_weights(
        server.url(big_file.name),
        dest_dir=dest,
        progress=lambda done, total: reports.append((done, total)),
    )
    size = big_file.stat().st_size
    assert path == dest / big_file.name
    assert path.read_bytes() == big_file.read_bytes()
    assert _files_in(dest) == [big_file.name]
    assert len(reports) >= 5
    assert [done for done, _ in reports] == sorted({done for done, _ in reports})
    assert reports[-1] == (size, size)
    assert all(total == size for _, total in reports)


def test_download_defaults_to_hub_cache_and_is_reused_without_request(
    server: WeightsServer, tiny_file: Path
) -> None:
    url = server.url(tiny_file.name)
    path = download_weights(url)
    assert path == hub_checkpoint_dir() / tiny_file.name
    assert cached_weights_path(url) == path
    assert len(server.requests) == 1
    assert download_weights(url) == path
    assert len(server.requests) == 1


def test_download_with_dest_dir_is_reused_without_request(
    server: WeightsServer, tiny_file: Path, tmp_path: Path
) -> None:
    url = server.url(tiny_file.name)
    first = download_weights(url, dest_dir=tmp_path / "dest")
    assert download_weights(url, dest_dir=tmp_path / "dest") == first
    assert server.requests == [f"/{tiny_file.name}"]


def test_download_hash_mismatch_raises_and_leaves_no_file(
    server: WeightsServer, tmp_path: Path
) -> None:
    data = _torch_bytes(TinyNet().state_dict())
    actual = hashlib.sha256(data).hexdigest()[:8]
    claimed = "".join("0" if c != "0" else "1" for c in actual)
    (server.root / f"tiny-{claimed}.pth").write_bytes(data)
    dest = tmp_path / "dest"
    with pytest.raises(WeightsError) as caught:
        download_weights(server.url(f"tiny-{claimed}.pth"), dest_dir=dest)
    assert claimed in str(caught.value) and actual in str(caught.value)
    assert _files_in(dest) == []


def test_download_http_error_names_status_and_import_route(
    server: WeightsServer, tmp_path: Path
) -> None:
    url = server.url("missing-0123abcd.pth")
    with pytest.raises(WeightsError) as caught:
        download_weights(url, dest_dir=tmp_path / "dest")
    message = str(caught.value)
    assert "404" in message and url in message
    assert "Import weights file" in message and "--import" in message and BASE_URL_ENV in message
    assert _files_in(tmp_path / "dest") == []


def test_download_when_offline_explains_how_to_import(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}/tiny-0123abcd.pth"
    with pytest.raises(WeightsError) as caught:
        download_weights(url, dest_dir=tmp_path / "dest", timeout=5)
    message = str(caught.value)
    assert "offline" in message and url in message and "Import weights file" in message
    assert _files_in(tmp_path / "dest") == []


def test_download_cut_short_raises_and_leaves_no_file(
    server: WeightsServer, big_file: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(WeightsError) as caught:
        download_weights(f"{server.base_url}/short/{big_file.name}", dest_dir=dest)
    assert "broke off" in str(caught.value)
    assert _files_in(dest) == []


def test_download_cancelled_mid_way_leaves_no_file(
    server: WeightsServer, big_file: Path, tmp_path: Path
) -> None:
    token = CancelToken()
    reports: list[int] = []

    def cancel_after_first_chunk(done: int, total: int | None) -> None:
        reports.append(done)
        token.cancel()

    dest = tmp_path / "dest"
    with pytest.raises(Cancelled):
        download_weights(
            server.url(big_file.name),
            dest_dir=dest,
            progress=cancel_after_first_chunk,
            cancel=token,
        )
    assert len(reports) == 1 and reports[0] < big_file.stat().st_size
    assert _files_in(dest) == []


def test_download_cancelled_before_start_makes_no_request(
    server: WeightsServer, tiny_file: Path
) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        download_weights(server.url(tiny_file.name), cancel=token)
    assert server.requests == []


@pytest.mark.parametrize("via", ["argument", "environment"])
def test_download_base_url_override_fetches_from_mirror(
    server: WeightsServer,
    tiny_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    via: str,
) -> None:
    published_url = f"{UNREACHABLE_BASE}/{tiny_file.name}"
    base_url = None
    if via == "argument":
        base_url = server.base_url + "/"
    else:
        monkeypatch.setenv(BASE_URL_ENV, server.base_url)
    path = download_weights(published_url, base_url=base_url, dest_dir=tmp_path / "dest")
    assert path.read_bytes() == tiny_file.read_bytes()
    assert server.requests == [f"/{tiny_file.name}"]


def test_download_from_file_url_mirror(tmp_path: Path) -> None:
    published = _publish(tmp_path / "usb", "tiny", TinyNet().state_dict())
    path = download_weights(
        f"{UNREACHABLE_BASE}/{published.name}",
        base_url=(tmp_path / "usb").as_uri(),
        dest_dir=tmp_path / "dest",
    )
    assert path.read_bytes() == published.read_bytes()


# --- import ----------------------------------------------------------------------------------


def test_import_copies_good_file_under_expected_name(tmp_path: Path) -> None:
    source = _publish(tmp_path / "downloads", "tiny", TinyNet().state_dict())
    renamed = source.with_name("tiny.pth")  # the user renamed it: the content still decides
    renamed.write_bytes(source.read_bytes())
    for chosen in (source, renamed):
        path = import_weights_file(chosen, source.name, dest_dir=tmp_path / "cache")
        assert path == tmp_path / "cache" / source.name
        assert path.read_bytes() == source.read_bytes()
    assert _files_in(tmp_path / "cache") == [source.name]


def test_import_defaults_to_hub_cache_so_download_finds_it(tmp_path: Path) -> None:
    source = _publish(tmp_path / "downloads", "tiny", TinyNet().state_dict())
    imported = import_weights_file(str(source), source.name)
    assert imported == hub_checkpoint_dir() / source.name
    assert download_weights(f"{UNREACHABLE_BASE}/{source.name}") == imported  # no network needed


def test_import_rejects_other_weights(tmp_path: Path) -> None:
    expected = _publish(tmp_path / "downloads", "tiny", TinyNet().state_dict())
    other = tmp_path / "downloads" / "tiny.pth"
    other.write_bytes(_torch_bytes(TinyNet(width=8).state_dict()))
    with pytest.raises(WeightsError) as caught:
        import_weights_file(other, expected.name, dest_dir=tmp_path / "cache")
    assert "not the expected weights" in str(caught.value)
    assert caught.value.path == str(other)
    assert _files_in(tmp_path / "cache") == []


def test_import_rejects_file_whose_content_does_not_match_its_name(tmp_path: Path) -> None:
    source = _publish(tmp_path / "downloads", "tiny", TinyNet().state_dict())
    source.write_bytes(source.read_bytes()[:-10])  # damaged copy
    with pytest.raises(WeightsError):
        import_weights_file(source, "tiny.pth", dest_dir=tmp_path / "cache")
    assert _files_in(tmp_path / "cache") == []


def test_import_missing_file_names_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "tiny-0123abcd.pth"
    with pytest.raises(WeightsError) as caught:
        import_weights_file(missing, missing.name, dest_dir=tmp_path / "cache")
    assert str(missing) in str(caught.value)


# --- safe loading ----------------------------------------------------------------------------


class _TouchesMarkerWhenUnpickled:
    """Unpickling this calls `Path(marker).touch()`: a stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (self.marker.touch, ())


def _assert_same_tensors(
    loaded: dict[str, torch.Tensor], original: dict[str, torch.Tensor]
) -> None:
    assert loaded.keys() == original.keys()
    assert all(torch.equal(loaded[k], original[k]) for k in original)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"model": sd},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
        lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
    ],
    ids=["plain", "state_dict", "model", "dataparallel", "wrapped-dataparallel"],
)
def test_load_state_dict_file_unwraps_common_layouts(tmp_path: Path, wrap) -> None:
    original = TinyNet().state_dict()
    path = tmp_path / "w.pth"
    torch.save(wrap(original), path)
    _assert_same_tensors(load_state_dict_file(path), original)


def test_load_state_dict_file_refuses_code_and_never_runs_it(tmp_path: Path) -> None:
    # Prove the payload is real: plain pickle runs it.
    proof_marker = tmp_path / "proof"
    pickle.loads(pickle.dumps(_TouchesMarkerWhenUnpickled(proof_marker)))
    assert proof_marker.exists()

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"fc.weight": torch.zeros(2), "payload": _TouchesMarkerWhenUnpickled(marker)}, path)
    with pytest.raises(WeightsError) as caught:
        load_state_dict_file(path)
    assert "refused" in str(caught.value) and "could run code" in str(caught.value)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["text", "random", "truncated", "empty"])
def test_load_state_dict_file_rejects_non_torch_files(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "w.pth"
    if kind == "text":
        path.write_text("these are not weights\n")
    elif kind == "random":
        path.write_bytes(random.Random(0).randbytes(4096))
    elif kind == "truncated":
        path.write_bytes(_torch_bytes(TinyNet().state_dict())[:500])
    else:
        path.write_bytes(b"")
    with pytest.raises(WeightsError) as caught:
        load_state_dict_file(path)
    assert "not a PyTorch weights file" in str(caught.value)
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    "content",
    [[torch.zeros(2)], {"lr": 0.1, "name": "x"}, {}],
    ids=["list", "no-tensors", "empty-dict"],
)
def test_load_state_dict_file_rejects_files_without_weights_dict(
    tmp_path: Path, content: object
) -> None:
    path = tmp_path / "w.pth"
    torch.save(content, path)
    with pytest.raises(WeightsError, match="does not contain a weights dictionary"):
        load_state_dict_file(path)


def test_load_state_dict_file_missing(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        load_state_dict_file(tmp_path / "nope.pth")


# --- load_into -------------------------------------------------------------------------------


def test_load_into_loads_matching_weights() -> None:
    source, target = TinyNet(), TinyNet()
    load_into(target, source.state_dict(), what="TinyNet")
    _assert_same_tensors(target.state_dict(), source.state_dict())


def test_load_into_explains_shape_mismatch() -> None:
    with pytest.raises(WeightsError) as caught:
        load_into(TinyNet(classes=2), TinyNet(classes=10).state_dict(), what="TinyNet")
    message = str(caught.value)
    assert message.startswith(
        "The weights file does not fit TinyNet: 2 tensors have other shapes ("
    )
    assert "fc.weight: file [10, 4], model [2, 4]; fc.bias: file [10], model [2])" in message
    assert "another architecture" in message


def test_load_into_explains_missing_and_unexpected_keys() -> None:
    with pytest.raises(WeightsError) as caught:
        load_into(TinyNetWithHead(), TinyNet().state_dict(), what="TinyNet+head")
    assert "2 keys missing (head.weight, head.bias)" in str(caught.value)
    with pytest.raises(WeightsError) as caught:
        load_into(TinyNet(), TinyNetWithHead().state_dict(), what="TinyNet")
    assert "2 unexpected (head.weight, head.bias)" in str(caught.value)


def test_load_into_caps_long_lists() -> None:
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(6)])  # 12 keys
    with pytest.raises(WeightsError) as caught:
        load_into(model, {"other.weight": torch.zeros(1)}, what="Sequential")
    message = str(caught.value)
    assert "12 keys missing (0.weight, 0.bias, 1.weight, 1.bias, 2.weight and 7 more)" in message
    assert "1 unexpected (other.weight)" in message
