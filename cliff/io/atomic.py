"""Files written atomically: a reader sees the old content or the complete new one, never half.

Every writer of results (npz, glTF, BVH, shard parts, evaluation tables) goes through
:func:`write_atomic`: the bytes go to a temporary file in the target's folder, are flushed and
fsynced, then ``os.replace`` puts the file in place. Any failure or interrupt (e.g.
KeyboardInterrupt) removes the temporary file and leaves the target untouched.
"""
from __future__ import annotations

import os
import tempfile
from typing import IO, Callable

import numpy as np

__all__ = ["write_atomic", "save_npz_atomic"]


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(fh)`` on a binary file handle, then move the result to ``path`` atomically."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cliff-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_npz_atomic(path: str | os.PathLike, arrays: dict) -> None:
    """``np.savez(path, **arrays)`` written atomically (``path`` is used as given: no ``.npz``
    is appended)."""
    write_atomic(path, lambda fh: np.savez(fh, **arrays))
