"""Restricted unpickling: read the pickles inside checkpoints and SMPL files without running
any code they contain.

Security model
--------------
A pickle is a small program. The only ways it can reach code are

* ``GLOBAL`` / ``STACK_GLOBAL`` / ``INST`` / extension codes, which all go through
  :meth:`RestrictedUnpickler.find_class`. It returns objects from a fixed allowlist
  (:data:`ALLOWLIST`); every other ``module.name`` raises :class:`UnsafePickleError`
  naming it. Real library functions are never handed out: each allowlisted name maps to a
  stand-in written here that validates its arguments (e.g. ``numpy.core.multiarray.
  _reconstruct`` accepts only the ``ndarray`` marker, ``_codecs.encode`` only latin-1).
* ``REDUCE`` / ``NEWOBJ`` / ``OBJ`` can only call what ``find_class`` returned (or a type
  check fails), so they only ever call the stand-ins and a few inert builtins
  (``set``, ``frozenset``, ``object``, ``OrderedDict``).
* ``BUILD`` calls ``__setstate__`` of the object on the stack. Every object a stand-in can
  return is either one of our proxy classes (whose ``__setstate__`` validates its state) or an
  inert builtin without ``__setstate__`` (``set``, ``bytes``, ``tuple``: BUILD fails).
  NumPy objects are never exposed during loading: arrays, dtypes and scalars are built
  afterwards from validated state by :func:`resolve`, so NumPy's own ``__setstate__``
  (which trusts its input) never runs on file data.
* ``PERSID`` / ``BINPERSID`` go to :meth:`persistent_load`, which refuses unless the
  caller installed a validating handler (the PyTorch reader does).

The allowlist is split into groups: ``"numpy"`` (always on), ``"torch"`` (checkpoints) and
``"smpl"`` (chumpy ``Ch`` and SciPy sparse matrices, mapped to :class:`ChArray` and
:class:`SparseMatrix`).
"""
from __future__ import annotations

import collections
import contextvars
import io
import pickle
import pickletools
import re
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

import numpy as np

from .budget import BudgetError, Meter, describe, get_budget

__all__ = [
    "UnsafePickleError",
    "RestrictedUnpickler",
    "restricted_load",
    "resolve",
    "ChArray",
    "SparseMatrix",
    "InertObject",
    "ALLOWLIST",
]

#: The Meter of the load in progress (stand-ins charge the bytes they copy to it).
_METER: "contextvars.ContextVar[Optional[Meter]]" = contextvars.ContextVar("cliff_unpickle_meter",
                                                                          default=None)
_MAX_SIZE = 1 << 62  # no size, offset or stride in a pickle may reach this


def _charge(nbytes: int, what: str) -> None:
    meter = _METER.get()
    if meter is not None:
        meter.charge(nbytes, what)


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """The pickle asked for something outside the allowlist (a global, a persistent id kind,
    a constructor argument). Nothing from the file was executed. It is also a ValueError, so
    callers that catch ValueError for "bad file" catch it too."""


# --------------------------------------------------------------------------------------------
# NumPy proxies. The real objects are created in resolve(), from validated state only.

# Dtype codes a pickle may name: booleans, (unsigned) integers, floats, complex. No object,
# void, string, datetime or structured dtypes.
_DTYPE_CODE = re.compile(r"^[<>|=]?(b1|bool|[iu][1248]|f[248]|c(8|16)|float(16|32|64)|"
                         r"u?int(8|16|32|64)|complex(64|128))$")


def _dtype_from_code(code: Any) -> np.dtype:
    if isinstance(code, bytes):
        code = code.decode("latin1")
    if not isinstance(code, str) or not _DTYPE_CODE.match(code):
        raise UnsafePickleError(f"numpy.dtype({describe(code)}) is not an allowed dtype "
                                "(only bool, integer, float and complex dtypes)")
    dt = np.dtype(code)
    if dt.hasobject or dt.fields is not None or dt.subdtype is not None:  # pragma: no cover
        raise UnsafePickleError(f"numpy.dtype({code!r}) is not an allowed dtype")
    return dt


class _DtypeProxy:
    """Stands for ``numpy.dtype(code, align, copy)`` followed by an optional BUILD."""

    __slots__ = ("dtype",)

    def __init__(self, code: Any, *_ignored: Any) -> None:
        self.dtype = _dtype_from_code(code)

    def __setstate__(self, state: Any) -> None:
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not isinstance(state, tuple) or len(state) not in (8, 9):
            raise UnsafePickleError(f"numpy.dtype state ({describe(state)}) has an unexpected form")
        byteorder = state[1]
        if isinstance(byteorder, bytes):
            byteorder = byteorder.decode("latin1")
        if byteorder not in ("<", ">", "|", "="):
            raise UnsafePickleError(f"numpy.dtype byte order {describe(byteorder)} is not valid")
        if state[2] is not None or state[3] is not None or state[4] is not None:
            raise UnsafePickleError("structured or sub-array numpy dtypes are not allowed")
        if byteorder in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(byteorder)


def _as_dtype(d: Any) -> np.dtype:
    if isinstance(d, _DtypeProxy):
        return d.dtype
    raise UnsafePickleError(f"expected a numpy.dtype, got {describe(d)}")


def _raw_bytes(data: Any, what: str) -> bytes:
    if isinstance(data, str):  # Python-2 str read with encoding='latin1'
        return data.encode("latin1")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    raise UnsafePickleError(f"{what}: expected raw bytes, got {describe(data)}")


