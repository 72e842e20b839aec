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
GOMP_SPINCOUNT = "200"  # the core's default spin before an OpenMP thread sleeps (see preload)


_wait = "not loaded yet"


def wait_setting() -> str:
    """How libgomp's idle workers wait, as set when cliff loaded it (cliff.info())."""
    return _wait


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
    # libgomp (loaded with libdnnl) reads its wait settings once, here. Its default spins
    # 300000 iterations at every barrier before sleeping: on a machine shared with other jobs a
    # spinning thread burns its time slice while the thread it waits for is descheduled (2
    # threads up to 8x slower than 1, docs/performance.md#threads). 200 keeps a little spin that
    # makes short layers cheap on an idle machine. A user's GOMP_SPINCOUNT or OMP_WAIT_POLICY
    # wins; the variable is removed again so that child processes and other libraries never
    # see it.
    global _wait
    ours = "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
    _wait = (f"GOMP_SPINCOUNT={GOMP_SPINCOUNT} (cliff's default)" if ours else
             ", ".join(f"{k}={os.environ[k]} (yours)" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
                       if k in os.environ))
    if ours:
        os.environ["GOMP_SPINCOUNT"] = GOMP_SPINCOUNT
    try:
        _handle = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
    finally:
        if ours:
            del os.environ["GOMP_SPINCOUNT"]
