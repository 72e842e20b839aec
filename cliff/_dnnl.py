"""Locate and load oneDNN (libdnnl.so.3 from the onednn-cpu-gomp wheel) before the C core.

The extension also carries an $ORIGIN-relative RPATH to the wheel's lib folder; loading the
library here by absolute path makes editable installs and unusual prefixes work too. The
library is loaded RTLD_LOCAL so its symbols never leak into the global namespace (PyTorch,
imported in the same process by some users, carries its own oneDNN).
"""
from __future__ import annotations

import ctypes
import os
from importlib import metadata

_handle = None


def library_path() -> str | None:
    """Absolute path of the libdnnl.so.3 that cliff uses, or None if not found."""
    override = os.environ.get("CLIFF_DNNL_PREFIX")
    if override:
        cand = os.path.join(override, "lib", "libdnnl.so.3")
        return cand if os.path.exists(cand) else None
    try:
        files = metadata.files("onednn-cpu-gomp") or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        p = os.path.normpath(str(f.locate()))
        if p.endswith(os.sep + "lib" + os.sep + "libdnnl.so.3") and os.path.exists(p):
            return p
    return None


def preload() -> None:
    global _handle
    if _handle is not None:
        return
    path = library_path()
    if path is None:
        # Fall back to the extension's RPATH / the system loader; the import of _core will
        # raise a clear ImportError if that fails too.
        return
    _handle = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