def _check_shape(shape: Any, what: str) -> tuple:
    if not isinstance(shape, (tuple, list)) or len(shape) > 32:
        raise UnsafePickleError(f"{what}: shape ({describe(shape)}) is not a tuple of sizes")
    out = []
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < _MAX_SIZE:
            raise UnsafePickleError(f"{what}: shape entry {describe(s)} is not a size")
        out.append(int(s))
    return tuple(out)


class _ArrayProxy:
    """Stands for ``numpy.core.multiarray._reconstruct(ndarray, ...)`` + BUILD."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: Optional[np.ndarray] = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsafePickleError("numpy array state has an unexpected form")
        if len(state) == 5:
            state = state[1:]
        shape, dtype, fortran, raw = state
        shape = _check_shape(shape, "numpy array")
        dt = _as_dtype(dtype)
        if not isinstance(raw, (str, bytes, bytearray)):
            raise UnsafePickleError(f"numpy array data: expected raw bytes, got {describe(raw)}")
        n = 1
        for s in shape:
            n *= s
        if n * dt.itemsize != len(raw):
            raise UnsafePickleError(f"numpy array of shape {shape} {dt} needs "
                                    f"{n * dt.itemsize} bytes, the pickle holds {len(raw)}")
        # the array is a copy (plus a latin-1 encoding for Python-2 strings): charge first
        _charge(len(raw) * (2 if isinstance(raw, str) else 1), "a numpy array")
        raw = _raw_bytes(raw, "numpy array data")
        a = np.frombuffer(raw, dtype=dt, count=n).reshape(shape, order="F" if fortran else "C")
        self.array = np.array(a, dtype=dt.newbyteorder("="), order="C", copy=True)


class _ScalarProxy:
    """Stands for ``numpy.core.multiarray.scalar(dtype, raw)``."""

    __slots__ = ("value",)

    def __init__(self, dtype: Any, raw: Any = None) -> None:
        dt = _as_dtype(dtype)
        raw = _raw_bytes(raw, "numpy scalar data")
        if len(raw) != dt.itemsize:
            raise UnsafePickleError(f"numpy scalar {dt} needs {dt.itemsize} bytes, got {len(raw)}")
        self.value = np.frombuffer(raw, dtype=dt)[0].astype(dt.newbyteorder("="))


class _NdarrayMarker:
    """What ``numpy.ndarray`` resolves to: only usable as _reconstruct's first argument."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise UnsafePickleError("numpy.ndarray may only be used as the type argument of "
                                "numpy.core.multiarray._reconstruct")


def _np_reconstruct(subtype: Any, shape: Any = None, dtype_arg: Any = None) -> _ArrayProxy:
    if subtype is not _NdarrayMarker:
        raise UnsafePickleError(f"numpy _reconstruct of {describe(getattr(subtype, '__name__', subtype))}"
                                " is not allowed (only numpy.ndarray)")
    return _ArrayProxy()


def _np_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> _ArrayProxy:
    proxy = _ArrayProxy()
    proxy.__setstate__((shape, dtype, order == "F", buf))
    return proxy


