"""Internal: what the datatrove blocks share: the metadata keys, and files written whole on datatrove's file systems."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator

from datatrove.io import DataFolder

from ...archives import (
    InputError,
)
from ...auditing import (
    InputStats,
)

_READ_ERRORS = (OSError, ValueError, EOFError, RuntimeError, InputError)

# The metadata keys the reader sets and the filter reads.
_HEAD = "html_head"  # the decoded start of the payload, bytes as latin-1 text (lossless)
_HEAD_OBJ = "_noai_head"  # the Head the reader read, in process only (the filter pops it)
# What a reserving page reserves of the media it embeds (JSON: the policy's hash and the
# reservation), read by the reader while the record's payload is open (the body past the head);
# kept through storage between stages, popped by the filter.
_MEDIA = "noai_media"

# rank -> the reader's per-file counts and damage in this process, for the filter's summary record
# (the reader and the filter of one task run in one process, the reader's generator feeding the filter).
_TASK_INPUTS: dict[int, list[InputStats]] = {}


# --- files on datatrove's file systems ----------------------------------------------------------


@contextlib.contextmanager
def _local_copy(folder: DataFolder, name: str) -> Iterator[str]:
    """A local path for ``name`` of ``folder``: itself when local, else a temporary copy."""
    if folder.is_local():
        yield folder.resolve_paths(name)
        return
    tmp = tempfile.mkdtemp(prefix="noai-guard-")
    try:
        local = os.path.join(tmp, os.path.basename(name) or "input")
        folder.get_file(name, local)
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(folder: DataFolder, local: str, name: str) -> None:
    """Move the finished local file ``local`` to ``name`` in ``folder``, whole or not at all."""
    if folder.is_local():
        dest = folder.resolve_paths(name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(local, dest)  # same file system: written aside in the output folder
        return
    part = f"{name}.part-{uuid.uuid4().hex[:8]}"
    folder.put_file(local, part)
    folder.mv(part, name)
    os.unlink(local)


def _clear_aside(folder: DataFolder, name: str) -> None:
    """Remove what a killed earlier attempt of this task left aside for ``name`` (local folders)."""
    if not folder.is_local():
        return  # written to the machine's temporary folder, never beside the output
    dest = folder.resolve_paths(name)
    d, base = os.path.split(dest)
    with contextlib.suppress(OSError):
        for entry in os.listdir(d):
            if entry.startswith("." + base + ".") and entry.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(d, entry))


def _scratch(folder: DataFolder, name: str) -> str:
    """A local path to write ``name`` to before :func:`_publish` (beside it when the folder is local)."""
    if folder.is_local():
        dest = folder.resolve_paths(name)
        d = os.path.dirname(dest)
        os.makedirs(d, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="." + os.path.basename(dest) + ".", suffix=".tmp", dir=d)
    else:
        fd, path = tempfile.mkstemp(prefix="noai-guard-", suffix=".tmp")
    os.close(fd)
    return path
