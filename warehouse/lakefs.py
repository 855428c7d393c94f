"""Where a lake lives: a local path, an NFS mount, or a URI opened through ``pyarrow.fs.FileSystem.from_uri``.

Why two kinds: *writing* the live lake needs what only a POSIX filesystem gives — ``flock`` for the
writer lock, an atomic ``rename`` to make a file visible, ``fsync`` of a folder to make it durable — so
writers take a local path (or a ``file://`` URI, which is one) and refuse an object store with a message
that says why.  *Reading* needs none of it: a lake published to ``s3://``, ``gs://``, ``abfs://`` or
``hdfs://`` (``docs/scale-out.md``) is read through pyarrow's filesystem for the URI, with the same
file resolution as a local read (``lake.live_files``: superseded files dropped).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

from warehouse.errors import StorageError

__all__ = ["filesystem", "is_uri", "list_dir", "local_root", "read_json"]


def is_uri(root: Path | str) -> bool:
    """Whether *root* is a URI (``scheme://…``) rather than a path."""
    return isinstance(root, str) and "://" in root


def local_root(root: Path | str) -> Path:
    """*root* as a local path for writing: a path as it is, ``file:///x`` as ``/x``; an object store refused."""
    if not is_uri(root):
        return Path(root)
    parsed = urlparse(str(root))
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    raise StorageError(f"cannot write the lake at {root}: writers need a POSIX filesystem (a local path or an NFS "
                       "mount: flock, atomic rename, fsync); publish finished days to an object store instead "
                       "(docs/scale-out.md, \"The lake on shared storage\")")


def filesystem(root: Path | str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of *root* and the lake's path in it (``FileSystem.from_uri`` for a URI)."""
    if is_uri(root):
        try:
            return pafs.FileSystem.from_uri(str(root))
        except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise StorageError(f"cannot open the lake at {root}: {exc}") from exc
    return pafs.LocalFileSystem(), str(Path(root).resolve())


def list_dir(fs: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    """The entries of one folder (none when it does not exist)."""
    try:
        return fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
    except FileNotFoundError:
        return []


def read_json(fs: pafs.FileSystem, path: str) -> list | dict | None:
    """A small JSON file (a partition's superseded-files record), or None when it is absent."""
    try:
        with fs.open_input_stream(path) as fh:
            return json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read {path}: {exc}") from exc
