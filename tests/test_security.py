"""Hostile and oversized files (docs/security.md): loading is pure, bounded, raises only the
documented exceptions, and validates before it allocates.

The hostile files come from fuzz/corpus.py (also committed under fuzz/corpus/); each test
names the class of attack it guards against.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import cliff
import cliff.io as cio
from cliff.io import unpickle
from cliff.io.budget import BudgetError, limits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "fuzz"))
import corpus  # noqa: E402

VALID = corpus.valid_files()
HOSTILE = corpus.hostile_files()
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def _write(tmp_path, name: str, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


from fuzz_readers import process_state as _snapshot  # noqa: E402  (state a pickle could reach)


def _equal(a, b) -> bool:
    """Bit-for-bit equality of two loaded results (dicts/lists of arrays and values)."""
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and
                a.tobytes() == b.tobytes())
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, (unpickle.ChArray, unpickle.SparseMatrix)):  # stand-ins: their state
        return type(a) is type(b) and _equal(vars(a), vars(b))
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------------------------------
# 1. Loading is pure

_PURITY_CASES = [(kind, valid, hostile) for kind in corpus.READERS
                 for valid in VALID[kind] for hostile in HOSTILE[kind]]


@pytest.mark.parametrize("kind,valid,hostile", _PURITY_CASES)
def test_a_hostile_file_between_two_loads_changes_nothing(tmp_path, kind, valid, hostile):
    # valid -> hostile (refused) -> valid: the two valid loads are equal bit for bit, and no
    # allowlisted class or function has gained, lost or changed an attribute.
    read = corpus.reader(kind)
    vpath = _write(tmp_path, valid, VALID[kind][valid])
    hpath = _write(tmp_path, hostile, HOSTILE[kind][hostile])
    before, snap = read(vpath), _snapshot()
    with pytest.raises((ValueError, OSError)):
        read(hpath)
    assert _snapshot() == snap
    assert _equal(read(vpath), before)


def test_build_on_a_storage_type_cannot_change_later_checkpoints(tmp_path):
    # The finding: BUILD (None, {'dtype': '<f2'}) on torch.FloatStorage rewrote the class,
    # and a valid float32 checkpoint loaded afterwards came back as garbage float16.
    good = _write(tmp_path, "good.pt", VALID["checkpoint"]["zip.pt"])
    ref = cio.load_checkpoint(good)
    with pytest.raises(cio.UnsafePickleError, match="BUILD"):
        cio.load_checkpoint(_write(tmp_path, "evil.pt", HOSTILE["checkpoint"]["build_storage_dtype.pt"]))
    assert unpickle.TORCH_STORAGES["FloatStorage"].dtype == np.dtype("<f4")
    np.testing.assert_array_equal(cio.load_checkpoint(good)["a.weight"], ref["a.weight"])


@pytest.mark.parametrize("name", sorted(n for n in HOSTILE["unpickle"] if n.startswith("build_")))
def test_build_on_allowlisted_objects_is_refused(name):
    with pytest.raises(cio.UnsafePickleError, match=r"BUILD \(setting state\)"):
        cio.restricted_load(HOSTILE["unpickle"][name], groups=("torch", "smpl"))


def test_build_still_reaches_the_validating_stand_ins():
    # what legitimately needs BUILD keeps working: arrays, dtypes, OrderedDict attributes
    import collections
    import pickle
    od = collections.OrderedDict(a=np.arange(3.0))
    od._metadata = {"": {"version": 1}}
    out = cio.restricted_load(pickle.dumps({"od": od, "d": np.dtype(">i4")}, protocol=2))
    np.testing.assert_array_equal(out["od"]["a"], np.arange(3.0))
    assert out["od"].pickle_attributes == {"_metadata": {"": {"version": 1}}}
    assert out["d"] == np.dtype(">i4")


# ------------------------------------------------------------------------------------------
# 2. Bounded work per file

def _refusal_time(kind: str, name: str, tmp_path) -> float:
    path = _write(tmp_path, name, HOSTILE[kind][name])
    t0 = time.perf_counter()
    with pytest.raises((ValueError, OSError)):
        corpus.reader(kind)(path)
    return time.perf_counter() - t0


@pytest.mark.parametrize("kind,name", [(k, n) for k in corpus.READERS for n in HOSTILE[k]])
def test_every_hostile_file_is_refused_in_well_under_a_second(tmp_path, kind, name):
    assert _refusal_time(kind, name, tmp_path) < 0.5


@pytest.mark.parametrize("name", ["repr_bomb_dtype.pkl", "hash_bomb.pkl", "hash_bomb_set.pkl"])
def test_bombs_of_memo_shared_containers_are_refused_without_walking_them(tmp_path, name):
    # repr of L45 would be ~10^14 characters and hashing T60 2^60 steps; refusing takes
    # a few milliseconds and the message describes the object instead of printing it.
    path = _write(tmp_path, name, HOSTILE["unpickle"][name])
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as info:
        corpus.reader("unpickle")(path)
    assert time.perf_counter() - t0 < 0.2
    assert len(str(info.value)) < 400


def test_zero_stride_views_cannot_materialise_more_than_the_byte_budget(tmp_path):
    # 64 tensors of 2^26 float32, each a stride-0 view of a 4-element storage: 16 GiB asked
    # for by a 9 KB file. Refused before anything is read, naming the budget to raise.
    path = _write(tmp_path, "s.pt", HOSTILE["checkpoint"]["stride0_16GB.pt"])
    assert os.path.getsize(path) < 16_000
    with pytest.raises(BudgetError, match=r"implausibly large.*limits\(max_bytes="):
        cio.load_checkpoint(path)


def test_the_byte_budget_can_be_raised_for_a_genuine_file(tmp_path):
    # one stride-0 tensor of 2^20 float32 (4 MiB) from a 4-element storage: over a 1 MiB
    # budget it is refused, with the budget raised it loads (all zeros, a fresh array).
    from cliff.io import pickle_writer as pw
    import io
    pid = pw.PersId(("storage", pw.Global("torch", "FloatStorage"), "0", "cpu", 4))
    buf = io.BytesIO()
    pw.dump({"w": pw.Reduce(pw.Global("torch._utils", "_rebuild_tensor_v2"),
                            (pid, 0, (1024, 1024), (0, 0), False, None))}, buf)
    path = _write(tmp_path, "e.pt", corpus.torch_zip(buf.getvalue(),
                                                     {"0": np.zeros(4, np.float32).tobytes()}))
    with limits(min_bytes=1 << 20), pytest.raises(BudgetError):
        cio.load_checkpoint(path)
    with limits(min_bytes=1 << 20, max_bytes=64 << 20):
        w = cio.load_checkpoint(path)["w"]
    assert w.shape == (1024, 1024) and not w.any()


def test_memo_references_cannot_amplify_one_string_into_many_arrays():
    # 64 KiB in the file, 100 arrays built from it through the memo: 6.4 MiB, over a budget
    # of 4 x the file + 1 MiB.
    data = corpus.amplification(1 << 16, 100)
    with limits(min_bytes=1 << 20), pytest.raises(BudgetError):
        cio.restricted_load(data, meter=cio.budget.Meter("amp", len(data)))
    assert len(cio.restricted_load(corpus.amplification(1 << 16, 3))) == 3


def test_limits_are_checked_and_scoped():
    with pytest.raises(TypeError, match="unknown budget"):
        with limits(max_gigabytes=3):
            pass
    with pytest.raises(ValueError, match=">= 0"):
        with limits(max_depth=-1):
            pass
    with limits(max_depth=3):
        with pytest.raises(BudgetError, match="nested"):
            cio.restricted_load(b"\x80\x02]]]]aaa.")
    assert cio.restricted_load(b"\x80\x02]]]]aaa.") == [[[[]]]]


_UNDER_3GIB = textwrap.dedent("""
    import os, resource, sys, time
    sys.path.insert(0, {fuzz!r})
    import cliff, corpus
    lim = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    bad = []
    for group in ("hostile",):
        for kind in corpus.READERS:
            d = os.path.join({root!r}, group, kind)
            read = corpus.reader(kind)
            for name in sorted(os.listdir(d)):
                t0 = time.perf_counter()
                try:
                    read(os.path.join(d, name))
                    bad.append(f"{{kind}}/{{name}}: accepted")
                except (ValueError, OSError):
                    pass
                except BaseException as e:
                    bad.append(f"{{kind}}/{{name}}: {{type(e).__name__}}")
                if time.perf_counter() - t0 > 1.0:
                    bad.append(f"{{kind}}/{{name}}: slow")
    print(bad)
    sys.exit(1 if bad else 0)
