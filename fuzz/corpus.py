"""The seed corpus of the fuzzers and of tests/test_security.py: tiny valid files of every
format cliff reads, and hostile files, one per class of attack found against the readers.

``python fuzz/corpus.py [DIR]`` (re)writes the committed corpus (default ``fuzz/corpus``):
``DIR/valid/<reader>/*`` and ``DIR/hostile/<reader>/*``. Every file is a few KB at most.

Each hostile file is *small* and asks for something a reader must refuse quickly:
BUILD on allowlisted classes/functions (changes later loads), repr/hash bombs made of
memo-shared nested containers (~10^12 steps), zero-stride tensors and npz headers that ask
for tens of GB, 2^62 length fields, deep JSON, 400-digit numbers, wrong JSON types, NaN boxes,
values finite in float64 but infinite in float32.

Readers (the directory names): ``unpickle`` (cliff.io.restricted_load with all groups),
``checkpoint``, ``smpl``, ``mean_params``, ``keypoints``, ``boxes``.
"""
from __future__ import annotations

import io
import json
import os
import struct
import sys
import zipfile
from typing import Callable, Dict

import numpy as np

READERS = ("unpickle", "checkpoint", "smpl", "mean_params", "keypoints", "boxes")


def reader(kind: str) -> Callable[[str], object]:
    """The function that reads a file of this kind (what the fuzzers and tests call)."""
    import cliff
    import cliff.io as cio

    if kind == "unpickle":
        def load(path: str) -> object:
            with open(path, "rb") as f:
                return cio.restricted_load(f.read(), groups=("torch", "smpl"))
        return load
    return {"checkpoint": cio.load_checkpoint, "smpl": cio.load_smpl,
            "mean_params": cio.load_mean_params, "keypoints": cliff.annotate.keypoints.load_keypoint_file,
            "boxes": cliff.load_boxes}[kind]


# --------------------------------------------------------------------------------------------
# pickle building blocks (raw opcodes, protocol 2)

def _str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def shared_lists(depth: int) -> bytes:
    """Opcodes pushing L_depth, where L_0 = [] and L_k = [L_{k-1}, L_{k-1}] (memo-shared):
    a few bytes per level, 2^depth leaves once walked as a tree (repr, str, ==)."""
    out = b"]"
    for k in range(depth):
        out += b"r" + struct.pack("<I", k) + b"0(" + (b"j" + struct.pack("<I", k)) * 2 + b"l"
    return out


def shared_tuples(depth: int) -> bytes:
    """T_k = (T_{k-1}, T_{k-1}): hashing T_60 takes 2^60 steps (tuples cache no hash)."""
    out = b")"
    for k in range(depth):
        out += b"r" + struct.pack("<I", k) + b"0" + (b"j" + struct.pack("<I", k)) * 2 + b"\x86"
    return out


def build_on_global(module: str, name: str, attr: str, value: bytes) -> bytes:
    """GLOBAL module.name, BUILD (None, {attr: value}): with pickle's default BUILD this sets
    an attribute of the allowlisted object itself (process-wide state)."""
    return (b"\x80\x02" + _global(module, name) + b"N}" + _str(attr) + value + b"s\x86b.")


def torch_zip(pickle_bytes: bytes, records: Dict[str, bytes] = None) -> bytes:
    """A torch.save-style zip archive around ``data.pkl``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/byteorder", b"little")
        for k, v in (records or {}).items():
            z.writestr(f"archive/data/{k}", v)
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


def legacy(pickle_bytes: bytes) -> bytes:
    """The legacy torch format's three header pickles, then ``pickle_bytes``."""
    import pickle
    head = b"".join(pickle.dumps(x, protocol=2) for x in (
        0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                       "type_sizes": {"short": 2, "int": 4, "long": 4}}))
    return head + pickle_bytes


