"""PyTorch checkpoints (zip and legacy formats), safetensors and npz weight files, read into
``OrderedDict[str, np.ndarray]`` without PyTorch; and writers for the same formats.

The pickle inside a PyTorch file is read with :class:`cliff.io.unpickle.RestrictedUnpickler`
(allowlist groups ``numpy`` + ``torch``). Tensors become :class:`~cliff.io.unpickle.TensorRef`
placeholders during unpickling; only the tensors of the selected state dict are then read from
the file, so optimizer state and other entries cost nothing.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
import zlib
from typing import Any, BinaryIO, Dict, Mapping, Optional, Union

import numpy as np

from . import pickle_writer as pw
from .budget import BudgetError, Meter, describe, get_budget, guarded
from .npz import read_npz
from .unpickle import (TORCH_STORAGES, InertObject, RestrictedUnpickler, StorageRef, TensorRef,
                       TorchStorageType, UnsafePickleError, resolve)

__all__ = ["load_checkpoint", "save_checkpoint", "save_safetensors", "FORMATS"]

PathLike = Union[str, "os.PathLike[str]"]

#: What load_checkpoint reads (used in error messages).
FORMATS = ("a PyTorch checkpoint (torch.save zip or legacy format), a .safetensors file or "
           "an .npz archive")

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_PICKLE = 1 << 30  # data.pkl of a state dict is a few hundred kB
# What zipfile/zlib raise on damaged archives (NotImplementedError: garbage version fields;
# RuntimeError: a member flagged as encrypted).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError,
               NotImplementedError, zlib.error, struct.error, KeyError)
_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
                  IndexError, AttributeError, OverflowError, struct.error, MemoryError,
                  RecursionError, UnicodeDecodeError)
_MAX_SMALL_RECORD = 64  # byteorder, version


def _err(path: Any, msg: str) -> ValueError:
    return ValueError(f"{os.fspath(path)!s}: {msg}")


def _unsafe(path: Any, exc: UnsafePickleError) -> UnsafePickleError:
    e = UnsafePickleError(f"{os.fspath(path)!s}: {exc}")
    e.__cause__ = exc
    return e


# --------------------------------------------------------------------------------------------
# Format detection

def _sniff(path: PathLike) -> str:
    with open(path, "rb") as f:
        head = f.read(512)
        size = os.fstat(f.fileno()).st_size
    if not head:
        raise _err(path, f"the file is empty; expected {FORMATS}")
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        raise _err(path, "this is a tar archive: the PyTorch < 0.4 tar checkpoint format is not "
                   "supported (re-save it with a recent torch.save)")
    if head[:1] == b"\x80" and len(head) >= 2 and head[1] <= 5:
        return "legacy"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and 0 < n <= size - 8:
            return "safetensors"
    raise _err(path, f"unrecognised file format (starts with {head[:8]!r}); expected {FORMATS}")


# --------------------------------------------------------------------------------------------
# Tensors from storages

def _storage_pid(pid: Any, legacy: bool) -> StorageRef:
    """Validate a persistent id ('storage', type, key, location, numel[, view])."""
    if not isinstance(pid, tuple) or len(pid) != (6 if legacy else 5) or pid[0] != "storage":
        kind = pid[0] if isinstance(pid, tuple) and pid else pid
        raise UnsafePickleError(f"persistent id of kind {describe(kind, 40)} is not allowed "
                                "(only tensor storages)")
    _, stype, key, location, numel = pid[:5]
    if not (isinstance(stype, type) and issubclass(stype, TorchStorageType) and
            isinstance(key, str) and isinstance(location, str) and
            len(key) <= 256 and len(location) <= 64 and
            isinstance(numel, int) and not isinstance(numel, bool) and 0 <= numel < 1 << 62):
        raise UnsafePickleError("malformed storage persistent id (expected ('storage', type, "
                                "key, location, numel))")
    view = pid[5] if legacy else None
    if view is not None:
        if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str) and
                len(view[0]) <= 256 and all(isinstance(v, int) and not isinstance(v, bool) and
                                            0 <= v < 1 << 62 for v in view[1:])):
            raise UnsafePickleError(f"malformed storage view ({describe(view)})")
    return StorageRef(key, stype, numel, location, view)


class _StorageTable:
    """Storage key -> (storage type, numel), checking every reference agrees."""

    def __init__(self, path: Any, legacy: bool) -> None:
        self.path, self.legacy = path, legacy
        self.refs: Dict[str, StorageRef] = {}

    def __call__(self, pid: Any) -> StorageRef:
        ref = _storage_pid(pid, self.legacy)
        old = self.refs.get(ref.key)
        if old is None:
            self.refs[ref.key] = ref
        elif old.storage_type is not ref.storage_type or old.numel != ref.numel:
            raise _err(self.path, f"storage {describe(ref.key)} is referenced with two different "
                       "types or sizes")
        return ref


def _element_type(stype: type) -> np.dtype:
    return np.dtype(stype.dtype)


def _tensor_to_array(path: Any, name: str, t: TensorRef, buf: np.ndarray,
                     big_endian: bool, owns_buffer: bool = False) -> np.ndarray:
    """Materialise a tensor view of a storage buffer (1-D array of the storage dtype) as a
    C-contiguous native-endian ndarray; bfloat16 becomes float32. With `owns_buffer` (no
    other tensor uses this storage) a tensor spanning the whole writable buffer is returned
    without a copy."""
    stype = t.storage.storage_type
    if t.storage.view is not None:  # legacy storage view: (view key, offset, numel)
        _, voff, vnum = t.storage.view
        if voff + vnum > buf.shape[0]:
            raise _err(path, f"tensor {describe(name)}: storage view exceeds its storage")
        buf = buf[voff:voff + vnum]
    n = 1
    for s in t.size:
        n *= s
    if n:
        last = t.offset + sum((s - 1) * st for s, st in zip(t.size, t.stride))
        if last >= buf.shape[0]:
            raise _err(path, f"tensor {describe(name)} (size {t.size}, stride {t.stride}, offset "
                       f"{t.offset}) reaches beyond its storage of {buf.shape[0]} elements")
    if n > (1 << 26) and n > 16 * buf.shape[0]:  # stride-0 views can claim any size
        raise _err(path, f"tensor {describe(name)} of size {t.size} is implausibly large for its "
                   f"storage of {buf.shape[0]} elements")
    item = buf.dtype.itemsize
    if n == 0:
        view = np.zeros(t.size, dtype=buf.dtype)
    else:
        view = np.lib.stride_tricks.as_strided(
            buf[t.offset:], shape=t.size, strides=tuple(s * item for s in t.stride),
            writeable=False)
    if big_endian and item > 1:
        view = view.view(view.dtype.newbyteorder(">"))
    if (owns_buffer and n == buf.shape[0] and t.offset == 0 and not stype.bfloat16
            and buf.flags.writeable and not (big_endian and item > 1)
            and view.flags.c_contiguous):
        # The tensor is its whole storage and nothing else uses it: hand the buffer out
        # instead of copying it (halves the peak memory of loading a checkpoint).
        return buf.reshape(t.size)
    out = np.array(view, dtype=view.dtype.newbyteorder("="), order="C", copy=True)
    if stype.bfloat16:
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def _tensor_nbytes(t: TensorRef) -> int:
    """Bytes of the array a tensor becomes (bfloat16 -> float32)."""
    n = 1
    for s in t.size:
        n *= s
    item = 4 if t.storage.storage_type.bfloat16 else _element_type(t.storage.storage_type).itemsize
    return n * item


def _charge_tensors(meter: Meter, sd: Mapping) -> None:
    """Charge every tensor of the state dict and every storage it reads, before any is read:
    zero-stride views of a tiny storage can claim any size."""
    seen = set()
    total = 0
    for v in sd.values():
        if isinstance(v, TensorRef):
            total += _tensor_nbytes(v)
            if v.storage.key not in seen:
                seen.add(v.storage.key)
                total += v.storage.numel * _element_type(v.storage.storage_type).itemsize
    meter.charge(total, f"the {len(sd)} tensors of the state dict")


def _state_dict_from(path: Any, obj: Any) -> Mapping:
    """The state dict inside a loaded checkpoint object (docs/official.md#checkpoint: the demo reads 'model')."""
    if not isinstance(obj, dict):
        raise _err(path, f"the checkpoint holds a {type(obj).__name__}, expected a dict "
                   "(a state dict or {'model': state_dict, ...})")
    for key in ("model", "state_dict"):
        if key in obj and isinstance(obj[key], dict):
            return obj[key]
    return obj


def _finish(path: Any, sd: Mapping, get_array: Any, strip_module_prefix: bool
            ) -> "collections.OrderedDict[str, np.ndarray]":
    out: "collections.OrderedDict[str, np.ndarray]" = collections.OrderedDict()
    for k, v in sd.items():
        if not isinstance(k, str):
            raise _err(path, f"state dict key {describe(k, 40)} is not a string")
        if isinstance(v, TensorRef):
            out[k] = get_array(k, v)
        elif isinstance(v, np.ndarray):
            out[k] = np.asarray(v, order="C")
        elif isinstance(v, np.generic):
            out[k] = np.asarray(v)
        elif isinstance(v, InertObject):
            raise _err(path, f"entry {describe(k)} is an object of class {v.cls_name}, not a tensor "
                       "(the state dict must hold tensors only)")
        else:
            keys = ", ".join(describe(x, 40) for x in list(sd.keys())[:8])
            raise _err(path, f"entry {describe(k)} is a {type(v).__name__}, not a tensor; the "
                       f"file does not hold a state dict (top-level keys: {keys})")
    if strip_module_prefix and any(k.startswith("module.") for k in out):
        stripped: "collections.OrderedDict[str, np.ndarray]" = collections.OrderedDict()
        for k, v in out.items():
            nk = k.replace("module.", "")
            if nk in stripped:
                raise _err(path, f"removing 'module.' makes two keys equal ({describe(nk)})")
            stripped[nk] = v
        out = stripped
    return out


# --------------------------------------------------------------------------------------------
# Zip format (torch >= 1.6)

def _load_zip(path: PathLike, strip: bool, meter: Meter
              ) -> "collections.OrderedDict[str, np.ndarray]":
    try:
        zf = zipfile.ZipFile(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except _ZIP_ERRORS as exc:
        raise _err(path, f"corrupt zip archive ({exc}); expected {FORMATS}") from None
    with zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkl:
            if names and all(n.endswith(".npy") for n in names):
                return _finish(path, _load_npz(path, meter), None, strip)
            if any(n.endswith("constants.pkl") for n in names):
                raise _err(path, "this is a TorchScript archive (torch.jit.save); save the "
                           "model's state_dict with torch.save instead")
            raise _err(path, "zip archive without '<name>/data.pkl': not a PyTorch checkpoint "
                       f"(expected {FORMATS})")
        prefix = pkl[0][: -len("data.pkl")]
        if any(n.startswith(prefix + "code/") for n in names):
            raise _err(path, "this is a TorchScript archive (torch.jit.save); save the model's "
                       "state_dict with torch.save instead")
        try:
            info = zf.getinfo(prefix + "data.pkl")
            if info.file_size > _MAX_PICKLE:
                raise _err(path, f"data.pkl is implausibly large ({info.file_size} bytes)")
            meter.charge(info.file_size, "data.pkl")
            data = zf.read(info)
            big = False
            if prefix + "byteorder" in names:
                if zf.getinfo(prefix + "byteorder").file_size > _MAX_SMALL_RECORD:
                    raise _err(path, "the byteorder record is implausibly large")
                order = zf.read(prefix + "byteorder").strip()
                if order not in (b"little", b"big"):
                    raise _err(path, f"unknown byteorder record {order!r:.20}")
                big = order == b"big"
        except ValueError as exc:
            if str(exc).startswith(os.fspath(path)):
                raise
            raise _err(path, f"corrupt zip archive ({exc})") from None
        except _ZIP_ERRORS as exc:
            raise _err(path, f"corrupt zip archive ({exc})") from None
        table = _StorageTable(path, legacy=False)
        obj = _unpickle(path, data, table, meter)
        sd = _state_dict_from(path, obj)
        _charge_tensors(meter, sd)
        cache: Dict[str, np.ndarray] = {}
        users: Dict[str, int] = collections.Counter(
            v.storage.key for v in sd.values() if isinstance(v, TensorRef))

        def storage(ref: StorageRef) -> np.ndarray:
            if ref.key not in cache:
                dt = _element_type(ref.storage_type)
                name = f"{prefix}data/{ref.key}"
                try:
                    zi = zf.getinfo(name)
                except KeyError:
                    raise _err(path, f"storage record {describe(name)} is missing") from None
                if zi.file_size < ref.numel * dt.itemsize:
                    raise _err(path, f"storage record {describe(name)} has {zi.file_size} bytes, "
                               f"expected {ref.numel * dt.itemsize}")
                raw = bytearray(ref.numel * dt.itemsize)
                try:
                    with zf.open(zi) as fh:
                        got = fh.readinto(memoryview(raw))
                except _ZIP_ERRORS as exc:
                    raise _err(path, f"cannot read {describe(name)}: {str(exc)[:200]}") from None
                if got != len(raw):
                    raise _err(path, f"storage record {describe(name)} is truncated")
                cache[ref.key] = np.frombuffer(raw, dtype=dt)
            return cache[ref.key]

        def tensor(k: str, t: TensorRef) -> np.ndarray:
            key = t.storage.key
            arr = _tensor_to_array(path, k, t, storage(t.storage), big,
                                   owns_buffer=users[key] == 1)
            users[key] -= 1
            if users[key] == 0:
                cache.pop(key, None)  # last user: the buffer lives on only in `arr`, if at all
            return arr

        return _finish(path, sd, tensor, strip)


def _unpickle(path: Any, data: Union[bytes, BinaryIO], table: _StorageTable,
              meter: Meter) -> Any:
    f = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return resolve(RestrictedUnpickler(f, groups=("torch",), persistent_load=table,
                                           meter=meter, inert=True).load())
    except UnsafePickleError as exc:
        raise _unsafe(path, exc) from None
    except BudgetError as exc:
        raise BudgetError(f"{os.fspath(path)!s}: {exc}") from None
    except MemoryError:
        if get_budget().user_raised:
            raise
        raise BudgetError(f"{os.fspath(path)!s}: the checkpoint pickle needs more memory than "
                          "this machine has") from None
    except _PICKLE_ERRORS as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(os.fspath(path)):
            raise
        raise _err(path, f"corrupt checkpoint pickle ({type(exc).__name__}: "
                   f"{str(exc)[:200]})") from None


# --------------------------------------------------------------------------------------------
# Legacy format (torch < 1.6, or _use_new_zipfile_serialization=False)

def _load_legacy(path: PathLike, strip: bool, meter: Meter
                 ) -> "collections.OrderedDict[str, np.ndarray]":
    with open(path, "rb") as fh:  # the arrays are views of this buffer until copied
        data = fh.read()
    size = len(data)
    with io.BytesIO(data) as f:
        def header(what: str) -> Any:
            try:
                return resolve(RestrictedUnpickler(f, meter=meter).load())
            except UnsafePickleError as exc:
                raise _unsafe(path, exc) from None
            except BudgetError as exc:
                raise BudgetError(f"{os.fspath(path)!s}: {exc}") from None
            except _PICKLE_ERRORS as exc:
                raise _err(path, f"cannot read the {what} ({type(exc).__name__}: "
                           f"{str(exc)[:200]}); expected {FORMATS}") from None

        magic = header("magic number")
        if magic != _LEGACY_MAGIC:
            raise _err(path, "a pickle, but not a PyTorch checkpoint (legacy magic number "
                       f"missing); expected {FORMATS}")
        proto = header("protocol version")
        if proto != _LEGACY_PROTOCOL:
            raise _err(path, f"unsupported legacy checkpoint protocol {describe(proto, 20)}")
        header("system info")  # raw storages are little-endian whatever it says
        table = _StorageTable(path, legacy=True)
        obj = _unpickle(path, f, table, meter)
        keys = header("storage key list")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise _err(path, "the storage key list is malformed")
        sd = _state_dict_from(path, obj)
        _charge_tensors(meter, sd)
        wanted = {v.storage.key for v in sd.values() if isinstance(v, TensorRef)}
        buffers: Dict[str, np.ndarray] = {}
        for key in keys:
            ref = table.refs.get(key)
            if ref is None:
                raise _err(path, f"storage {describe(key)} is listed but never used")
            dt = _element_type(ref.storage_type)
            head = f.read(8)
            if len(head) != 8:
                raise _err(path, f"file is truncated (storage {describe(key)} missing)")
            (numel,) = struct.unpack("<q", head)
            nbytes = numel * dt.itemsize
            if numel != ref.numel or nbytes > size - f.tell():
                raise _err(path, f"storage {describe(key)}: header says {numel} elements, "
                           f"expected {ref.numel}; file corrupt or truncated")
            if key in wanted:
                if f.tell() + nbytes > size:
                    raise _err(path, f"file is truncated (storage {describe(key)})")
                buffers[key] = np.frombuffer(data, dtype=dt, count=numel, offset=f.tell())
            f.seek(nbytes, os.SEEK_CUR)
        missing = wanted - set(buffers)
        if missing:
            raise _err(path, f"storages {[describe(k, 40) for k in sorted(missing)[:5]]} are "
                       "used but not in the file")
        return _finish(path, sd, lambda k, t: _tensor_to_array(path, k, t, buffers[t.storage.key],
                                                               False), strip)


# --------------------------------------------------------------------------------------------
# npz and safetensors

def _load_npz(path: PathLike, meter: Meter) -> "collections.OrderedDict[str, np.ndarray]":
    out = read_npz(path, meter, os.fspath(path))
    for k, a in out.items():
        if a.dtype.kind not in "biufc":
            raise _err(path, f"array {describe(k)} has dtype {a.dtype}, not numbers")
    return out


_SAFETENSORS_MAX_HEADER = 100 << 20  # the safetensors format's own limit


def _load_safetensors(path: PathLike, meter: Meter) -> "collections.OrderedDict[str, np.ndarray]":
    import json
    from safetensors.numpy import load_file
    with open(path, "rb") as f:  # the header first: its order, and sizes before allocating
        (n,) = struct.unpack("<Q", f.read(8))
        if n > _SAFETENSORS_MAX_HEADER:
            raise _err(path, f"safetensors header of {n} bytes is implausibly large")
        try:
            header = json.loads(f.read(n))
        except (ValueError, RecursionError) as exc:
            raise _err(path, f"the safetensors header is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(header, dict):
        raise _err(path, "the safetensors header is not a JSON object")
    order = [k for k in header if k != "__metadata__"]
    meter.charge(os.path.getsize(path), "the safetensors tensors")
    try:
        d = load_file(os.fspath(path))
    except Exception as exc:  # SafetensorError, TypeError for unsupported dtypes
        raise _err(path, f"cannot read the safetensors file ({str(exc)[:200]})") from None
    if sorted(order) != sorted(d):
        raise _err(path, "the safetensors header and its tensors disagree")
    return collections.OrderedDict((k, d[k]) for k in order)


def load_checkpoint(path: PathLike, *, strip_module_prefix: bool = True
                    ) -> "collections.OrderedDict[str, np.ndarray]":
    """Read network weights as ``OrderedDict[name, ndarray]`` without PyTorch.

    Accepted files (detected from their content, not their name):

    * PyTorch ``torch.save`` output, zip format (torch >= 1.6; any archive folder name) or the
      legacy format; tensors with offsets, strides, shared storages; float64/32/16, bfloat16
      (returned as float32), int64/32/16/8, uint8, bool; storages saved from a GPU
      (location ``'cuda:0'``) load the same. If the top level is a dict with a ``'model'`` (or
      ``'state_dict'``) dict, that entry is returned, every other entry (epoch, optimizer
      state, ...) is skipped; otherwise the top level must itself be a state dict.
    * ``.safetensors`` (via the ``safetensors`` package) and ``.npz`` (``allow_pickle=False``).

    ``strip_module_prefix``: like the official demo, if ANY key starts with ``'module.'``,
    ``str.replace('module.', '')`` is applied to EVERY key (it removes every occurrence, not
    only the leading one). Arrays are C-contiguous, native-endian and writable; 0-d int64
    arrays hold ``num_batches_tracked``.

    Loading is pure and bounded (docs/security.md): nothing in the file can change anything
    that outlives this call, and the arrays built may take at most the byte budget of
    :mod:`cliff.io.budget` (4 x the file size + 256 MiB unless raised).

    Raises TypeError if ``path`` is not a path; FileNotFoundError / IsADirectoryError /
    PermissionError (OSError) if the file cannot be opened; ValueError (naming the path and
    what was expected) for empty, truncated, corrupt or other kinds of files, including
    :class:`~cliff.io.unpickle.UnsafePickleError` (also a ``pickle.UnpicklingError``) naming
    the class if the pickle references anything outside the allowlist, and
    :class:`~cliff.io.budget.BudgetError` when the file asks for more than its budget.
    MemoryError only when the user raised the budget beyond what the machine has.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected a checkpoint file path, got {type(path).__name__}")
    if not isinstance(strip_module_prefix, bool):
        raise TypeError("strip_module_prefix: expected a bool, got "
                        f"{type(strip_module_prefix).__name__}")
    return guarded(path, "a checkpoint", _load_checkpoint, path, strip_module_prefix)


def _load_checkpoint(path: PathLike, strip_module_prefix: bool
                     ) -> "collections.OrderedDict[str, np.ndarray]":
    kind = _sniff(path)
    meter = Meter(path, os.path.getsize(path))
    if kind == "zip":
        return _load_zip(path, strip_module_prefix, meter)
    if kind == "legacy":
        return _load_legacy(path, strip_module_prefix, meter)
    out = _load_safetensors(path, meter)
    if strip_module_prefix:
        out = _finish(path, out, None, True)
    return out


# --------------------------------------------------------------------------------------------
# Writers

_STORAGE_FOR = {np.dtype(t.dtype).str: t.torch_name for t in TORCH_STORAGES.values()
                if not t.bfloat16 and t.torch_name != "UntypedStorage"}


def _as_weight(name: str, v: Any) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype.hasobject or a.dtype.fields is not None:
        raise TypeError(f"state_dict[{name!r}]: expected a numeric array, got dtype {a.dtype}")
    a = np.asarray(a, dtype=a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype,
                   order="C")
    if a.dtype.str not in _STORAGE_FOR:
        raise TypeError(f"state_dict[{name!r}]: dtype {a.dtype} has no PyTorch storage type")
    return a


class _TensorWriter:
    """Builds pickle nodes for arrays and collects their storages."""

    def __init__(self, location: str, legacy: bool) -> None:
        self.location, self.legacy = location, legacy
        self.storages: "list[tuple[str, np.ndarray]]" = []

    def tensor(self, name: str, v: Any) -> pw.Reduce:
        a = _as_weight(name, v)
        key = str(len(self.storages))
        self.storages.append((key, a))
        pid: tuple = ("storage", pw.Global("torch", _STORAGE_FOR[a.dtype.str]), key,
                      self.location, int(a.size))
        if self.legacy:
            pid += (None,)
        stride, acc = [], 1
        for s in reversed(a.shape):
            stride.append(acc)
            acc *= s
        hooks = pw.Reduce(pw.Global("collections", "OrderedDict"), ())
        return pw.Reduce(pw.Global("torch._utils", "_rebuild_tensor_v2"),
                         (pw.PersId(pid), 0, tuple(int(s) for s in a.shape),
                          tuple(reversed(stride)), False, hooks))

    def value(self, name: str, v: Any) -> Any:
        """Extra entries: plain values, containers, arrays (written as tensors)."""
        if isinstance(v, (np.ndarray, np.generic)):
            return self.tensor(name, v)
        if isinstance(v, dict):
            return {k: self.value(f"{name}.{k}", x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            items = [self.value(f"{name}[{i}]", x) for i, x in enumerate(v)]
            return items if isinstance(v, list) else tuple(items)
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        raise TypeError(f"{name}: cannot write a {type(v).__name__} to a checkpoint")


def save_checkpoint(path: PathLike, state_dict: Mapping[str, Any],
                    extra: Optional[Mapping[str, Any]] = None, *, legacy: bool = False,
                    prefix: str = "module.", location: str = "cpu", key: str = "model") -> None:
    """Write ``{'model': {prefix + name: tensor}, **extra}`` as a file ``torch.load`` reads
    (``weights_only=True`` too) without needing PyTorch here.

    Default is torch.save's zip format (``<stem>/data.pkl`` pickle protocol 2, records
    ``data/<key>`` aligned to 64 bytes, ``version``, ``byteorder``, ``.format_version``,
    ``.storage_alignment``); ``legacy=True`` writes the pre-1.6 format (magic number,
    protocol 1001, system info, pickle, storage keys, raw little-endian storages).
    ``state_dict`` values: numeric arrays (anything ``np.asarray`` takes, e.g. torch CPU
    tensors); each becomes a contiguous tensor with its own storage. ``extra``: further
    top-level entries (ints, floats, str, None, lists, tuples, dicts, arrays).
    ``location``: the device tag stored with each storage (``'cuda:0'`` mimics a file saved
    on a GPU; torch.load then needs ``map_location='cpu'`` on a CPU-only machine).
    ``prefix`` is prepended to every key (``''`` for none). ``key``: the top-level entry
    holding the state dict (``'state_dict'`` for PyTorch Lightning and mmcv files).
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict: expected a mapping name -> array, got {type(state_dict).__name__}")
    extra = dict(extra or {})
    if key not in ("model", "state_dict"):
        raise ValueError(f"key: expected 'model' or 'state_dict', got {key!r}")
    if key in extra:
        raise ValueError(f"extra: must not contain {key!r} (that entry holds the state dict)")
    tw = _TensorWriter(str(location), legacy)
    items = {}
    for k, v in state_dict.items():
        if not isinstance(k, str):
            raise TypeError(f"state_dict: key {k!r} is not a string")
        items[prefix + k] = tw.tensor(k, v)
    top = {key: pw.Reduce(pw.Global("collections", "OrderedDict"), (), items)}
    for k, v in extra.items():
        top[k] = tw.value(str(k), v)
    path = os.fspath(path)
    if legacy:
        _write_legacy(path, top, tw.storages)
    else:
        _write_zip(path, top, tw.storages)


def _write_legacy(path: str, top: Any, storages: list) -> None:
    with open(path, "wb") as f:
        pw.dump(_LEGACY_MAGIC, f)
        pw.dump(_LEGACY_PROTOCOL, f)
        pw.dump({"protocol_version": _LEGACY_PROTOCOL, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, f)
        pw.dump(top, f)
        keys = sorted(k for k, _ in storages)
        pw.dump(keys, f)
        by_key = dict(storages)
        for k in keys:
            a = by_key[k]
            f.write(struct.pack("<q", a.size))
            f.write(a.tobytes())


def _write_zip(path: str, top: Any, storages: list) -> None:
    stem = os.path.splitext(os.path.basename(path))[0] or "archive"
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)
    buf = io.BytesIO()
    pw.dump(top, buf)
    records = [("data.pkl", buf.getvalue()), (".format_version", b"1"),
               (".storage_alignment", b"64"), ("byteorder", b"little")]
    records += [(f"data/{k}", a.tobytes()) for k, a in storages]
    records += [("version", b"3\n")]
    with open(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        for name, data in records:
            full = f"{stem}/{name}"
            zi = zipfile.ZipInfo(full, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED
            # Pad the local header's extra field so the data starts on a 64-byte boundary,
            # as torch.save does (id 'FB', padding 'Z').
            start = fh.tell() + 30 + len(full.encode()) + 4
            pad = (-start) % 64
            zi.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            zf.writestr(zi, data)


def save_safetensors(path: PathLike, tensors: Mapping[str, Any],
                     metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write ``name -> array`` with the ``safetensors`` package (numpy API). Arrays are made
    C-contiguous; read back with :func:`load_checkpoint` (same keys, order kept)."""
    from safetensors.numpy import save_file
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors: expected a mapping name -> array, got {type(tensors).__name__}")
    out = {}
    for k, v in tensors.items():
        if not isinstance(k, str):
            raise TypeError(f"tensors: key {k!r} is not a string")
        a = np.asarray(v)
        if a.dtype.hasobject or a.dtype.fields is not None:
            raise TypeError(f"tensors[{k!r}]: expected a numeric array, got dtype {a.dtype}")
        out[k] = np.asarray(a, dtype=a.dtype.newbyteorder("="), order="C")
    md = None if metadata is None else {str(k): str(v) for k, v in metadata.items()}
    save_file(out, os.fspath(path), metadata=md)