""")


_ASAN = pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                           reason="RLIMIT_AS cannot apply under AddressSanitizer (its shadow "
                                  "memory reserves terabytes of address space)")


@_ASAN
def test_the_committed_hostile_corpus_is_refused_under_a_3gib_address_space_limit():
    # a separate process limited to 3 GiB of address space: an attempt to materialise
    # gigabytes shows up as MemoryError (undocumented here) instead of swapping
    code = _UNDER_3GIB.format(fuzz=os.path.join(ROOT, "fuzz"), root=CORPUS)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_committed_corpus_is_what_corpus_py_writes():
    # fuzz/corpus/ is generated; this keeps it in step with the generator
    for group, files in (("valid", VALID), ("hostile", HOSTILE)):
        for kind, entries in files.items():
            on_disk = sorted(os.listdir(os.path.join(CORPUS, group, kind)))
            assert on_disk == sorted(entries), (group, kind)


# ------------------------------------------------------------------------------------------
# 3. Only documented exceptions

def test_length_fields_of_2_to_the_62_are_a_value_error():
    # the C unpickler allocated first: OverflowError or MemoryError
    with pytest.raises(ValueError, match="bytes8"):
        cio.restricted_load(HOSTILE["unpickle"]["bytes8_2e62.pkl"])


@pytest.mark.parametrize("kind,name", [
    ("boxes", "deep_nesting.json"), ("boxes", "number_400_digits.json"),
    ("boxes", "list_of_ints.json"), ("boxes", "coco_unhashable_id.json"),
    ("boxes", "rows_not_lists.json"), ("keypoints", "deep_nesting.json"),
    ("keypoints", "unhashable_image_id.json"), ("keypoints", "number_400_digits.json"),
    ("keypoints", "images_not_list.json"),
])
def test_json_readers_raise_value_or_os_errors_only(tmp_path, kind, name):
    # were RecursionError, OverflowError, AttributeError, TypeError
    path = _write(tmp_path, name, HOSTILE[kind][name])
    with pytest.raises((ValueError, OSError)) as info:
        corpus.reader(kind)(path)
    assert path in str(info.value) or repr(path) in str(info.value)


@pytest.mark.parametrize("name", ["nan_box.json", "infinity_score.json", "float_1e400.json"])
def test_non_finite_boxes_are_refused_at_the_reader(tmp_path, name):
    with pytest.raises(ValueError, match="finite"):
        cliff.load_boxes(_write(tmp_path, name, HOSTILE["boxes"][name]))


def test_non_finite_keypoint_boxes_are_refused_in_strict_mode_and_dropped_in_lenient(tmp_path):
    doc = {"annotations": [{"file_name": "a.jpg", "keypoints": [1, 2, 1] * 17,
                            "bbox": [0, 0, 1e400, 5]}]}
    path = _write(tmp_path, "k.json", json.dumps(doc).replace("Infinity", "1e400").encode())
    with pytest.raises(ValueError, match="bbox contains NaN or infinite"):
        cliff.annotate.keypoints.load_keypoint_file(path)
    [(name, kp, boxes)] = cliff.annotate.keypoints.load_keypoint_file(path, strict=False)
    assert name == "a.jpg" and kp.shape == (1, 17, 3) and boxes is None


# Property-based: random and structured junk never raises anything else.
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_SETTINGS = settings(max_examples=60, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))
_SEEDS = [(kind, data) for kind in corpus.READERS for data in
          list(VALID[kind].values()) + list(HOSTILE[kind].values())]


def _documented_only(kind: str, data: bytes, tmp_path) -> None:
    path = _write(tmp_path, "junk", data)
    try:
        corpus.reader(kind)(path)
    except (ValueError, OSError):
        pass


@pytest.mark.parametrize("kind", corpus.READERS)
@_SETTINGS
@given(data=st.binary(max_size=2048))
def test_random_bytes_raise_only_documented_exceptions(tmp_path_factory, kind, data):
    _documented_only(kind, data, tmp_path_factory.mktemp("h"))


@pytest.mark.parametrize("kind", corpus.READERS)
@_SETTINGS
@given(seed=st.integers(0, 10 ** 6), flips=st.lists(st.tuples(st.integers(0, 1 << 20),
                                                               st.integers(0, 255)), max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 1 << 20)))
def test_mutated_corpus_files_raise_only_documented_exceptions(tmp_path_factory, kind, seed,
                                                              flips, cut):
    seeds = [d for k, d in _SEEDS if k == kind]
    data = bytearray(seeds[seed % len(seeds)])
    for pos, byte in flips:
        if data:
            data[pos % len(data)] = byte
    if cut is not None and data:
        data = data[: cut % len(data)]
    _documented_only(kind, bytes(data), tmp_path_factory.mktemp("h"))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=30)
_annotation = st.fixed_dictionaries({}, optional={
    "image_id": _json, "file_name": _json, "bbox": _json, "keypoints": _json,
    "category_id": _json, "score": _json})


@pytest.mark.parametrize("kind", ["boxes", "keypoints"])
@_SETTINGS
@given(doc=st.one_of(_json, st.fixed_dictionaries(
    {"annotations": st.lists(_annotation, max_size=4)},
    optional={"images": st.lists(st.fixed_dictionaries({}, optional={"id": _json,
                                                                       "file_name": _json}),
                                 max_size=3)}), st.lists(_annotation, max_size=4),
    st.dictionaries(st.text(max_size=5), st.lists(st.lists(_json, max_size=6), max_size=3),
                    max_size=3)))
def test_structured_json_junk_raises_only_documented_exceptions(tmp_path_factory, kind, doc):
    _documented_only(kind, json.dumps(doc).encode(), tmp_path_factory.mktemp("h"))


# ------------------------------------------------------------------------------------------
# 4. Validate before allocate, in the precision used

def test_smpl_data_must_be_finite_in_float32(tmp_path):
    # 1e300 is finite in float64 and inf in float32: it used to pass and make every vertex NaN
    path = _write(tmp_path, "m.npz", HOSTILE["smpl"]["posedirs_1e300.npz"])
    with pytest.raises(ValueError, match="'posedirs'.*float32"):
        cio.load_smpl(path)


def test_the_core_checks_smpl_arrays_in_float32_too():
    from cliff._standin import smpl_arrays
    arrays = dict(smpl_arrays())
    arrays["posedirs"] = np.array(arrays["posedirs"], dtype=np.float64)
    arrays["posedirs"][5, 1, 3] = 1e300
    with pytest.raises(ValueError, match="posedirs.*float32"):
        cliff.SMPL(arrays)


_RENDER_3GIB = textwrap.dedent("""
    import resource, sys, numpy as np, cliff
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    tri = np.array([[[0, 0, 5.0], [1, 0, 5.0], [0, 1, 5.0]]], np.float32)
    cases = [
        lambda: cliff.render((100_000, 100_000), tri, [[0, 1, 2]], 100.0, side_view=True),
        lambda: cliff.render(np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (40_000, 40_000, 3)),
                             tri, [[0, 1, 2]], 100.0),
        lambda: cliff.render(np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (30_000, 30_000, 3)),
                             np.broadcast_to(tri, (70_000, 3, 3)), [[0, 1, 2]], 100.0),
    ]
    for case in cases:
        try:
            case()
            sys.exit("accepted")
        except ValueError as e:
            print(e)