def _codecs_encode(obj: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    if not isinstance(obj, str) or str(encoding).lower().replace("_", "-") not in (
            "latin1", "latin-1", "iso-8859-1"):
        raise UnsafePickleError(f"_codecs.encode(..., {describe(encoding)}) is not allowed "
                                "(only latin-1 encoding of a str)")
    _charge(len(obj), "_codecs.encode")
    return obj.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    if args:
        raise UnsafePickleError("builtins.bytes with arguments is not allowed")
    return b""


def _checked_set(items: Iterable = ()) -> set:
    return set(_small_iterable(items, "builtins.set"))


def _checked_frozenset(items: Iterable = ()) -> frozenset:
    return frozenset(_small_iterable(items, "builtins.frozenset"))


def _small_iterable(items: Any, what: str) -> Iterable:
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise UnsafePickleError(f"{what}({type(items).__name__}) is not allowed")
    return [_atom_key(x, what) for x in items]


class _StateDict(collections.OrderedDict):
    """What ``collections.OrderedDict`` resolves to. BUILD may only attach inert attributes
    (PyTorch stores ``_metadata``); they are kept in ``pickle_attributes``. Constructed
    empty or from (key, value) pairs with atom keys (Python 2 pickled ``[[k, v], ...]``)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__()
        if not isinstance(items, (list, tuple)):
            raise UnsafePickleError(f"collections.OrderedDict({describe(items)}) is not allowed")
        for pair in items:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise UnsafePickleError("collections.OrderedDict: items must be (key, value) pairs")
            self[_atom_key(pair[0], "OrderedDict key")] = pair[1]

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise UnsafePickleError("OrderedDict state must be a dict")
        self.__dict__["pickle_attributes"] = dict(state)


# --------------------------------------------------------------------------------------------
# chumpy / SciPy stand-ins (SMPL files)

class ChArray:
    """Stand-in for ``chumpy.ch.Ch``: keeps the array the object wrapped (state key ``'x'``).
    The other state entries (chumpy's bookkeeping) are dropped."""

    def __init__(self, *args: Any) -> None:
        if args:
            raise UnsafePickleError("chumpy.ch.Ch(...) with arguments is not allowed")
        self.x = None

    x: Any = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or "x" not in state:
            raise UnsafePickleError("chumpy.ch.Ch state has no 'x' entry (only plain Ch "
                                    "objects wrapping an array are supported)")
        self.x = state["x"]

    def __repr__(self) -> str:
        return f"ChArray(x={describe(self.x)})"


class SparseMatrix:
    """Stand-in for a SciPy ``csc_matrix``/``csr_matrix`` read from a pickle. Keeps
    ``data``, ``indices``, ``indptr``, ``shape`` and ``format``; :meth:`toarray` densifies.

    SciPy has pickled the shape as ``_shape`` (all versions we know of) and, in some,
    ``shape``; both are accepted. ``maxprint``/``_maxprint``/``format`` and the index-sorting
    flags are ignored."""

    default_format = "csc"
    state: Any = None

    def __init__(self, *args: Any) -> None:
        if args:
            raise UnsafePickleError(f"scipy.sparse.{self.default_format}_matrix(...) with "
                                    "arguments is not allowed")
        self.format = self.default_format
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise UnsafePickleError("scipy.sparse matrix state must be a dict")
        self.state = dict(state)

    def toarray(self, meter: Optional[Meter] = None) -> np.ndarray:
        """Dense float64 (or the stored dtype) array; duplicates are summed like SciPy does.
        ``meter``: charged for the dense array before it is allocated."""
        return self._convert(meter, dense=True)

    def triplets(self) -> tuple:
        """``(shape, rows, cols, data)`` of the stored entries (int64, int64, stored dtype),
        checked like :meth:`toarray` but without densifying (duplicates are kept)."""
        return self._convert(None, dense=False)

    def _convert(self, meter: Optional[Meter], dense: bool) -> Any:
        st = self.state
        if st is None:
            raise ValueError("scipy.sparse matrix without state")
        shape = st.get("_shape", st.get("shape"))
        if (not isinstance(shape, (tuple, list)) or len(shape) != 2 or
                not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in shape)):
            raise ValueError(f"scipy.sparse matrix: shape ({describe(shape)}) is not (rows, cols)")
        nrows, ncols = (int(v) for v in shape)
        data, indices, indptr = (resolve(st.get(k)) for k in ("data", "indices", "indptr"))
        if not all(isinstance(x, np.ndarray) for x in (data, indices, indptr)):
            raise ValueError("scipy.sparse matrix: data, indices and indptr must be arrays")
        fmt = self.default_format
        nouter, ninner = (ncols, nrows) if fmt == "csc" else (nrows, ncols)
        if nrows < 0 or ncols < 0 or nrows * ncols > 1 << 31:
            raise ValueError(f"scipy.sparse matrix: shape {(nrows, ncols)} is not plausible")
        if data.dtype.kind not in "biufc":
            raise ValueError("scipy.sparse matrix: data is not a numeric array")
        if meter is not None:
            meter.charge(nrows * ncols * max(data.dtype.itemsize, 8), "a densified sparse matrix")
        if (data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1 or
                indptr.shape[0] != nouter + 1 or data.shape[0] != indices.shape[0] or
                indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu" or
                data.dtype.kind not in "biufc"):
            raise ValueError(f"scipy.sparse {fmt} matrix: data/indices/indptr have the wrong "
                             f"shapes or dtypes for shape {(nrows, ncols)}")
        indptr = indptr.astype(np.int64)
        if indptr[0] != 0 or indptr[-1] != data.shape[0] or np.any(np.diff(indptr) < 0):
            raise ValueError(f"scipy.sparse {fmt} matrix: indptr is not a valid index pointer")
        indices = indices.astype(np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= ninner):
            raise ValueError(f"scipy.sparse {fmt} matrix: an index is out of range")
        outer = np.repeat(np.arange(nouter, dtype=np.int64), np.diff(indptr))
        if not dense:
            rows, cols = (indices, outer) if fmt == "csc" else (outer, indices)
            return (nrows, ncols), rows, cols, data
        dense = np.zeros((nrows, ncols), dtype=np.result_type(data.dtype, np.float64)
                         if data.dtype.kind in "biu" else data.dtype)
        if fmt == "csc":
            np.add.at(dense, (indices, outer), data)
        else:
            np.add.at(dense, (outer, indices), data)
        return dense

    def __repr__(self) -> str:
        return f"SparseMatrix(format={self.default_format!r})"


class _CscMatrix(SparseMatrix):
    default_format = "csc"


class _CsrMatrix(SparseMatrix):
    default_format = "csr"


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Any:
    """``copy_reg._reconstructor`` (protocol 0/1 objects): only for the stand-in classes."""
    if cls not in _RECONSTRUCTIBLE or base is not object or state is not None:
        raise UnsafePickleError(f"copyreg._reconstructor({describe(getattr(cls, '__name__', cls))}, "
                                f"{describe(getattr(base, '__name__', base))}) is not allowed")
    return cls()


def _newobj(cls: Any, *args: Any) -> Any:
    if cls not in _RECONSTRUCTIBLE or args:
        raise UnsafePickleError(f"copyreg.__newobj__({describe(getattr(cls, '__name__', cls))}) "
                                "is not allowed")
    return cls()


_RECONSTRUCTIBLE = (ChArray, _CscMatrix, _CsrMatrix)
#: NEWOBJ may create these (no arguments); BUILD may reach these (their own __setstate__).
_NEWOBJ_OK = (ChArray, _CscMatrix, _CsrMatrix, _StateDict)


# --------------------------------------------------------------------------------------------
# Inert placeholders (checkpoints only): objects of classes outside the allowlist that sit in
# parts of a file that are never read, e.g. a PyTorch Lightning checkpoint's hyper_parameters
# (a yacs CfgNode, an omegaconf DictConfig, Lightning's AttributeDict, a user's own class).

# Top-level modules whose names never become placeholders: they hold functions and classes
# that run code (os.system, subprocess.Popen, builtins.eval, ...) or are covered by the
# allowlist groups (numpy, torch, collections, ...). A refused name names itself in the error.
_INERT_DENY = frozenset((
    "__builtin__", "builtins", "os", "posix", "nt", "sys", "subprocess", "importlib", "runpy",
    "pickle", "_pickle", "cPickle", "copy", "copyreg", "copy_reg", "shutil", "socket", "ctypes",
    "multiprocessing", "code", "codeop", "types", "functools", "operator", "io", "_io", "codecs",
    "_codecs", "pty", "signal", "threading", "_thread", "asyncio", "inspect", "marshal",
    "webbrowser", "pathlib", "tempfile", "shelve", "zipimport", "pdb", "bdb", "timeit", "trace",
    "profile", "cProfile", "gc", "ast", "dis", "platform", "select", "selectors", "ssl", "http",
    "urllib", "ftplib", "smtplib", "telnetlib", "xmlrpc", "logging", "sqlite3", "dbm",
    "torch", "numpy", "scipy", "chumpy", "collections", "typing", "abc", "enum", "dataclasses"))
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


def _inert_name_ok(module: str, name: str) -> bool:
    """A class-like name (CamelCase, ``module.Class``) outside the denied modules."""
    parts = module.split(".")
    return (len(parts) <= 16 and all(_IDENT.match(p) for p in parts) and parts[0] not in _INERT_DENY
            and bool(_IDENT.match(name)) and name[0].isupper())


class InertObject(dict):
    """Placeholder for an object of class ``cls_name`` (outside the allowlist) in a part of a
    checkpoint that is not read. It holds nothing: items, arguments and state the pickle gives
    it are dropped, and it has no behaviour. A state dict entry that is one is refused by the
    reader ("not a tensor")."""

    __slots__ = ("cls_name",)

    def __init__(self, cls_name: str) -> None:
        super().__init__()
        self.cls_name = cls_name

    def __setitem__(self, key: Any, value: Any) -> None:  # SETITEM(S) from the pickle: dropped
        pass

    def __setstate__(self, state: Any) -> None:  # BUILD: dropped
        pass

    def __repr__(self) -> str:
        return f"<inert {self.cls_name}>"


class _InertClass:
    """What find_class returns for a placeholder-able name: calling it (REDUCE, NEWOBJ, OBJ,
    INST) makes an :class:`InertObject`; the arguments (already built by the pickle) are not
    used."""

    __slots__ = ("cls_name",)

    def __init__(self, cls_name: str) -> None:
        self.cls_name = cls_name

    def __call__(self, *args: Any) -> InertObject:
        return InertObject(self.cls_name)


# --------------------------------------------------------------------------------------------
# PyTorch stand-ins (checkpoints)

class TorchStorageType:
    """Base of the stand-ins for ``torch.FloatStorage`` & co. Never instantiated: the class
    travels in a persistent id and tells the reader the element dtype."""

    dtype: Optional[np.dtype] = None
    torch_name = ""
    bfloat16 = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise UnsafePickleError(f"torch.{cls.torch_name}(...) may not be called from a pickle")


def _storage_type(name: str, dtype: Optional[str], bf16: bool = False) -> type:
    return type(name, (TorchStorageType,), {
        "dtype": np.dtype(dtype) if dtype else np.dtype("<u2"),
        "torch_name": name, "bfloat16": bf16})


TORCH_STORAGES = {t.torch_name: t for t in (
    _storage_type("DoubleStorage", "<f8"),
    _storage_type("FloatStorage", "<f4"),
    _storage_type("HalfStorage", "<f2"),
    _storage_type("BFloat16Storage", None, bf16=True),
    _storage_type("LongStorage", "<i8"),
    _storage_type("IntStorage", "<i4"),
    _storage_type("ShortStorage", "<i2"),
    _storage_type("CharStorage", "i1"),
    _storage_type("ByteStorage", "u1"),
    _storage_type("BoolStorage", "?"),
    _storage_type("ComplexFloatStorage", "<c8"),
    _storage_type("ComplexDoubleStorage", "<c16"),
    _storage_type("UntypedStorage", "u1"),
)}


class StorageRef:
    """A storage named by a persistent id: key, element type, element count, location."""

    __slots__ = ("key", "storage_type", "numel", "location", "view")
    is_torch_storage_ref = True

    def __init__(self, key: str, storage_type: type, numel: int, location: str,
                 view: Optional[tuple] = None) -> None:
        self.key, self.storage_type, self.numel = key, storage_type, numel
        self.location, self.view = location, view

    def __setstate__(self, state: Any) -> None:
        raise UnsafePickleError("BUILD on a storage is not allowed")


class TensorRef:
    """A tensor found in a checkpoint pickle: storage reference plus view geometry. The
    PyTorch reader turns it into an ndarray (see ``cliff.io.checkpoint``)."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage: Any, offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __setstate__(self, state: Any) -> None:
        raise UnsafePickleError("BUILD on a tensor is not allowed")


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any,
                    *rest: Any) -> TensorRef:
    # _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
    if not isinstance(storage, StorageRef):
        raise UnsafePickleError("torch._utils._rebuild_tensor_v2: first argument is not a "
                                "storage from this file")
    if (isinstance(storage_offset, bool) or not isinstance(storage_offset, int) or
            not 0 <= storage_offset < _MAX_SIZE):
        raise UnsafePickleError(f"torch tensor: bad storage offset {describe(storage_offset)}")
    size = _check_shape(size, "torch tensor size")
    if (not isinstance(stride, (tuple, list)) or len(stride) != len(size) or
            any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < _MAX_SIZE
                for s in stride)):
        raise UnsafePickleError(f"torch tensor: stride ({describe(stride)}) does not match size {size}")
    if len(rest) > 3:
        raise UnsafePickleError("torch._utils._rebuild_tensor_v2: too many arguments")
    return TensorRef(storage, int(storage_offset), size, tuple(int(s) for s in stride))


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                       *state: Any) -> TensorRef:
    if not isinstance(data, TensorRef):
        raise UnsafePickleError("torch._utils._rebuild_parameter: data is not a tensor")
    return data


def _torch_size(dims: Any = ()) -> tuple:
    return _check_shape(dims, "torch.Size")


def _torch_device(kind: Any, index: Any = None) -> str:
    if (not isinstance(kind, str) or len(kind) > 64 or
            (index is not None and (not isinstance(index, int) or not 0 <= index < 1 << 16))):
        raise UnsafePickleError("torch.device(...) with unexpected arguments")
    return kind if index is None else f"{kind}:{index}"


# --------------------------------------------------------------------------------------------
# The allowlist

def _names(modules: Iterable[str], name: str, obj: Any) -> dict:
    return {(m, name): obj for m in modules}


_NP_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")
_NP_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")

_NUMPY_GROUP: dict = {
    **_names(_NP_MULTIARRAY, "_reconstruct", _np_reconstruct),
    **_names(_NP_MULTIARRAY, "scalar", _ScalarProxy),
    **_names(_NP_NUMERIC, "_frombuffer", _np_frombuffer),
    ("numpy", "ndarray"): _NdarrayMarker,
    ("numpy", "dtype"): _DtypeProxy,
    ("_codecs", "encode"): _codecs_encode,
    **_names(("__builtin__", "builtins"), "set", _checked_set),
    **_names(("__builtin__", "builtins"), "frozenset", _checked_frozenset),
    **_names(("__builtin__", "builtins"), "bytes", _empty_bytes),
    **_names(("__builtin__", "builtins"), "object", object),
    ("collections", "OrderedDict"): _StateDict,
    **_names(("copy_reg", "copyreg"), "_reconstructor", _reconstructor),
    **_names(("copy_reg", "copyreg"), "__newobj__", _newobj),
}

_TORCH_GROUP: dict = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): _torch_size,
    ("torch", "device"): _torch_device,
    **{("torch", n): t for n, t in TORCH_STORAGES.items()},
    **{("torch.cuda", n): t for n, t in TORCH_STORAGES.items() if n != "UntypedStorage"},
}

_SMPL_GROUP: dict = {
    ("chumpy.ch", "Ch"): ChArray,
    **_names(("scipy.sparse.csc", "scipy.sparse._csc"), "csc_matrix", _CscMatrix),
    **_names(("scipy.sparse.csr", "scipy.sparse._csr"), "csr_matrix", _CsrMatrix),
}

#: group name -> {(module, name): stand-in}
ALLOWLIST = {"numpy": _NUMPY_GROUP, "torch": _TORCH_GROUP, "smpl": _SMPL_GROUP}


class _BoundedReader:
    """File wrapper for :mod:`pickletools`' opcode parser: ``read(n)`` never asks the
    underlying file for more than what is left in it, so a length field of 2**62 in a pickle
    costs nothing (a buffered file would allocate ``n`` bytes before reading)."""

    __slots__ = ("_f", "_end")

    def __init__(self, f: Any, end: int) -> None:
        self._f, self._end = f, end

    def read(self, n: int = -1) -> bytes:
        left = max(self._end - self._f.tell(), 0)
        return self._f.read(left if n is None or n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self._f.readline(max(self._end - self._f.tell(), 0))

    def tell(self) -> int:
        return self._f.tell()


def _atom_key(k: Any, what: str) -> Any:
    """Dict keys and set members must be flat atoms: hashing or comparing them is O(size).
    (A tuple of memo-shared tuples nested 60 deep takes 2**60 steps to hash.)"""
    if k is None or isinstance(k, (str, bytes, int, float, bool)):
        return k
    if isinstance(k, tuple) and len(k) <= 64 and all(
            x is None or isinstance(x, (str, bytes, int, float, bool)) for x in k):
        return k
    raise UnsafePickleError(f"{what}: {describe(k)} is not allowed as a key (only strings, "
                            "numbers, None and flat tuples of them)")


_CONTAINERS = (list, tuple, dict, set, frozenset)


class RestrictedUnpickler:
    """A pickle interpreter that only resolves allowlisted globals and only does bounded work
    (see the module docstring).

    ``groups``: allowlist groups besides ``"numpy"`` (``"torch"``, ``"smpl"``).
    ``persistent_load``: validating handler for persistent ids, or None to refuse them.
    ``meter``: the :class:`~cliff.io.budget.Meter` charged for bytes the pickle makes us copy
    (default: one for the pickle's own size under the budget in force).
    Python-2 byte strings become ``str`` 1:1 (latin-1), as ``pickle.load(encoding="latin1")``.

    The opcodes are parsed by :func:`pickletools.genops` (a parser: it runs nothing) and
    executed here. Differences from :class:`pickle.Unpickler`, all deliberate:

    * ``BUILD`` only reaches the stand-in classes that define a validating ``__setstate__``;
      on anything else (an allowlisted function or class, a set, a scalar) it is refused, so
      a file can never set an attribute on an object that outlives its load.
    * ``REDUCE``/``NEWOBJ``/``OBJ``/``INST`` only call allowlisted stand-ins.
    * Extension codes (``EXT1/2/4``) and out-of-band buffers are refused.
    * Dict keys and set members must be flat atoms; containers may nest at most
      ``Budget.max_depth`` deep; at most ``Budget.max_objects`` opcodes run.
    """

    def __init__(self, file: Any, *, groups: Iterable[str] = (),
                 persistent_load: Optional[Callable[[Any], Any]] = None,
                 encoding: str = "latin1", meter: Optional[Meter] = None,
                 inert: bool = False) -> None:
        if isinstance(file, (bytes, bytearray, memoryview)):
            file = io.BytesIO(bytes(file))
        self._file = file
        table = dict(_NUMPY_GROUP)
        for g in groups:
            table.update(ALLOWLIST[g])
        self._table = table
        self._callables = {id(v) for v in table.values()}
        self._pid_handler = persistent_load
        self._meter = meter
        # inert=True (checkpoints): class-like globals outside the allowlist and outside the
        # denied modules become inert placeholders instead of errors (see InertObject)
        self._inert = bool(inert)

    # -- public API kept from pickle.Unpickler ------------------------------------------------
    def find_class(self, module: Any, name: Any) -> Any:
        if isinstance(module, str) and isinstance(name, str):
            obj = self._table.get((module, name))
            if obj is not None:
                return obj
            if self._inert and _inert_name_ok(module, name):
                return _InertClass(f"{module}.{name}")
        raise UnsafePickleError(
            f"refusing to load global '{describe(module, 80)[1:-1] if isinstance(module, str) else describe(module)}."
            f"{describe(name, 80)[1:-1] if isinstance(name, str) else describe(name)}': it is "
            "not in the allowlist of classes this file format needs (nothing from the file "
            "was executed)")

    def persistent_load(self, pid: Any) -> Any:
        if self._pid_handler is None:
            raise UnsafePickleError(f"unexpected persistent id ({describe(pid)}) in this kind "
                                    "of file")
        return self._pid_handler(pid)

    def load(self) -> Any:
        """Run the pickle up to its STOP opcode and return the object (proxies unresolved:
        see :func:`resolve`)."""
        f = self._file
        try:
            start = f.tell()
            f.seek(0, io.SEEK_END)
            end = f.tell()
            f.seek(start)
        except (AttributeError, OSError, ValueError):
            raise TypeError("RestrictedUnpickler: file must be a seekable binary file") from None
        meter = self._meter or Meter("pickle", end - start)
        token = _METER.set(meter)
        try:
            reader = f if isinstance(f, io.BytesIO) else _BoundedReader(f, end)
            return self._run(reader, get_budget())
        finally:
            _METER.reset(token)

    # -- the interpreter ------------------------------------------------------------------------
    def _run(self, reader: Any, budget: Any) -> Any:
        stack: list = []
        marks: list = []
        memo: dict = {}
        depth: Dict[int, Tuple[Any, int]] = {}  # id -> (container, nesting depth)
        max_depth, max_ops = budget.max_depth, budget.max_objects

        def track(c: Any, child_depth: int) -> None:
            e = depth.get(id(c))
            d = max(e[1] if e is not None else 1, child_depth + 1)
            if d > max_depth:
                raise BudgetError(f"pickle containers nested more than {max_depth} deep")
            depth[id(c)] = (c, d)

        def max_child(items: Iterable) -> int:
            m = 0
            for x in items:
                if isinstance(x, _CONTAINERS):
                    e = depth.get(id(x))
                    d = e[1] if e is not None else 1
                    if d > m:
                        m = d
            return m

        def new_container(c: Any, items: Iterable = ()) -> Any:
            track(c, max_child(items))
            return c

        def pop_mark() -> list:
            nonlocal stack
            if not marks:
                raise ValueError("pickle: MARK expected on the stack")
            items, stack = stack, marks.pop()
            return items

        def top() -> Any:
            if not stack:
                raise ValueError("pickle: stack underflow")
            return stack[-1]

        def pop() -> Any:
            if not stack:
                raise ValueError("pickle: stack underflow")
            return stack.pop()

        ops = 0
        for op, arg, _pos in pickletools.genops(reader):
            ops += 1
            if ops > max_ops:
                raise BudgetError(f"the pickle runs more than {max_ops} opcodes")
            name = op.name
            # most frequent opcodes first (a checkpoint runs ~100 per tensor)
            if name in _PUSH_ARG:
                stack.append(arg)
            elif name == "GLOBAL":
                module, _, attr = arg.partition(" ")
                stack.append(self.find_class(module, attr))
            elif name == "MARK":
                marks.append(stack)
                stack = []
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[arg] = top()
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                if arg not in memo:
                    raise ValueError(f"pickle: memo entry {describe(arg)} is missing")
                stack.append(memo[arg])
            elif name == "REDUCE":
                args = pop()
                func = pop()
                stack.append(self._call(func, args, "REDUCE"))
            elif name in ("TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_TUPLE"):
                if name == "TUPLE":
                    items = tuple(pop_mark())
                else:
                    n = 0 if name == "EMPTY_TUPLE" else int(name[-1])
                    if len(stack) < n:
                        raise ValueError("pickle: stack underflow")
                    items = tuple(stack[len(stack) - n:])
                    del stack[len(stack) - n:]
                if items:
                    new_container(items, items)
                stack.append(items)
            elif name in ("NEWFALSE", "NEWTRUE", "NONE"):
                stack.append(None if name == "NONE" else name == "NEWTRUE")
            elif name == "BINPERSID" or name == "PERSID":
                pid = arg if name == "PERSID" else pop()
                stack.append(self.persistent_load(pid))
            elif name == "MEMOIZE":
                memo[len(memo)] = top()
            elif name in ("DICT", "SETITEM", "SETITEMS"):
                if name == "SETITEM":
                    v = pop()
                    items = [pop(), v]
                else:
                    items = pop_mark()
                if len(items) % 2:
                    raise ValueError(f"pickle: {name} with an odd number of items")
                d = {} if name == "DICT" else top()
                if not isinstance(d, dict):
                    raise UnsafePickleError(f"{name} on {describe(d)} is not allowed (only dicts)")
                track(d, max_child(items[1::2]))
                for i in range(0, len(items), 2):
                    d[_atom_key(items[i], "dict key")] = items[i + 1]
                if name == "DICT":
                    stack.append(d)
            elif name == "EMPTY_DICT":
                stack.append(new_container({}))
            elif name == "EMPTY_LIST":
                stack.append(new_container([]))
            elif name in ("APPEND", "APPENDS"):
                items = [pop()] if name == "APPEND" else pop_mark()
                lst = top()
                if not isinstance(lst, list):
                    raise UnsafePickleError(f"{name} on {describe(lst)} is not allowed (only lists)")
                track(lst, max_child(items))
                lst.extend(items)
            elif name == "LIST":
                items = pop_mark()
                stack.append(new_container(list(items), items))
            elif name == "BUILD":
                state = pop()
                _build(top(), state)
            elif name in ("NEWOBJ", "NEWOBJ_EX"):
                kwargs = pop() if name == "NEWOBJ_EX" else {}
                args = pop()
                cls = pop()
                if kwargs:
                    raise UnsafePickleError(f"{name} with keyword arguments is not allowed")
                stack.append(self._new(cls, args))
            elif name == "STACK_GLOBAL":
                attr = pop()
                module = pop()
                stack.append(self.find_class(module, attr))
            elif name in ("PROTO", "FRAME"):
                pass
            elif name == "STOP":
                return pop()
            elif name == "BYTEARRAY8":
                stack.append(bytearray(arg))
            elif name == "POP":
                if stack:
                    stack.pop()
                else:
                    pop_mark()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(top())
            elif name == "EMPTY_SET":
                stack.append(new_container(set()))
            elif name == "ADDITEMS":
                items = pop_mark()
                s = top()
                if not isinstance(s, set):
                    raise UnsafePickleError(f"ADDITEMS on {describe(s)} is not allowed (only sets)")
                s.update(_atom_key(x, "set member") for x in items)
            elif name == "FROZENSET":
                items = pop_mark()
                stack.append(new_container(frozenset(_atom_key(x, "set member") for x in items)))
            elif name == "OBJ":
                items = pop_mark()
                if not items:
                    raise ValueError("pickle: OBJ without a class")
                stack.append(self._call(items[0], tuple(items[1:]), "OBJ"))
            elif name == "INST":
                module, _, attr = arg.partition(" ")
                cls = self.find_class(module, attr)
                stack.append(self._call(cls, tuple(pop_mark()), "INST"))
            elif name in ("EXT1", "EXT2", "EXT4"):
                raise UnsafePickleError(f"pickle extension code {describe(arg)} is not allowed")
            elif name in ("NEXT_BUFFER", "READONLY_BUFFER"):
                raise UnsafePickleError("out-of-band pickle buffers are not allowed")
            else:  # pragma: no cover - every opcode of protocols 0-5 is handled above
                raise UnsafePickleError(f"pickle opcode {name} is not supported")
        raise ValueError("pickle ended without STOP")  # pragma: no cover - genops raises first

    def _call(self, func: Any, args: Any, how: str) -> Any:
        if isinstance(func, _InertClass) and isinstance(args, tuple):
            return func(*args)
        if id(func) not in self._callables or not callable(func):
            raise UnsafePickleError(f"{how} of {describe(func)} is not allowed (only "
                                    "allowlisted callables)")
        if not isinstance(args, tuple):
            raise UnsafePickleError(f"{how}: arguments must be a tuple, got {describe(args)}")
        return func(*args)

    def _new(self, cls: Any, args: Any) -> Any:
        if isinstance(cls, _InertClass):
            return cls()
        if cls is _NdarrayMarker:  # numpy.ndarray.__new__: only via _reconstruct
            raise UnsafePickleError("numpy.ndarray may only be used as the type argument of "
                                    "numpy.core.multiarray._reconstruct")
        if id(cls) not in self._callables or cls not in _NEWOBJ_OK:
            raise UnsafePickleError(f"NEWOBJ of {describe(cls)} "
                                    f"{getattr(cls, '__name__', '')!s:.40} is not allowed")
        if args != ():
            raise UnsafePickleError(f"NEWOBJ of {cls.__name__} with arguments is not allowed")
        return cls()


_PUSH_ARG = frozenset((
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
    "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"))


_BUILDABLE = (_ArrayProxy, _DtypeProxy, _StateDict, ChArray, _CscMatrix, _CsrMatrix, InertObject)


def _build(inst: Any, state: Any) -> None:
    """BUILD: only on instances of the stand-ins that validate their state. Everything a
    file can name (allowlisted functions and classes) and every builtin is refused, so no
    attribute of anything that outlives the load can be set."""
    cls = type(inst)
    if cls not in _BUILDABLE:
        name = getattr(inst, "__name__", None) if isinstance(inst, type) or callable(inst) else None
        what = f"{name!s:.60}" if isinstance(name, str) else describe(inst)
        raise UnsafePickleError(f"BUILD (setting state) on {what} is not allowed (only on "
                                "numpy arrays/dtypes, OrderedDict, chumpy and SciPy objects)")
    cls.__setstate__(inst, state)


def resolve(obj: Any, _depth: int = 0, _memo: Optional[dict] = None) -> Any:
    """Replace the NumPy proxies in a freshly unpickled object tree by real ndarrays, dtypes
    and scalars (in place for dicts and lists). Stand-ins (ChArray, SparseMatrix, TensorRef)
    are kept, with their own contents resolved."""
    if _memo is None:
        _memo = {}
    if _depth > get_budget().max_depth + 8:
        raise BudgetError("pickle containers nested too deeply")
    if isinstance(obj, (str, bytes, int, float, complex, type(None), np.ndarray)):
        return obj
    key = id(obj)
    if key in _memo:
        return _memo[key]
    if isinstance(obj, _ArrayProxy):
        if obj.array is None:
            raise ValueError("a numpy array in the pickle has no data (missing BUILD)")
        out: Any = obj.array
    elif isinstance(obj, _ScalarProxy):
        out = obj.value
    elif isinstance(obj, _DtypeProxy):
        out = obj.dtype
    elif isinstance(obj, dict):
        _memo[key] = obj
        for k in list(obj.keys()):
            obj[k] = resolve(obj[k], _depth + 1, _memo)
        return obj
    elif isinstance(obj, list):
        _memo[key] = obj
        for i, v in enumerate(obj):
            obj[i] = resolve(v, _depth + 1, _memo)
        return obj
    elif isinstance(obj, tuple):
        out = tuple(resolve(v, _depth + 1, _memo) for v in obj)
    elif isinstance(obj, ChArray):
        _memo[key] = obj
        obj.x = resolve(obj.x, _depth + 1, _memo)
        return obj
    elif isinstance(obj, SparseMatrix):
        _memo[key] = obj
        if obj.state is not None:
            resolve(obj.state, _depth + 1, _memo)
        return obj
    else:
        out = obj
    _memo[key] = out
    return out


def restricted_load(file: Any, *, groups: Iterable[str] = (),
                    persistent_load: Optional[Callable[[Any], Any]] = None,
                    meter: Optional[Meter] = None) -> Any:
    """Unpickle ``file`` (a seekable binary file object or bytes) with
    :class:`RestrictedUnpickler` and :func:`resolve` the result.

    Raises :class:`UnsafePickleError` for anything outside the allowlist (a ``ValueError``),
    :class:`~cliff.io.budget.BudgetError` (a ``ValueError``) when the pickle asks for more
    than its budget, and ``ValueError`` for any other malformed pickle. Nothing else: loads
    of a hostile pickle are pure (they change nothing that outlives them) and bounded (see
    :mod:`cliff.io.budget`)."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        file = io.BytesIO(bytes(file))
    elif not all(callable(getattr(file, m, None)) for m in ("read", "readline", "seek", "tell")):
        raise TypeError(f"file: expected bytes or a seekable binary file, got {type(file).__name__}")
    try:
        return _load_and_resolve(file, groups, persistent_load, meter)
    except (UnsafePickleError, BudgetError):
        raise
    except MemoryError:
        if get_budget().user_raised:
            raise
        raise BudgetError("the pickle needs more memory than this machine has") from None
    except RecursionError:
        raise BudgetError("pickle containers nested too deeply") from None
    except PICKLE_ERRORS as exc:
        raise ValueError(f"malformed pickle ({type(exc).__name__}: {str(exc)[:200]})") from None


#: What a malformed (not hostile) pickle can raise inside the interpreter and the stand-ins.
PICKLE_ERRORS = (ValueError, EOFError, TypeError, KeyError, IndexError, AttributeError,
                 OverflowError, UnicodeError, pickle.UnpicklingError)


def _load_and_resolve(file: Any, groups: Iterable[str],
                      persistent_load: Optional[Callable[[Any], Any]],
                      meter: Optional[Meter]) -> Any:
    token = _METER.set(meter) if meter is not None else None
    try:
        obj = RestrictedUnpickler(file, groups=groups, persistent_load=persistent_load,
                                  meter=meter).load()
        return resolve(obj)
    finally:
        if token is not None:
            _METER.reset(token)
