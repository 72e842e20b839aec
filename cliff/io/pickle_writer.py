"""A minimal protocol-2 pickle writer that emits globals by name.

The standard pickler can only name a global it can import (``torch._utils._rebuild_tensor_v2``,
``chumpy.ch.Ch``, ``scipy.sparse.csc.csc_matrix``), so files in those formats cannot be
written without the libraries. This writer takes a tree of plain Python values plus the node
types below and writes the opcodes directly; it never imports the named modules.

``py2=True`` writes ``str`` and raw bytes as Python-2 byte strings (``BINSTRING``), the way
Python 2 wrote the official SMPL files; Python 3 reads them back with ``encoding='latin1'``.
"""
from __future__ import annotations

import struct
from typing import Any, BinaryIO

import numpy as np

__all__ = ["Global", "Reduce", "NewObj", "Build", "PersId", "PickleWriter", "ndarray_node",
           "dump"]


class Global:
    """``module.name`` written with the GLOBAL opcode."""
    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name


class Reduce:
    """``func(*args)`` (REDUCE), then optional dict items (SETITEMS)."""
    __slots__ = ("func", "args", "items")

    def __init__(self, func: Any, args: tuple, items: Any = None) -> None:
        self.func, self.args, self.items = func, args, items


class NewObj:
    """``cls.__new__(cls, *args)`` (NEWOBJ)."""
    __slots__ = ("cls", "args")

    def __init__(self, cls: Any, args: tuple = ()) -> None:
        self.cls, self.args = cls, args


class Build:
    """``obj`` then ``__setstate__(state)`` (BUILD)."""
    __slots__ = ("obj", "state")

    def __init__(self, obj: Any, state: Any) -> None:
        self.obj, self.state = obj, state


class PersId:
    """A persistent id (BINPERSID)."""
    __slots__ = ("pid",)

    def __init__(self, pid: Any) -> None:
        self.pid = pid


_BATCH = 1000


class PickleWriter:
    def __init__(self, fp: BinaryIO, *, py2: bool = False) -> None:
        self._w = fp.write
        self.py2 = py2

    def dump(self, obj: Any) -> None:
        self._w(b"\x80\x02")
        self.save(obj)
        self._w(b".")

    def save(self, obj: Any) -> None:
        w = self._w
        if obj is None:
            w(b"N")
        elif obj is True:
            w(b"\x88")
        elif obj is False:
            w(b"\x89")
        elif isinstance(obj, (int, np.integer)):
            self._int(int(obj))
        elif isinstance(obj, (float, np.floating)):
            w(b"G" + struct.pack(">d", float(obj)))
        elif isinstance(obj, str):
            if self.py2:
                self._binstring(obj.encode("latin1"))
            else:
                b = obj.encode("utf-8", "surrogatepass")
                w(b"X" + struct.pack("<I", len(b)) + b)
        elif isinstance(obj, (bytes, bytearray)):
            if self.py2:
                self._binstring(bytes(obj))
            elif not obj:
                self.save(Reduce(Global("builtins", "bytes"), ()))
            else:
                self.save(Reduce(Global("_codecs", "encode"), (bytes(obj).decode("latin1"), "latin1")))
        elif isinstance(obj, tuple):
            if not obj:
                w(b")")
            elif len(obj) <= 3:
                for v in obj:
                    self.save(v)
                w(b"\x85\x86\x87"[len(obj) - 1:len(obj)])
            else:
                w(b"(")
                for v in obj:
                    self.save(v)
                w(b"t")
        elif isinstance(obj, list):
            w(b"]")
            for i in range(0, len(obj), _BATCH):
                w(b"(")
                for v in obj[i:i + _BATCH]:
                    self.save(v)
                w(b"e")
        elif isinstance(obj, dict):
            w(b"}")
            self._setitems(obj)
        elif isinstance(obj, Global):
            w(b"c" + obj.module.encode("ascii") + b"\n" + obj.name.encode("ascii") + b"\n")
        elif isinstance(obj, Reduce):
            self.save(obj.func)
            self.save(tuple(obj.args))
            w(b"R")
            if obj.items:
                self._setitems(obj.items)
        elif isinstance(obj, NewObj):
            self.save(obj.cls)
            self.save(tuple(obj.args))
            w(b"\x81")
        elif isinstance(obj, Build):
            self.save(obj.obj)
            self.save(obj.state)
            w(b"b")
        elif isinstance(obj, PersId):
            self.save(obj.pid)
            w(b"Q")
        else:
            raise TypeError(f"cannot write {type(obj).__name__} to the pickle")

    def _setitems(self, d: dict) -> None:
        items = list(d.items())
        for i in range(0, len(items), _BATCH):
            self._w(b"(")
            for k, v in items[i:i + _BATCH]:
                self.save(k)
                self.save(v)
            self._w(b"u")

    def _int(self, v: int) -> None:
        if 0 <= v < 256:
            self._w(b"K" + bytes([v]))
        elif 0 <= v < 65536:
            self._w(b"M" + struct.pack("<H", v))
        elif -(1 << 31) <= v < (1 << 31):
            self._w(b"J" + struct.pack("<i", v))
        else:
            n = (v.bit_length() + 8) // 8  # two's complement, room for the sign bit
            b = v.to_bytes(n, "little", signed=True)
            self._w(b"\x8a" + bytes([n]) + b)

    def _binstring(self, b: bytes) -> None:
        if len(b) < 256:
            self._w(b"U" + bytes([len(b)]) + b)
        else:
            self._w(b"T" + struct.pack("<I", len(b)) + b)


def ndarray_node(a: np.ndarray, *, py2: bool = False) -> Build:
    """Node for an ndarray as NumPy pickles it (``_reconstruct`` + BUILD with raw bytes).
    ``py2`` uses the module name NumPy had then (``numpy.core``) and Python-2 dtype args."""
    a = np.asarray(a)
    if a.dtype.hasobject or a.dtype.fields is not None:
        raise TypeError("only plain numeric arrays can be written")
    a = np.asarray(a, order="C")
    code = a.dtype.str[1:]
    if a.dtype.byteorder not in "|":
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    endian = "|" if a.dtype.itemsize == 1 or a.dtype.kind == "b" else "<"
    mod = "numpy.core.multiarray" if py2 else "numpy._core.multiarray"
    dtype = Build(Reduce(Global("numpy", "dtype"), (code, 0, 1) if py2 else (code, False, True)),
                  (3, endian, None, None, None, -1, -1, 0))
    recon = Reduce(Global(mod, "_reconstruct"), (Global("numpy", "ndarray"), (0,), b"b"))
    return Build(recon, (1, tuple(int(s) for s in a.shape), dtype, False, a.tobytes()))


def dump(obj: Any, fp: BinaryIO, *, py2: bool = False) -> None:
    PickleWriter(fp, py2=py2).dump(obj)
