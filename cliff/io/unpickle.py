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
import copyreg
import io
import pickle
import re
from typing import Any, Callable, Iterable, Optional

import numpy as np

__all__ = [
    "UnsafePickleError",
    "RestrictedUnpickler",
    "restricted_load",
    "resolve",
    "ChArray",
    "SparseMatrix",
    "ALLOWLIST",
]

_MAX_DEPTH = 200


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
        raise UnsafePickleError(f"numpy.dtype({code!r}) is not an allowed dtype "
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
            raise UnsafePickleError(f"numpy.dtype state {state!r:.80} has an unexpected form")
        byteorder = state[1]
        if isinstance(byteorder, bytes):
            byteorder = byteorder.decode("latin1")
        if byteorder not in ("<", ">", "|", "="):
            raise UnsafePickleError(f"numpy.dtype byte order {byteorder!r} is not valid")
        if state[2] is not None or state[3] is not None or state[4] is not None:
            raise UnsafePickleError("structured or sub-array numpy dtypes are not allowed")
        if byteorder in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(byteorder)


def _as_dtype(d: Any) -> np.dtype:
    if isinstance(d, _DtypeProxy):
        return d.dtype
    raise UnsafePickleError(f"expected a numpy.dtype, got {type(d).__name__}")


def _raw_bytes(data: Any, what: str) -> bytes:
    if isinstance(data, str):  # Python-2 str read with encoding='latin1'
        return data.encode("latin1")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    raise UnsafePickleError(f"{what}: expected raw bytes, got {type(data).__name__}")


def _check_shape(shape: Any, what: str) -> tuple:
    if not isinstance(shape, (tuple, list)) or len(shape) > 32:
        raise UnsafePickleError(f"{what}: shape {shape!r:.80} is not a tuple of sizes")
    out = []
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise UnsafePickleError(f"{what}: shape {shape!r:.80} is not a tuple of sizes")
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
        raw = _raw_bytes(raw, "numpy array data")
        n = 1
        for s in shape:
            n *= s
        if n * dt.itemsize != len(raw):
            raise UnsafePickleError(f"numpy array of shape {shape} {dt} needs "
                                    f"{n * dt.itemsize} bytes, the pickle holds {len(raw)}")
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
        raise UnsafePickleError(f"numpy _reconstruct of {getattr(subtype, '__name__', subtype)!r}"
                                " is not allowed (only numpy.ndarray)")
    return _ArrayProxy()


def _np_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> _ArrayProxy:
    proxy = _ArrayProxy()
    proxy.__setstate__((shape, dtype, order == "F", buf))
    return proxy


def _codecs_encode(obj: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    if not isinstance(obj, str) or str(encoding).lower().replace("_", "-") not in (
            "latin1", "latin-1", "iso-8859-1"):
        raise UnsafePickleError(f"_codecs.encode(..., {encoding!r}) is not allowed "
                                "(only latin-1 encoding of a str)")
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
    return items


class _StateDict(collections.OrderedDict):
    """What ``collections.OrderedDict`` resolves to. BUILD may only attach inert attributes
    (PyTorch stores ``_metadata``); they are kept in ``pickle_attributes``."""

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
        return f"ChArray(x={self.x!r:.60})"


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

    def toarray(self) -> np.ndarray:
        """Dense float64 (or the stored dtype) array; duplicates are summed like SciPy does."""
        st = self.state
        if st is None:
            raise ValueError("scipy.sparse matrix without state")
        shape = st.get("_shape", st.get("shape"))
        try:
            nrows, ncols = (int(v) for v in shape)
        except Exception:
            raise ValueError(f"scipy.sparse matrix: shape {shape!r:.60} is not (rows, cols)") from None
        data = np.asarray(resolve(st.get("data")))
        indices = np.asarray(resolve(st.get("indices")))
        indptr = np.asarray(resolve(st.get("indptr")))
        fmt = self.default_format
        nouter, ninner = (ncols, nrows) if fmt == "csc" else (nrows, ncols)
        if nrows < 0 or ncols < 0 or nrows * ncols > 1 << 31:
            raise ValueError(f"scipy.sparse matrix: shape {(nrows, ncols)} is not plausible")
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
        raise UnsafePickleError(f"copyreg._reconstructor({getattr(cls, '__name__', cls)!r}, "
                                f"{getattr(base, '__name__', base)!r}) is not allowed")
    return cls()


def _newobj(cls: Any, *args: Any) -> Any:
    if cls not in _RECONSTRUCTIBLE or args:
        raise UnsafePickleError(f"copyreg.__newobj__({getattr(cls, '__name__', cls)!r}) "
                                "is not allowed")
    return cls()


_RECONSTRUCTIBLE = (ChArray, _CscMatrix, _CsrMatrix)


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
    if isinstance(storage_offset, bool) or not isinstance(storage_offset, int) or storage_offset < 0:
        raise UnsafePickleError(f"torch tensor: bad storage offset {storage_offset!r:.40}")
    size = _check_shape(size, "torch tensor size")
    if (not isinstance(stride, (tuple, list)) or len(stride) != len(size) or
            any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in stride)):
        raise UnsafePickleError(f"torch tensor: stride {stride!r:.60} does not match size {size}")
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
    if not isinstance(kind, str) or (index is not None and not isinstance(index, int)):
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


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that only resolves allowlisted globals (see the module docstring).

    ``groups``: allowlist groups besides ``"numpy"`` (``"torch"``, ``"smpl"``).
    ``persistent_load``: validating handler for persistent ids, or None to refuse them.
    Python-2 pickles are read with ``encoding="latin1"`` (byte strings become str 1:1)."""

    def __init__(self, file: Any, *, groups: Iterable[str] = (),
                 persistent_load: Optional[Callable[[Any], Any]] = None,
                 encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding, fix_imports=False)
        self._file = file
        table = dict(_NUMPY_GROUP)
        for g in groups:
            table.update(ALLOWLIST[g])
        self._table = table
        self._pid_handler = persistent_load

    def load(self) -> Any:
        # EXT1/2/4 opcodes consult copyreg's extension cache BEFORE find_class. The cache is
        # empty unless some library in this process registered extensions; if it is not,
        # refuse pickles that use extension codes at all (checked without executing).
        if copyreg._extension_cache or copyreg._extension_registry:
            _refuse_extension_codes(self._file)
        return super().load()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._table[(module, name)]
        except (KeyError, TypeError):
            pass
        raise UnsafePickleError(
            f"refusing to load global '{module}.{name}': it is not in the allowlist of "
            "classes this file format needs (nothing from the file was executed)")

    def persistent_load(self, pid: Any) -> Any:
        if self._pid_handler is None:
            raise UnsafePickleError(f"unexpected persistent id {pid!r:.80} in this kind of file")
        return self._pid_handler(pid)


def _refuse_extension_codes(file: Any) -> None:
    """Parse (not run) the next pickle in ``file`` and refuse EXT opcodes; rewinds."""
    import pickletools
    start = file.tell()
    try:
        for op, arg, _ in pickletools.genops(file):
            if op.name in ("EXT1", "EXT2", "EXT4"):
                raise UnsafePickleError(f"pickle extension code {arg} is not allowed")
    except UnsafePickleError:
        raise
    except Exception:
        pass  # malformed: the real unpickler reports it below
    finally:
        file.seek(start)


def resolve(obj: Any, _depth: int = 0, _memo: Optional[dict] = None) -> Any:
    """Replace the NumPy proxies in a freshly unpickled object tree by real ndarrays, dtypes
    and scalars (in place for dicts and lists). Stand-ins (ChArray, SparseMatrix, TensorRef)
    are kept, with their own contents resolved."""
    if _memo is None:
        _memo = {}
    if _depth > _MAX_DEPTH:
        raise ValueError("pickle nesting is too deep")
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
                    persistent_load: Optional[Callable[[Any], Any]] = None) -> Any:
    """Unpickle ``file`` (a binary file object or bytes) with :class:`RestrictedUnpickler` and
    :func:`resolve` the result. Raises :class:`UnsafePickleError` for anything outside the
    allowlist; other malformed input raises the usual ``pickle.UnpicklingError``,
    ``EOFError``, ``ValueError`` or ``TypeError``."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        file = io.BytesIO(file)
    obj = RestrictedUnpickler(file, groups=groups, persistent_load=persistent_load).load()
    return resolve(obj)