def npz(members: Dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for k, v in members.items():
            z.writestr(k + ".npy", v)
    return buf.getvalue()


def npy_header_only(shape: tuple, descr: str = "<f8") -> bytes:
    """An .npy member that declares ``shape`` and holds 16 bytes of data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue() + b"\0" * 16


def npy_raw_header(text: bytes, data: int = 12) -> bytes:
    """A version 1.0 .npy member whose header is ``text`` verbatim (padded, newline-ended)
    followed by ``data`` zero bytes."""
    pad = -(len(text) + 11) % 64
    h = text + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + b"\0" * data


def _npz_arrays(arrays: Dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def stride0_checkpoint(count: int = 64) -> bytes:
    """``count`` tensors of 2^26 float32 each, all stride-0 views of one 4-element storage:
    16 GB asked for by a file of a few KB."""
    from cliff.io import pickle_writer as pw
    pid = pw.PersId(("storage", pw.Global("torch", "FloatStorage"), "0", "cpu", 4))
    sd = {f"w{i}": pw.Reduce(pw.Global("torch._utils", "_rebuild_tensor_v2"),
                             (pid, 0, (8192, 8192), (0, 0), False, None)) for i in range(count)}
    buf = io.BytesIO()
    pw.dump(sd, buf)
    return torch_zip(buf.getvalue(), {"0": np.zeros(4, np.float32).tobytes()})


# --------------------------------------------------------------------------------------------
# tiny valid files

def tiny_smpl() -> Dict[str, np.ndarray]:
    """A consistent SMPL-like model with 4 vertices and 2 joints (load_smpl accepts it)."""
    rng = np.random.default_rng(0)
    return {"v_template": rng.normal(size=(4, 3)), "shapedirs": rng.normal(size=(4, 3, 2)) * 0.01,
            "posedirs": rng.normal(size=(4, 3, 9)) * 0.01,
            "J_regressor": np.full((2, 4), 0.25), "weights": np.full((4, 2), 0.5),
            "parents": np.array([-1, 0]), "faces": np.array([[0, 1, 2], [1, 2, 3]])}


def valid_files() -> Dict[str, Dict[str, bytes]]:
    import tempfile

    import cliff.io as cio
    out: Dict[str, Dict[str, bytes]] = {k: {} for k in READERS}
    rng = np.random.default_rng(1)
    sd = {"a.weight": rng.normal(size=(3, 2)).astype(np.float32),
          "a.bias": np.arange(3, dtype=np.float32), "n": np.array(4, dtype=np.int64)}
    with tempfile.TemporaryDirectory() as tmp:
        def write(fn: Callable[[str], None]) -> bytes:
            p = os.path.join(tmp, "f")
            fn(p)
            with open(p, "rb") as fh:
                return fh.read()
        out["checkpoint"]["zip.pt"] = write(lambda p: cio.save_checkpoint(p, sd, {"epoch": 3}))
        out["checkpoint"]["legacy.pt"] = write(
            lambda p: cio.save_checkpoint(p, sd, legacy=True))
        out["checkpoint"]["weights.safetensors"] = write(lambda p: cio.save_safetensors(p, sd))
        out["checkpoint"]["weights.npz"] = _npz_arrays(sd)
        out["smpl"]["tiny.pkl"] = write(lambda p: cio.save_smpl_pkl(p, tiny_smpl()))
        out["smpl"]["tiny.npz"] = write(lambda p: cio.save_smpl_npz(p, tiny_smpl()))
    import pickle
    out["unpickle"]["arrays.pkl"] = pickle.dumps(
        {"a": np.arange(4.0), "s": np.float32(2), "l": [1, (2, "x")], "set": {1}}, protocol=2)
    out["unpickle"]["smpl.pkl"] = out["smpl"]["tiny.pkl"]
    out["mean_params"]["mean.npz"] = _npz_arrays(
        {"pose": np.tile([1.0, 0, 0, -1, 0, 0], 24), "shape": np.zeros(10), "cam": [0.9, 0, 0]})
    out["keypoints"]["coco.json"] = json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "annotations": [{"image_id": 1, "keypoints": [10, 20, 2] * 17,
                         "bbox": [5, 5, 40, 80]}]}).encode()
    out["boxes"]["own.json"] = json.dumps({"a.jpg": [[1, 2, 30, 40, 0.9]]}).encode()
    out["boxes"]["coco.json"] = json.dumps({
        "images": [{"id": 7, "file_name": "a.jpg"}],
        "annotations": [{"image_id": 7, "bbox": [1, 2, 3, 4], "category_id": 1}]}).encode()
    out["boxes"]["dets.json"] = json.dumps([{"image_id": "a.jpg", "bbox": [1, 2, 3, 4],
                                            "score": 0.5}]).encode()
    return out


# --------------------------------------------------------------------------------------------
# hostile files

def hostile_files() -> Dict[str, Dict[str, bytes]]:
    out: Dict[str, Dict[str, bytes]] = {k: {} for k in READERS}
    # -- BUILD on allowlisted objects: would change every later load in the process
    storage_dtype = build_on_global("torch", "FloatStorage", "dtype", _str("<f2"))
    scalar_slot = build_on_global("numpy.core.multiarray", "scalar", "value", b"K\x01")
    func_defaults = build_on_global("_codecs", "encode", "__defaults__",
                                    b"(" + _str("rot13") + _str("strict") + b"t")
    set_dict = build_on_global("builtins", "set", "marker", b"K\x01")
    smpl_class = build_on_global("scipy.sparse.csc", "csc_matrix", "default_format", _str("csr"))
    ch_class = build_on_global("numpy", "ndarray", "__new__", b"N")
    for name, p in (("build_storage_dtype", storage_dtype), ("build_scalar_slot", scalar_slot),
                    ("build_function_defaults", func_defaults), ("build_set_dict", set_dict),
                    ("build_sparse_class", smpl_class), ("build_ndarray_new", ch_class)):
        out["unpickle"][name + ".pkl"] = p
        out["checkpoint"][name + ".pt"] = torch_zip(p)
        out["checkpoint"][name + "_legacy.pt"] = legacy(p)
        out["smpl"][name + ".pkl"] = p
    # -- error messages asked to format 2^45-leaf structures, keys that hash in 2^60 steps
    dtype_bomb = (b"\x80\x02" + _global("numpy", "dtype") + _str("f8") + b"\x85R" +
                  shared_lists(45) + b"b.")
    hash_bomb = b"\x80\x02}" + shared_tuples(60) + b"Ns."
    pid_bomb = b"\x80\x02" + shared_lists(45) + b"Q."
    set_bomb = b"\x80\x02" + _global("builtins", "set") + shared_tuples(60) + b"\x85\x85R."
    memo_bomb = b"\x80\x02Nr\xf0\xff\xff\xff."
    for name, p in (("repr_bomb_dtype", dtype_bomb), ("hash_bomb", hash_bomb),
                    ("hash_bomb_set", set_bomb)):
        out["unpickle"][name + ".pkl"] = p
        out["smpl"][name + ".pkl"] = p
        out["checkpoint"][name + ".pt"] = torch_zip(p)
    out["checkpoint"]["repr_bomb_persistent_id.pt"] = torch_zip(pid_bomb)
    # -- lengths and indices that ask for memory
    out["unpickle"]["bytes8_2e62.pkl"] = b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + b"abc."
    out["unpickle"]["long4_2e31.pkl"] = b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b"ab."
    out["checkpoint"]["memo_index_2e32.pt"] = torch_zip(memo_bomb)
    out["smpl"]["memo_index_2e32.pkl"] = memo_bomb
    out["unpickle"]["deep_lists.pkl"] = b"\x80\x02" + b"]" * 2000 + b"a" * 1999 + b"."
    out["checkpoint"]["stride0_16GB.pt"] = stride0_checkpoint()
    out["checkpoint"]["npz_header_8TB.npz"] = npz({"w": npy_header_only((10 ** 12,))})
    out["mean_params"]["npz_header_8TB.npz"] = npz({"pose": npy_header_only((10 ** 12,))})
    out["smpl"]["npz_header_8TB.npz"] = npz({"v_template": npy_header_only((10 ** 12, 3))})
    # -- an .npy header whose dict is never closed (NumPy's header parser tokenizes it and
    #    raises tokenize.TokenError, which is not a ValueError)
    open_dict = npy_raw_header(b"{'descr': '<f4', 'fortran_order': False, 'shape': (3,")
    for kind, key in (("checkpoint", "w"), ("mean_params", "pose"), ("smpl", "v_template")):
        out[kind]["npy_header_unclosed.npz"] = npz({key: open_dict})
    out["smpl"]["sparse_16GB.pkl"] = _sparse_bomb()
    # -- float64-finite, float32-infinite model data
    m = tiny_smpl()
    m["posedirs"] = m["posedirs"].copy()
    m["posedirs"][0, 0, 0] = 1e300
    out["smpl"]["posedirs_1e300.npz"] = _npz_arrays({**m, "kintree_table": np.stack(
        [np.array([4294967295, 0]), np.arange(2)]), "f": m["faces"]})
    # -- JSON: nesting, long numbers, wrong types, NaN
    deep = b"[" * 5000 + b"]" * 5000
    for kind in ("keypoints", "boxes"):
        out[kind]["deep_nesting.json"] = deep
        out[kind]["deep_object.json"] = b'{"a.jpg": ' + deep + b"}"
    out["boxes"]["number_400_digits.json"] = b'{"a.jpg": [[1' + b"0" * 400 + b', 2, 3, 4]]}'
    out["boxes"]["float_1e400.json"] = b'{"a.jpg": [[1e400, 2, 3, 4]]}'
    out["boxes"]["nan_box.json"] = b'{"a.jpg": [[NaN, 0, 10, 10]]}'
    out["boxes"]["infinity_score.json"] = b'{"a.jpg": [[0, 0, 10, 10, Infinity]]}'
    out["boxes"]["list_of_ints.json"] = b"[1, 2, 3]"
    out["boxes"]["rows_not_lists.json"] = b'{"a.jpg": 5}'
    out["boxes"]["coco_images_dict.json"] = b'{"images": {"id": 1}, "annotations": []}'
    out["boxes"]["coco_unhashable_id.json"] = (
        b'{"images": [{"id": [1], "file_name": "a"}], "annotations": [{"image_id": [1], '
        b'"bbox": [1, 2, 3, 4]}]}')
    out["keypoints"]["unhashable_image_id.json"] = (
        b'{"annotations": [{"keypoints": [1, 2, 1], "image_id": [1]}]}')
    out["keypoints"]["images_not_list.json"] = b'{"images": 5, "annotations": []}'
    out["keypoints"]["number_400_digits.json"] = (
        b'{"annotations": [{"file_name": "a", "keypoints": [1' + b"0" * 400 + b", 2, 1]}]}")
    out["keypoints"]["file_name_object.json"] = (
        b'{"annotations": [{"file_name": {"x": 1}, "keypoints": [1, 2, 1]}]}')
    out["keypoints"]["npz_header_8TB.npz"] = npz({"imgname": npy_header_only((10 ** 12,)),
                                                  "keypoints": npy_header_only((10 ** 12, 17, 3))})
    return out


def amplification(size: int = 1 << 16, count: int = 100) -> bytes:
    """One ``size``-byte string turned into ``count`` arrays through the memo: the file holds
    the bytes once, the arrays need ``count`` copies (charged to the byte budget)."""
    head = b"\x80\x03B" + struct.pack("<I", size) + b"a" * size + b"r\x01\x00\x00\x000"
    one = (_global("numpy.core.numeric", "_frombuffer") + b"(j\x01\x00\x00\x00" +
           _global("numpy", "dtype") + _str("u1") + b"\x85R" +
           b"J" + struct.pack("<i", size) + b"\x85" + _str("C") + b"tR")
    return head + b"(" + one * count + b"l."


def _sparse_bomb() -> bytes:
    """An SMPL pickle whose J_regressor is a CSC matrix of shape (2^27, 16) with no
    entries: 16 GB once densified, a few hundred bytes in the file."""
    from cliff.io import pickle_writer as pw
    empty_i = pw.ndarray_node(np.zeros(0, np.int32), py2=True)
    state = {"_shape": (1 << 27, 16), "format": "csc", "data": pw.ndarray_node(
        np.zeros(0), py2=True), "indices": empty_i,
        "indptr": pw.ndarray_node(np.zeros(17, np.int32), py2=True)}
    m = tiny_smpl()
    top = {k: pw.ndarray_node(np.asarray(v), py2=True) for k, v in m.items() if k != "J_regressor"}
    top["J_regressor"] = pw.Build(pw.NewObj(pw.Global("scipy.sparse.csc", "csc_matrix"), ()), state)
    buf = io.BytesIO()
    pw.dump(top, buf, py2=True)
    return buf.getvalue()


def write(root: str) -> int:
    n = 0
    for group, files in (("valid", valid_files()), ("hostile", hostile_files())):
        for kind, entries in files.items():
            d = os.path.join(root, group, kind)
            os.makedirs(d, exist_ok=True)
            for name, data in entries.items():
                with open(os.path.join(d, name), "wb") as fh:
                    fh.write(data)
                n += 1
    return n


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    print(f"wrote {write(target)} files under {target}")
