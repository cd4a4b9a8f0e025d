"""Pretrained backbone weights: the torch hub cache, downloading, importing and safe loading.

torchvision names weight files like ``resnet18-f37072fd.pth``: the hex digits after the last ``-``
start the file's SHA-256 (torch.hub's ``check_hash`` convention). Files live in torch's hub cache
(``$TORCH_HOME/hub/checkpoints``) under that name, whether torchvision, `download_weights` or
`import_weights_file` put them there. They are only ever read with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pickle
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Callable, Mapping, Optional

import torch

from ..atomic import atomic_write
from ..errors import Cancelled, WeightsError
from ..jobs import CancelToken

BASE_URL_ENV = "TRANSFER_GUI_WEIGHTS_BASE_URL"
"""Environment variable naming a mirror (http(s):// or file://) that serves the weight files."""

DOWNLOAD_CHUNK_SIZE = 256 * 1024
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")
_WRAPPER_KEYS = ("state_dict", "model")
_MAX_NAMES_LISTED = 5
# Parts of torch's WeightsUnpickler messages that mean "a forbidden object", not "garbage bytes".
_UNSAFE_OBJECT_HINTS = re.compile(r"GLOBAL|global|reduce|Can only (create|build)")

DownloadProgress = Callable[[int, Optional[int]], None]


def hub_checkpoint_dir() -> Path:
    """Return torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``); it may not exist."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def expected_hash_prefix(filename: str) -> str | None:
    """Return the SHA-256 hex prefix a torchvision-style file name carries, or None.

    Args:
        filename: A file name such as ``resnet18-f37072fd.pth``.
    """
    match = _HASH_IN_NAME.search(filename)
    return match.group(1) if match and match.group(1) else None


def _filename_of(url: str) -> str:
    name = os.path.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise WeightsError(f"The weights URL {url!r} does not end in a file name.")
    return name


def resolve_url(url: str, base_url: str | None = None) -> str:
    """Return where to fetch ``url`` from, honouring a mirror.

    Args:
        url: The published weights URL.
        base_url: A mirror folder URL; when None, ``$TRANSFER_GUI_WEIGHTS_BASE_URL`` is used if set.
            An empty string disables the mirror.

    Returns:
        ``base_url`` + ``/`` + the URL's file name, or ``url`` unchanged when there is no mirror.
    """
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV) or None
    if not base_url:
        return url
    return base_url.rstrip("/") + "/" + _filename_of(url)


def cached_weights_path(url: str) -> Path | None:
    """Return the hub-cache file named like ``url``'s file name, or None if it is not there."""
    path = hub_checkpoint_dir() / _filename_of(url)
    return path if path.is_file() else None


def _how_to_get_it_in(url: str) -> str:
    return (
        f"To use these weights anyway, download {url} on a computer with internet access and "
        "import it with 'Import weights file' (GUI) or `transfer-gui backbones --import NAME FILE` "
        f"(CLI), or set {BASE_URL_ENV} to a mirror that serves the same files."
    )


def _check_hash(digest: str, filename: str, what: str, sha256: str | None = None) -> None:
    """The file's digest against the hash prefix in its name and, when given, the whole
    published `sha256` (for files whose name carries none)."""
    prefix = expected_hash_prefix(filename)
    if prefix is not None and not digest.startswith(prefix):
        raise WeightsError(
            f"{what} is damaged or not the published file: its name {filename} says its SHA-256 "
            f"starts with {prefix}, but it starts with {digest[: len(prefix)]}."
        )
    if sha256 is not None and digest != sha256.lower():
        raise WeightsError(
            f"{what} is damaged or not the published {filename}: its SHA-256 is {digest}, the "
            f"published file's {sha256.lower()}."
        )


def download_weights(
    url: str,
    *,
    base_url: str | None = None,
    progress: DownloadProgress | None = None,
    cancel: CancelToken | None = None,
    dest_dir: Path | None = None,
    timeout: float = 30.0,
    sha256: str | None = None,
) -> Path:
    """Return the cached weights for ``url``, downloading them first if needed.

    The file is streamed into a temporary file beside its final place while hashing it, checked
    against the hash prefix in its name, then renamed into place: no partial file is ever left.

    Args:
        url: The published weights URL (its file name is the cache file name).
        base_url: A mirror to fetch from instead (see `resolve_url`).
        progress: Called as ``progress(bytes_done, total_bytes_or_None)`` after each chunk.
        cancel: Polled before each chunk.
        dest_dir: Where to store the file; defaults to `hub_checkpoint_dir`.
        timeout: Seconds to wait for the server on each network operation.
        sha256: The published file's whole SHA-256, for a file name without a hash prefix.

    Returns:
        The path of the weights file.

    Raises:
        WeightsError: The download failed, the file is damaged, or it cannot be written.
        Cancelled: ``cancel`` was set.
    """
    filename = _filename_of(url)
    target = (Path(dest_dir) if dest_dir is not None else hub_checkpoint_dir()) / filename
    if target.is_file():
        return target
    source = resolve_url(url, base_url)
    if cancel is not None:
        cancel.raise_if_cancelled()

    def fetch(out: IO[bytes]) -> None:
        with urllib.request.build_opener().open(source, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            digest = hashlib.sha256()
            done = 0
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                chunk = response.read(DOWNLOAD_CHUNK_SIZE)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            if total is not None and done != total:
                raise http.client.IncompleteRead(b"", total - done)
        _check_hash(digest.hexdigest(), filename, f"The file downloaded from {source}", sha256)

    try:
        return atomic_write(target, fetch)
    except (WeightsError, Cancelled):
        raise
    except (OSError, http.client.HTTPException) as error:  # network (URLError ...) or disk errors
        raise _download_error(error, source, url, target.parent) from error


def _download_error(error: Exception, source: str, url: str, folder: Path) -> WeightsError:
    """Explain a failed download of ``source`` (the mirror's or the published ``url``)."""
    if isinstance(error, urllib.error.HTTPError):
        error.close()  # it holds the open response
        problem = f"the server refused it (HTTP {error.code} {error.reason})"
    elif isinstance(error, http.client.IncompleteRead):
        problem = "the connection broke off before the whole file arrived; try again"
    elif isinstance(error, urllib.error.URLError) and source.startswith("file:"):
        problem = f"the file cannot be read ({error.reason})"
    elif isinstance(error, (urllib.error.URLError, TimeoutError, ConnectionError)):
        problem = (
            "this computer seems to be offline, or the server cannot be reached or refused the "
            f"connection ({getattr(error, 'reason', None) or error})"
        )
    elif isinstance(error, http.client.HTTPException):
        problem = f"the server sent a broken reply ({type(error).__name__}: {error})"
    else:  # a local OSError: the cache folder is not writable, the disk is full, ...
        return WeightsError(f"Could not save the weights to {folder}: {error}", path=str(folder))
    return WeightsError(f"Could not download {source}: {problem}. {_how_to_get_it_in(url)}")


def import_weights_file(
    src: str | Path, expected_filename: str, *, dest_dir: Path | None = None,
    sha256: str | None = None,
) -> Path:
    """Copy a local weights file into the cache under ``expected_filename``.

    The content is checked against the hash prefix in ``expected_filename`` (so a file the user
    renamed to ``resnet18.pth`` must still be the published weights) and, if the source file's
    own name carries one, against that too.

    Args:
        src: The file the user chose.
        expected_filename: The published URL's file name, e.g. ``resnet18-f37072fd.pth``.
        dest_dir: Where to store it; defaults to `hub_checkpoint_dir`.

    Returns:
        The path of the imported file.

    Raises:
        WeightsError: ``src`` is missing or unreadable, or is not the expected weights.
    """
    source = Path(src)
    if not source.is_file():
        raise WeightsError(f"The weights file {source} does not exist.", path=str(source))
    target = (Path(dest_dir) if dest_dir is not None else hub_checkpoint_dir()) / expected_filename
    expected = expected_hash_prefix(expected_filename)

    def copy(out: IO[bytes]) -> None:
        hasher = hashlib.sha256()
        with source.open("rb") as f:
            while chunk := f.read(DOWNLOAD_CHUNK_SIZE):
                hasher.update(chunk)
                out.write(chunk)
        digest = hasher.hexdigest()
        _check_hash(digest, source.name, f"The weights file {source}")
        if sha256 is not None and digest != sha256.lower():
            raise WeightsError(
                f"{source} is not the published {expected_filename}: its SHA-256 is {digest}, "
                f"the published file's {sha256.lower()}. Choose the file downloaded from the "
                f"backbone's weights URL.", path=str(source))
        if expected is not None and not digest.startswith(expected):
            raise WeightsError(
                f"{source} is not the expected weights for this backbone: its SHA-256 starts "
                f"with {digest[: len(expected)]}, the published {expected_filename} with "
                f"{expected}. Choose the file downloaded from the backbone's weights URL.",
                path=str(source),
            )

    if target.is_file() and target.samefile(source):
        with open(os.devnull, "wb") as nowhere:  # already in place: only verify it
            copy(nowhere)
        return target
    try:
        return atomic_write(target, copy)
    except WeightsError as error:
        error.path = error.path or str(source)
        raise
    except OSError as error:
        message = f"Could not import {source} into {target.parent}: {error}"
        raise WeightsError(message, path=str(source)) from error


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Safely read a weights file (``torch.load`` with ``weights_only=True``) into a state dict.

    ``{"state_dict": ...}`` / ``{"model": ...}`` wrappers are unwrapped and a ``module.`` prefix
    on every key (from ``nn.DataParallel``) is removed.

    Raises:
        WeightsError: The file is missing, not a torch file, unsafe, or holds no weights dict.
    """
    file = Path(path)
    if not file.is_file():
        raise WeightsError(f"The weights file {file} does not exist.", path=str(file))
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        detail = str(error).rpartition("WeightsUnpickler error:")[2]
        if _UNSAFE_OBJECT_HINTS.search(detail):
            raise WeightsError(
                f"{file} was refused: the file contains Python objects other than weights, which "
                "could run code when loaded; only plain weights files are accepted.",
                path=str(file),
            ) from error
        raise _not_a_weights_file(file) from error
    except Exception as error:  # zip, EOF, legacy-format and storage errors all mean "corrupt"
        raise _not_a_weights_file(file) from error
    state_dict = _unwrap(loaded)
    if state_dict is None:
        raise WeightsError(
            f"{file} does not contain a weights dictionary (it holds a {type(loaded).__name__}).",
            path=str(file),
        )
    return state_dict


def _not_a_weights_file(file: Path) -> WeightsError:
    return WeightsError(
        f"{file} is not a PyTorch weights file, or it is damaged (an incomplete download?). "
        "Get the file again.",
        path=str(file),
    )


def _unwrap(loaded: object) -> dict[str, torch.Tensor] | None:
    if isinstance(loaded, Mapping):
        for key in _WRAPPER_KEYS:
            if _is_tensor_dict(loaded.get(key)):
                loaded = loaded[key]
                break
    if not _is_tensor_dict(loaded):
        return None
    state_dict = dict(loaded)  # type: ignore[arg-type]
    if all(key.startswith("module.") for key in state_dict):
        state_dict = {key[len("module."):]: value for key, value in state_dict.items()}
    return state_dict


def _is_tensor_dict(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )


def _listed(items: list[str], separator: str = ", ") -> str:
    rest = len(items) - _MAX_NAMES_LISTED
    return separator.join(items[:_MAX_NAMES_LISTED]) + (f" and {rest} more" if rest > 0 else "")


def load_into(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], *, what: str) -> None:
    """Load ``state_dict`` into ``model`` strictly, explaining any mismatch in plain words.

    Args:
        model: The freshly built network.
        state_dict: Weights, e.g. from `load_state_dict_file`.
        what: The architecture's display name, used in the error message.

    Raises:
        WeightsError: Keys are missing or unexpected, or tensors have other shapes; the message
            lists up to five of each.
    """
    expected = model.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    reshaped = [
        f"{key}: file {list(getattr(value, 'shape', ()))}, model {list(expected[key].shape)}"
        for key, value in state_dict.items()
        if key in expected and tuple(getattr(value, "shape", ())) != tuple(expected[key].shape)
    ]
    problems = []
    if reshaped:
        verb = "tensor has another shape" if len(reshaped) == 1 else "tensors have other shapes"
        problems.append(f"{len(reshaped)} {verb} ({_listed(reshaped, '; ')})")
    if missing:
        keys = "key" if len(missing) == 1 else "keys"
        problems.append(f"{len(missing)} {keys} missing ({_listed(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected ({_listed(unexpected)})")
    if problems:
        raise WeightsError(
            f"The weights file does not fit {what}: {', '.join(problems)}. "
            "It is probably for another architecture."
        )
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, TypeError) as error:
        raise WeightsError(f"The weights file does not fit {what}: {error}") from error
