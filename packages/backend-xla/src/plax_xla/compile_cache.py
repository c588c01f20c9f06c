"""The persistent compilation cache: serialized XLA executables on disk, so a new process loads
a program instead of compiling it again. Off unless the user names a directory
(`compilation_cache_dir` / PLAX_COMPILATION_CACHE_DIR; the entries are native code).

An entry's name is the sha256 of everything that shapes the executable: the StableHLO text, the
serialized compile options (replicas, device assignment, build options), XLA_FLAGS, the jaxlib
version, the PJRT platform and its version, and the device kinds. Its file is
MAGIC + key digest + sha256(payload) + payload, written atomically (a temporary file renamed
over it) and private to the user (0o600 files, 0o700 directories); a truncated, corrupted or
misplaced entry fails the checks and is compiled afresh, never handed to the runtime."""

from __future__ import annotations

import hashlib
import os
import pathlib
import threading
from typing import Any, Sequence

from plax_xla import _jaxlib as jl

_MAGIC = b"plax-xla-exe-2\n"
_HEAD = len(_MAGIC) + 64


def directory(config) -> pathlib.Path | None:
    """The cache directory the user configured (`compilation_cache_dir`, or its older name
    `xla_cache_dir`), or None when the cache is off."""
    for name in ("compilation_cache_dir", "xla_cache_dir"):
        try:
            value = config.value(name)
        except AttributeError:  # the plugin hook defines these options; a bare XlaBackend()
            continue
        if value:
            return pathlib.Path(os.path.expanduser(os.fspath(value)))
    return None


def key(client, platform: str, text: str, devices: Sequence[Any], num_replicas: int,
        num_partitions: int = 1, num_outputs: int = 0) -> bytes:
    """The sha256 digest naming the entry of `text` compiled for `devices` (partitioned over
    them with `num_partitions` > 1)."""
    h = hashlib.sha256()
    for part in (b"plax-xla-cache-2", jl.describe_environment().encode(),
                 jl.platform_version(client).encode(), platform.encode(),
                 ",".join(str(d.device_kind) for d in devices).encode(),
                 jl.compile_options_key(devices, num_replicas, num_partitions, num_outputs),
                 os.environ.get("XLA_FLAGS", "").encode(), text.encode()):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.digest()


def entry_path(root: pathlib.Path, digest: bytes) -> pathlib.Path:
    name = digest.hex()
    return root / name[:2] / name


def read(path: pathlib.Path, digest: bytes) -> bytes | None:
    """The payload stored at `path` for key `digest`, or None when it is missing or fails a
    check (wrong magic, another key, a hash that does not match: truncated or corrupted)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < _HEAD or not data.startswith(_MAGIC):
        return None
    stored_key = data[len(_MAGIC):len(_MAGIC) + 32]
    stored_hash, payload = data[len(_MAGIC) + 32:_HEAD], data[_HEAD:]
    if stored_key != digest or hashlib.sha256(payload).digest() != stored_hash:
        return None
    return payload


def write(path: pathlib.Path, digest: bytes, payload: bytes) -> bool:
    """Store `payload` atomically, readable by this user only; False when the directory cannot
    be written (the cache is then skipped, the program still runs)."""
    tmp = None
    try:
        path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + digest + hashlib.sha256(payload).digest() + payload)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old entry or the new one
        return True
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False
