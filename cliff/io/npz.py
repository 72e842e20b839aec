"""Bounded ``.npz`` reading: every member's header is checked against the archive and the
byte budget (:mod:`cliff.io.budget`) before NumPy allocates anything.

``np.load`` alone allocates what a member's ``.npy`` header declares before it reads the
data (a 200-byte member can declare 10^12 elements), and deflate expands up to ~1000x, so
the declared uncompressed sizes are charged to the file's :class:`~cliff.io.budget.Meter`
and every header must agree with its member's size.
"""
from __future__ import annotations

import collections
import io
import os
import struct
import tokenize
import zipfile
import zlib
from typing import Any, Dict, Optional

import numpy as np

from .budget import BudgetError, Meter, describe

__all__ = ["read_npz", "NPZ_ERRORS"]

#: What zipfile / zlib / numpy raise on a damaged archive (RuntimeError: an encrypted member;
#: tokenize.TokenError: a .npy header dict left open, which NumPy tokenizes before parsing).
NPZ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, RuntimeError,
              NotImplementedError, zlib.error, struct.error, KeyError, OSError,
              UnicodeDecodeError, SyntaxError, tokenize.TokenError, TypeError, IndexError,
              OverflowError)
_MAX_MEMBERS = 100_000
_MAX_HEADER = 1 << 16


def _member_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=_MAX_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=_MAX_HEADER)
        else:
            raise ValueError(f"{where}: {describe(info.filename)}: unsupported .npy version {version}")
        header_len = fh.tell()
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or \
                dtype.kind not in "biufcSU":
            raise ValueError(f"{where}: {describe(info.filename)}: dtype {dtype} is not allowed "
                             "(no object, structured or void arrays)")
        n = 1
        for s in shape:
            n *= int(s)
        nbytes = n * dtype.itemsize
        if header_len + nbytes != info.file_size:
            raise ValueError(f"{where}: {describe(info.filename)}: the header declares {nbytes} "
                             f"bytes of data, the member holds {info.file_size - header_len}")
        raw = fh.read(nbytes)
    if len(raw) != nbytes:
        raise ValueError(f"{where}: {describe(info.filename)} is truncated")
    a = np.frombuffer(raw, dtype=dtype, count=n).reshape(shape, order="F" if fortran else "C")
    return np.array(a, dtype=dtype.newbyteorder("=") if dtype.kind not in "SU" else dtype,
                    order="C", copy=True)


def read_npz(source: Any, meter: Meter, where: Optional[str] = None,
             keys: Optional[Any] = None) -> "collections.OrderedDict[str, np.ndarray]":
    """The arrays of an ``.npz`` archive (``source``: path or bytes), in archive order,
    C-contiguous and native-endian. ``keys``: read only these members (others are skipped,
    not charged). Raises ValueError (including :class:`BudgetError`) for anything that is
    not a plain npz within budget, FileNotFoundError/OSError if the file cannot be opened."""
    where = where or (os.fspath(source) if not isinstance(source, bytes) else "npz")
    f = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        zf = zipfile.ZipFile(f)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except NPZ_ERRORS as exc:
        raise ValueError(f"{where}: cannot read the .npz archive ({str(exc)[:200]})") from None
    out: "collections.OrderedDict[str, np.ndarray]" = collections.OrderedDict()
    with zf:
        infos = zf.infolist()
        if len(infos) > _MAX_MEMBERS:
            raise BudgetError(f"{where}: {len(infos)} archive members (at most {_MAX_MEMBERS})")
        wanted = []
        for info in infos:
            if not info.filename.endswith(".npy"):
                continue
            key = info.filename[:-4]
            if keys is not None and key not in keys:
                continue
            wanted.append((key, info))
        for key, info in wanted:  # charge all before reading any
            meter.charge(2 * info.file_size, f"member {describe(info.filename)}")
        for key, info in wanted:
            try:
                out[key] = _member_array(zf, info, where)
            except BudgetError:
                raise
            except NPZ_ERRORS as exc:
                msg = str(exc)
                if msg.startswith(where):
                    raise ValueError(msg[:400]) from None
                raise ValueError(f"{where}: cannot read {describe(info.filename)} from the .npz "
                                 f"archive ({msg[:200]})") from None
    return out


def npz_members(arrays: Dict[str, np.ndarray]) -> list:
    """Member names (for messages), cut to a bounded list."""
    names = list(arrays)[:20]
    return [describe(n, 40) for n in names] + (["..."] if len(arrays) > 20 else [])