""")


@_ASAN
def test_render_refuses_sizes_and_mesh_counts_before_making_the_canvas():
    # (100000 x 100000) side view: 30 GB of canvas used to be filled before the size check
    r = subprocess.run([sys.executable, "-c", _RENDER_3GIB], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("image: expected 1..32768 pixels per side")
    assert lines[1].startswith("image: expected 1..32768 pixels per side")
    assert lines[2] == "vertices: at most 65535 meshes, got 70000"


@pytest.mark.parametrize("bad", ["2", 2.0, True, None])
def test_set_num_threads_takes_ints_only(bad):
    with pytest.raises(TypeError, match="^n: expected an int"):
        cliff.set_num_threads(bad)


def test_render_side_view_size_must_be_ints():
    with pytest.raises(TypeError, match="two ints"):
        cliff.render(("480", "640"), np.zeros((1, 3, 3), np.float32), [[0, 1, 2]], 100.0,
                     side_view=True)


# ---- zip members flagged as encrypted (found by the fuzzer) ----------------------------------

def _flag_encrypted(data: bytes) -> bytes:
    """The same archive with every central-directory entry flagged as encrypted (bit 0 of the
    general purpose flags): zipfile then refuses to open the members with RuntimeError."""
    b = bytearray(data)
    i = b.find(b"PK\x01\x02")
    while i >= 0:
        b[i + 8] |= 1
        i = b.find(b"PK\x01\x02", i + 4)
    return bytes(b)


def test_an_encrypted_npz_member_is_a_value_error(tmp_path):
    import io as _io
    buf = _io.BytesIO()
    np.savez(buf, pose=np.zeros((1, 144), np.float32), shape=np.zeros((1, 10), np.float32),
             cam=np.zeros((1, 3), np.float32))
    path = tmp_path / "mean.npz"
    path.write_bytes(_flag_encrypted(buf.getvalue()))
    with pytest.raises(ValueError):
        cio.load_mean_params(str(path))
    with pytest.raises(ValueError):
        cio.load_checkpoint(str(path))


def test_an_encrypted_checkpoint_member_is_a_value_error(tmp_path):
    good = tmp_path / "good.pt"
    cio.save_checkpoint(str(good), {"w": np.ones(3, np.float32)})
    bad = tmp_path / "bad.pt"
    bad.write_bytes(_flag_encrypted(good.read_bytes()))
    with pytest.raises(ValueError):
        cio.load_checkpoint(str(bad))
