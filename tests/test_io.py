"""cliff.io: torch-free readers/writers of checkpoints, SMPL files and mean params, the
restricted unpickler's refusal of everything else, the image reader and the results writer.

References are independent of the code under test: PyTorch itself (torch.save / torch.load),
smplx loading the SMPL files we write, and the standard pickler with stand-in classes
registered under the chumpy/SciPy names."""
from __future__ import annotations

import collections
import io
import os
import pickle
import pickletools
import struct
import subprocess
import sys
import types
import zipfile

import numpy as np
import pytest

import cliff.io as cio
from cliff.io import pickle_writer as pw
from cliff.io.unpickle import UnsafePickleError

torch = pytest.importorskip("torch")

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
OFFICIAL_SMPL_KEYS = {"v_template", "shapedirs", "posedirs", "J_regressor", "weights",
                      "kintree_table", "f", "J", "J_regressor_prior", "weights_prior",
                      "vert_sym_idxs", "pose_training_info", "bs_style", "bs_type"}


# ----------------------------------------------------------------------------------------------
# helpers

def make_smpl(V=6890, K=10, F=13776, J=24, seed=0):
    """Random SMPL-like model in the contract layout (not a body, just consistent arrays)."""
    rng = np.random.default_rng(seed)
    jreg = np.zeros((J, V))
    for j in range(J):  # ~10 vertices per joint, rows sum to 1, like SMPL's regressor
        idx = rng.choice(V, size=min(10, V), replace=False)
        w = rng.random(idx.size)
        jreg[j, idx] = w / w.sum()
    weights = np.zeros((V, J))
    for v in range(V):
        idx = rng.choice(J, size=4, replace=False)
        w = rng.random(4)
        weights[v, idx] = w / w.sum()
    parents = np.array(SMPL_PARENTS if J == 24 else [-1] + list(range(J - 1)), dtype=np.int64)
    return {
        "v_template": rng.normal(size=(V, 3)) * 0.3,
        "shapedirs": rng.normal(size=(V, 3, K)) * 0.01,
        "posedirs": rng.normal(size=(V, 3, 9 * (J - 1))) * 0.01,
        "J_regressor": jreg,
        "weights": weights,
        "parents": parents,
        "faces": rng.integers(0, V, size=(F, 3)).astype(np.int32),
    }


def assert_contract(m, V=6890, K=10, F=13776, J=24):
    assert set(m) == {"v_template", "shapedirs", "posedirs", "J_regressor", "weights",
                      "parents", "faces"}
    expect = {"v_template": ((V, 3), np.float64), "shapedirs": ((V, 3, K), np.float64),
              "posedirs": ((V, 3, 9 * (J - 1)), np.float64), "J_regressor": ((J, V), np.float64),
              "weights": ((V, J), np.float64), "parents": ((J,), np.int64),
              "faces": ((F, 3), np.int32)}
    for k, (shape, dt) in expect.items():
        assert m[k].shape == shape and m[k].dtype == dt, (k, m[k].shape, m[k].dtype)
        assert m[k].flags.c_contiguous
    assert m["parents"][0] == -1


def assert_same_model(a, b):
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        assert a[k].dtype == b[k].dtype, k


def csc_parts(dense):
    """Independent dense -> CSC conversion (column-major scan)."""
    data, indices, indptr = [], [], [0]
    for c in range(dense.shape[1]):
        rows = np.flatnonzero(dense[:, c])
        indices.extend(rows)
        data.extend(dense[rows, c])
        indptr.append(len(indices))
    return (np.array(data, np.float64), np.array(indices, np.int32), np.array(indptr, np.int32))


def csc_dense(shape, data, indices, indptr):
    out = np.zeros(shape)
    for c in range(shape[1]):
        for p in range(indptr[c], indptr[c + 1]):
            out[indices[p], c] += data[p]
    return out


class FakeCh:
    """What chumpy.ch.Ch looks like to pickle (state = __dict__ without _parents/_cache)."""

    def __init__(self, x):
        self.__dict__.update({"_dirty_vars": set(), "_itr": None, "_depends_on_deps": {},
                              "_make_dense": False, "_make_sparse": False,
                              "x": np.asarray(x, np.float64)})

    def __setstate__(self, d):
        self.__dict__.update(d)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.x, dtype=dtype)

    @property
    def shape(self):
        return self.x.shape

    def __getitem__(self, i):
        return np.asarray(self.x)[i]


class FakeCsc:
    """What an old SciPy csc_matrix looked like to pickle (its __dict__)."""

    def __init__(self, dense, attrs="old"):
        data, indices, indptr = csc_parts(dense)
        d = {"data": data, "indices": indices, "indptr": indptr}
        if attrs == "old":  # SciPy of the SMPL era
            d.update({"_shape": dense.shape, "maxprint": 50, "format": "csc"})
        elif attrs == "new":  # recent SciPy: format is a property; sorted-indices flag stored
            d.update({"_shape": dense.shape, "maxprint": 50, "_has_sorted_indices": True})
        else:  # a plain 'shape' attribute
            d.update({"shape": dense.shape})
        self.__dict__.update(d)

    def __setstate__(self, d):
        self.__dict__.update(d)

    def todense(self):
        shape = self.__dict__.get("_shape", self.__dict__.get("shape"))
        return csc_dense(shape, self.data, self.indices, self.indptr)


@pytest.fixture
def fake_libs(monkeypatch):
    """Register FakeCh / FakeCsc under the real chumpy / SciPy module names (for the
    standard pickler and for smplx)."""
    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, m)
        return m

    def named(cls, module, name):
        c = type(name, (cls,), {"__module__": module, "__qualname__": name})
        return c

    ch = named(FakeCh, "chumpy.ch", "Ch")
    csc_old = named(FakeCsc, "scipy.sparse.csc", "csc_matrix")
    csc_new = named(FakeCsc, "scipy.sparse._csc", "csc_matrix")
    mod("chumpy", ch=None)
    mod("chumpy.ch", Ch=ch)
    mod("scipy")
    mod("scipy.sparse")
    mod("scipy.sparse.csc", csc_matrix=csc_old)
    mod("scipy.sparse._csc", csc_matrix=csc_new)
    return types.SimpleNamespace(Ch=ch, csc_old=csc_old, csc_new=csc_new)


@pytest.fixture(scope="session")
def smpl_files(tmp_path_factory):
    """Full-size random SMPL models (10 and 300 components) as official-structure pkl + npz."""
    d = tmp_path_factory.mktemp("smpl")
    out = {}
    for K in (10, 300):
        m = make_smpl(K=K, seed=K)
        cio.save_smpl_pkl(d / f"SMPL_{K}.pkl", m)
        cio.save_smpl_npz(d / f"SMPL_{K}.npz", m)
        out[K] = (m, d / f"SMPL_{K}.pkl", d / f"SMPL_{K}.npz")
    return out


def torch_state_dict():
    """A small state dict with BatchNorm (num_batches_tracked), linear and conv layers."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 2))
    net(torch.randn(2, 3, 5, 5))  # updates running stats and num_batches_tracked
    return net, net.state_dict()


def save_torch(obj, path, legacy):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)


# ----------------------------------------------------------------------------------------------
# PyTorch checkpoints written by torch.save

@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_official_layout_module_prefix_epoch_optimizer(tmp_path, legacy):
    # {'model': {'module.' + k}, 'epoch', 'optimizer'} as a DataParallel training run saves it:
    # we return the 'model' entry with 'module.' stripped and skip the rest.
    net, sd = torch_state_dict()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(2, 3, 5, 5)).sum().backward()
    opt.step()
    ckpt = {"model": collections.OrderedDict(("module." + k, v) for k, v in sd.items()),
            "epoch": 5, "step": 6095, "optimizer": opt.state_dict()}
    save_torch(ckpt, tmp_path / "c.pt", legacy)
    out = cio.load_checkpoint(tmp_path / "c.pt")
    assert list(out) == list(sd)  # same keys, same order
    for k, v in sd.items():
        assert out[k].dtype == v.numpy().dtype and out[k].shape == tuple(v.shape), k
        np.testing.assert_array_equal(out[k], v.numpy(), err_msg=k)
    nbt = out["1.num_batches_tracked"]
    assert nbt.shape == () and nbt.dtype == np.int64 and int(nbt) == int(sd["1.num_batches_tracked"]) >= 1


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_views_offsets_strides_shared_storage(tmp_path, legacy):
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    sd = collections.OrderedDict([
        ("base", base),
        ("rows", base[2:4]),               # storage offset 20
        ("block", base[1:5, 3:7]),         # offset + row stride 10
        ("transposed", base.t()),          # strides (1, 10)
        ("every_other", base[:, ::2]),     # stride 2
        ("expanded", torch.arange(3.0).reshape(3, 1).expand(3, 4)),  # stride 0
        ("scalar_view", base[5, 9]),       # 0-d with offset 59
    ])
    save_torch(sd, tmp_path / "v.pt", legacy)
    out = cio.load_checkpoint(tmp_path / "v.pt")
    for k, v in sd.items():
        np.testing.assert_array_equal(out[k], v.numpy(), err_msg=k)
        assert out[k].flags.c_contiguous and out[k].flags.writeable
    out["base"][0, 0] = -1.0  # shared storage in the file, independent arrays here
    assert out["transposed"][0, 0] == 0.0


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_dtypes_fp16_bf16_ints_bool(tmp_path, legacy):
    torch.manual_seed(1)
    x = torch.randn(7)
    sd = {"f32": x, "f16": x.half(), "f64": x.double(), "bf16": x.bfloat16(),
          "i64": torch.arange(-3, 4), "i32": torch.arange(5, dtype=torch.int32),
          "u8": torch.arange(250, 256, dtype=torch.uint8), "b": x > 0,
          "i16": torch.arange(3, dtype=torch.int16), "i8": torch.arange(-2, 2, dtype=torch.int8)}
    save_torch(sd, tmp_path / "d.pt", legacy)
    out = cio.load_checkpoint(tmp_path / "d.pt")
    for k, v in sd.items():
        ref = v.float().numpy() if v.dtype == torch.bfloat16 else v.numpy()
        assert out[k].dtype == ref.dtype, k
        np.testing.assert_array_equal(out[k], ref, err_msg=k)  # bf16 -> f32 is exact


def test_plain_and_state_dict_top_levels(tmp_path):
    _, sd = torch_state_dict()
    torch.save(sd, tmp_path / "plain.pt")
    torch.save({"state_dict": sd, "epoch": 1}, tmp_path / "sd.pt")
    for name in ("plain.pt", "sd.pt"):
        out = cio.load_checkpoint(tmp_path / name)
        assert list(out) == list(sd)
        np.testing.assert_array_equal(out["4.weight"], sd["4.weight"].numpy())


def test_module_prefix_rule_matches_the_demo(tmp_path):
    # The demo: if ANY key starts with 'module.', str.replace on EVERY key (all occurrences).
    t = torch.zeros(1)
    torch.save({"model": {"module.encoder.module.x": t, "fc1.weight": t}}, tmp_path / "a.pt")
    assert list(cio.load_checkpoint(tmp_path / "a.pt")) == ["encoder.x", "fc1.weight"]
    torch.save({"model": {"encoder.module.x": t}}, tmp_path / "b.pt")  # none starts with it
    assert list(cio.load_checkpoint(tmp_path / "b.pt")) == ["encoder.module.x"]
    torch.save({"model": {"module.x": t}}, tmp_path / "c.pt")
    assert list(cio.load_checkpoint(tmp_path / "c.pt", strip_module_prefix=False)) == ["module.x"]


def test_archive_folder_name_is_free(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt")
    with zipfile.ZipFile(tmp_path / "hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt") as z:
        assert not z.namelist()[0].startswith("archive/")
    out = cio.load_checkpoint(tmp_path / "hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt")
    np.testing.assert_array_equal(out["w"], [1.0, 1.0])


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_storage_saved_on_gpu(tmp_path, monkeypatch, legacy):
    # No GPU here: make torch.save tag every storage 'cuda:0', as a file saved on a GPU is.
    import torch.serialization as ts
    monkeypatch.setattr(ts, "location_tag", lambda storage: "cuda:0")
    sd = {"w": torch.arange(6.0).reshape(2, 3), "n": torch.tensor(4)}
    save_torch({"model": sd}, tmp_path / "g.pt", legacy)
    monkeypatch.undo()
    raw = open(tmp_path / "g.pt", "rb").read()
    if not legacy:
        with zipfile.ZipFile(tmp_path / "g.pt") as z:
            raw = z.read([n for n in z.namelist() if n.endswith("data.pkl")][0])
    assert b"cuda:0" in raw and b"cpu" not in raw
    out = cio.load_checkpoint(tmp_path / "g.pt")
    np.testing.assert_array_equal(out["w"], sd["w"].numpy())
    assert int(out["n"]) == 4


# ----------------------------------------------------------------------------------------------
# our writer, read by torch.load and by our reader

@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("location", ["cpu", "cuda:0"])
def test_save_checkpoint_readable_by_torch(tmp_path, legacy, location):
    rng = np.random.default_rng(3)
    sd = collections.OrderedDict([
        ("fc1.weight", rng.normal(size=(5, 4)).astype(np.float32)),
        ("init_pose", rng.normal(size=(1, 144)).astype(np.float32)),
        ("bn.num_batches_tracked", np.array(12, dtype=np.int64)),
        ("half", rng.normal(size=3).astype(np.float16)),
        ("double_be", np.arange(4, dtype=">f8")),             # written little-endian
        ("noncontig", np.arange(12, dtype=np.int32).reshape(3, 4).T),
        ("mask", np.array([True, False, True])),
        ("empty", np.zeros((0, 3), np.float32)),
    ])
    extra = {"epoch": 5, "step": 6095, "big": 2 ** 70, "lr": 1e-4, "name": "cliff",
             "optimizer": {"state": {0: {"exp_avg": np.ones(2, np.float32)}},
                           "param_groups": [{"betas": (0.9, 0.999), "params": [0]}]}}
    path = tmp_path / "w.pt"
    cio.save_checkpoint(path, sd, extra, legacy=legacy, location=location)
    t = torch.load(path, weights_only=True, map_location="cpu")
    assert {k: t[k] for k in ("epoch", "step", "big", "lr", "name")} == \
        {"epoch": 5, "step": 6095, "big": 2 ** 70, "lr": 1e-4, "name": "cliff"}
    assert t["optimizer"]["param_groups"] == [{"betas": (0.9, 0.999), "params": [0]}]
    assert list(t["model"]) == ["module." + k for k in sd]
    ours = cio.load_checkpoint(path)
    for k, v in sd.items():
        tv = t["model"]["module." + k]
        assert tuple(tv.shape) == v.shape, k
        np.testing.assert_array_equal(tv.numpy(), v, err_msg=k)
        np.testing.assert_array_equal(ours[k], v, err_msg=k)
        assert ours[k].dtype == v.dtype.newbyteorder("="), k


def test_save_checkpoint_zip_layout_matches_torch(tmp_path):
    cio.save_checkpoint(tmp_path / "ours.pt", {"w": np.ones(3, np.float32)}, prefix="")
    torch.save({"model": collections.OrderedDict(w=torch.ones(3))}, tmp_path / "ref.pt")

    def layout(p):
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
            names = [i.filename.split("/", 1)[1] for i in infos]
            with open(p, "rb") as f:
                starts = {}
                for i in infos:  # data offset = header + 30 + name + extra (local header)
                    f.seek(i.header_offset + 26)
                    n, e = struct.unpack("<HH", f.read(4))
                    starts[i.filename.split("/", 1)[1]] = i.header_offset + 30 + n + e
            return names, starts, {i.compress_type for i in infos}, z.read(infos[0].filename)
    ours, ref = layout(tmp_path / "ours.pt"), layout(tmp_path / "ref.pt")
    assert [n for n in ref[0] if n != ".data/serialization_id"] == ours[0]
    assert ours[2] == ref[2] == {zipfile.ZIP_STORED}
    assert ours[1]["data/0"] % 64 == 0 and ref[1]["data/0"] % 64 == 0
    assert ours[3][:2] == b"\x80\x02"  # data.pkl, protocol 2
    torch_sd = torch.load(tmp_path / "ours.pt", weights_only=True)["model"]
    assert torch.equal(torch_sd["w"], torch.ones(3))


def test_safetensors_and_npz_roundtrip(tmp_path):
    rng = np.random.default_rng(4)
    sd = collections.OrderedDict([("z.last", rng.normal(size=(3, 2)).astype(np.float32)),
                                  ("a.first", np.arange(5, dtype=np.int64)),
                                  ("m.half", np.ones(2, np.float16)),
                                  ("nbt", np.array(3, np.int64))])
    cio.save_safetensors(tmp_path / "w.safetensors", sd, metadata={"source": "test"})
    from safetensors.numpy import load_file
    ref = load_file(str(tmp_path / "w.safetensors"))  # the package's own reader
    out = cio.load_checkpoint(tmp_path / "w.safetensors")
    assert set(out) == set(sd)  # the package stores its own order
    for k, v in sd.items():
        np.testing.assert_array_equal(ref[k], v)
        np.testing.assert_array_equal(out[k], v)
        assert out[k].dtype == v.dtype and out[k].shape == v.shape
    np.savez(tmp_path / "w.npz", **{"module." + k: v for k, v in sd.items()})
    out = cio.load_checkpoint(tmp_path / "w.npz")
    assert list(out) == list(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(out[k], v)


def test_torch_checkpoint_to_safetensors(tmp_path):
    _, sd = torch_state_dict()
    torch.save({"model": sd}, tmp_path / "c.pt")
    weights = cio.load_checkpoint(tmp_path / "c.pt")
    cio.save_safetensors(tmp_path / "c.safetensors", weights)
    again = cio.load_checkpoint(tmp_path / "c.safetensors")
    assert set(again) == set(sd)
    for k in sd:
        np.testing.assert_array_equal(again[k], sd[k].numpy())


def test_package_imports_no_torch_chumpy_scipy(tmp_path, smpl_files):
    # Run the readers in a fresh interpreter where importing torch/chumpy/scipy would fail.
    _, sd = torch_state_dict()
    torch.save({"model": sd}, tmp_path / "z.pt")
    torch.save({"model": sd}, tmp_path / "l.pt", _use_new_zipfile_serialization=False)
    code = (
        "import sys\n"
        "for m in ('torch', 'chumpy', 'scipy'): sys.modules[m] = None\n"
        "import cliff.io as cio\n"
        f"a = cio.load_checkpoint({str(tmp_path / 'z.pt')!r})\n"
        f"b = cio.load_checkpoint({str(tmp_path / 'l.pt')!r})\n"
        f"m = cio.load_smpl({str(smpl_files[10][1])!r})\n"
        "assert list(a) == list(b) and m['J_regressor'].shape == (24, 6890)\n"
        "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(cio.__file__)))] +
        os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# ----------------------------------------------------------------------------------------------
# hostile pickles: each would create the marker file if anything in it ran

class _Reduce:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _touch_cmd(marker):
    return f"touch {marker}"


def hostile_payloads(marker):
    """(name, pickle bytes, class the error must name)."""
    m = str(marker)
    out = []
    # 1. protocol 0 GLOBAL os.system (the classic)
    out.append(("os.system/proto0", b"cos\nsystem\n(S'" + _touch_cmd(m).encode() + b"'\ntR.",
                "os.system"))
    # 2. builtins.eval of Python source
    src = f"open({m!r}, 'w').close()"
    out.append(("builtins.eval", pickle.dumps(_Reduce(eval, (src,)), protocol=2, fix_imports=False),
                "builtins.eval"))
    # 3. subprocess.Popen with an argv list
    out.append(("subprocess.Popen", pickle.dumps(_Reduce(subprocess.Popen, (["touch", m],)),
                                                 protocol=2, fix_imports=False), "subprocess.Popen"))
    # 4. posix.system through STACK_GLOBAL (protocol 4)
    p4 = pickle.dumps(_Reduce(os.system, (_touch_cmd(m),)), protocol=4)
    assert any(op.name == "STACK_GLOBAL" for op, _, _ in pickletools.genops(p4))
    out.append(("posix.system/STACK_GLOBAL", p4, f"{os.system.__module__}.system"))
    # 5. a reduce buried in a nested, otherwise valid-looking state dict
    nested = {"model": collections.OrderedDict(
        [("w", np.zeros(2)), ("x", [1, {"y": (2, _Reduce(os.system, (_touch_cmd(m),)))}])])}
    out.append(("nested reduce", pickle.dumps(nested, protocol=2),
                f"{os.system.__module__}.system"))
    # 6. INST opcode (protocol 0 instance creation) of os.system
    out.append(("INST os.system", b"(S'" + _touch_cmd(m).encode() + b"'\nios\nsystem\n.",
                "os.system"))
    # 7. builtins.exec via a protocol-1 pickle
    # 7. exec via a protocol-1 pickle with Python-2 module names (__builtin__)
    out.append(("__builtin__.exec", pickle.dumps(_Reduce(exec, (src,)), protocol=1),
                "__builtin__.exec"))
    return out


@pytest.mark.parametrize("idx", range(7))
def test_hostile_pickles_refused_by_every_reader(tmp_path, idx):
    marker = tmp_path / "pwned"
    name, payload, cls = hostile_payloads(marker)[idx]
    # Sanity check of the test itself: the standard unpickler WOULD run it (not for 5,
    # which needs numpy and would also work, but keep the check cheap and uniform).
    f = tmp_path / "evil.pkl"
    f.write_bytes(payload)
    with pytest.raises(UnsafePickleError, match=cls.replace(".", r"\.")):
        cio.restricted_load(payload)
    with pytest.raises(UnsafePickleError, match=cls.replace(".", r"\.")):
        cio.load_smpl(f)
    # the same payload as the data.pkl of a torch zip archive
    zpath = tmp_path / "evil.pt"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")
    with pytest.raises(UnsafePickleError, match=cls.replace(".", r"\.")) as ei:
        cio.load_checkpoint(zpath)
    assert str(zpath) in str(ei.value)
    assert not marker.exists(), name


def test_hostile_payload_really_runs_with_plain_pickle(tmp_path):
    # Proves the payloads are live: the unrestricted unpickler creates the marker.
    marker = tmp_path / "pwned"
    _, payload, _ = hostile_payloads(marker)[1]  # builtins.eval, no subprocess needed
    pickle.loads(payload)
    assert marker.exists()


def test_hostile_torch_zip_from_real_checkpoint(tmp_path):
    # A genuine torch.save file whose data.pkl was swapped for one with a malicious global.
    marker = tmp_path / "pwned"
    torch.save({"model": {"w": torch.ones(2)}}, tmp_path / "ok.pt")
    evil = pickle.dumps({"model": {"w": _Reduce(os.system, (_touch_cmd(marker),))}}, protocol=2)
    with zipfile.ZipFile(tmp_path / "ok.pt") as src, \
            zipfile.ZipFile(tmp_path / "evil.pt", "w") as dst:
        for info in src.infolist():
            data = evil if info.filename.endswith("data.pkl") else src.read(info)
            dst.writestr(info.filename, data)
    with pytest.raises(UnsafePickleError, match=r"system"):
        cio.load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_hostile_legacy_checkpoint(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.pt", "wb") as f:  # valid legacy headers, evil main pickle
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True}, f, protocol=2)
        pickle.dump({"model": {"w": _Reduce(os.system, (_touch_cmd(marker),))}}, f, protocol=2)
        pickle.dump([], f, protocol=2)
    with pytest.raises(UnsafePickleError, match=r"system"):
        cio.load_checkpoint(tmp_path / "evil.pt")
    # a legacy 'module' persistent id (whole-model save) names a class to import: refused
    with open(tmp_path / "mod.pt", "wb") as f:
        for v in (0x1950A86A20F9469CFC6C, 1001, {}):
            pw.dump(v, f)
        pw.dump({"model": pw.PersId(("module", None, "x.py", "src"))}, f)
        pw.dump([], f)
    with pytest.raises(UnsafePickleError, match="persistent id"):
        cio.load_checkpoint(tmp_path / "mod.pt")
    assert not marker.exists()


def test_hostile_smpl_pickle_inside_chumpy_state(tmp_path, fake_libs):
    marker = tmp_path / "pwned"
    ch = fake_libs.Ch(np.zeros((2, 3, 1)))
    ch.__dict__["_itr"] = _Reduce(subprocess.Popen, (["touch", str(marker)],))
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"shapedirs": ch}, protocol=2,
                                                     fix_imports=False))
    with pytest.raises(UnsafePickleError, match=r"subprocess\.Popen"):
        cio.load_smpl(tmp_path / "evil.pkl")
    assert not marker.exists()


@pytest.mark.parametrize("payload,needle", [
    # allowlisted names used for something they are not for
    (pw.Reduce(pw.Global("numpy.core.multiarray", "_reconstruct"),
               (pw.Global("collections", "OrderedDict"), (0,), b"b")), "_reconstruct"),
    (pw.Reduce(pw.Global("copy_reg", "_reconstructor"),
               (pw.Global("collections", "OrderedDict"), pw.Global("__builtin__", "object"), None)),
     "_reconstructor"),
    (pw.NewObj(pw.Global("numpy", "ndarray"), ((10 ** 12,),)), "numpy.ndarray"),
    (pw.Reduce(pw.Global("numpy", "dtype"), ("O8", False, True)), "dtype"),
    (pw.Reduce(pw.Global("_codecs", "encode"), ("x", "rot13")), "_codecs.encode"),
    (pw.Reduce(pw.Global("builtins", "bytes"), (10 ** 12,)), "bytes"),
    (pw.Reduce(pw.Global("torch", "FloatStorage"), (10 ** 12,)), "FloatStorage"),
    (pw.Build(pw.Reduce(pw.Global("builtins", "object"), ()), {"__class__": None}), "object"),
])
def test_allowlisted_names_cannot_be_abused(payload, needle):
    buf = io.BytesIO()
    pw.dump(payload, buf)
    with pytest.raises((UnsafePickleError, AttributeError, TypeError), match=needle):
        cio.restricted_load(buf.getvalue(), groups=("torch", "smpl"))


def test_extension_codes_cannot_bypass_the_allowlist(tmp_path, monkeypatch):
    # EXT opcodes are served from copyreg's cache without find_class: if a library in the
    # process registered one (simulated here for os.system), such pickles are refused.
    import copyreg
    marker = tmp_path / "pwned"
    monkeypatch.setitem(copyreg._extension_registry, ("os", "system"), 0xBEEF)
    monkeypatch.setitem(copyreg._inverted_registry, 0xBEEF, ("os", "system"))
    monkeypatch.setitem(copyreg._extension_cache, 0xBEEF, os.system)
    payload = b"\x80\x02\x83\xef\xbe" + pickle.dumps((_touch_cmd(marker),), protocol=2)[2:-1] + b"R."
    with pytest.raises(UnsafePickleError, match="extension code"):
        cio.restricted_load(payload)
    assert not marker.exists()


def test_object_array_pickle_refused():
    data = pickle.dumps(np.array([1, "a"], dtype=object), protocol=2)
    with pytest.raises(UnsafePickleError, match="dtype"):
        cio.restricted_load(data)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_restricted_load_numpy_roundtrip(protocol):
    rng = np.random.default_rng(5)
    obj = {"f64": rng.normal(size=(3, 4)), "f32_be": np.arange(6, dtype=">f4").reshape(2, 3),
           "fortran": np.asfortranarray(rng.normal(size=(3, 2))), "u32": np.arange(3, dtype=np.uint32),
           "b": np.array([True, False]), "scalar": np.float64(2.5), "i": np.int64(-3),
           "nested": [np.zeros(0), (np.ones((2, 1)), {"s": {1, 2}})], "bytes": b"\x00\xff", "e": b""}
    out = cio.restricted_load(pickle.dumps(obj, protocol=protocol))
    for k in ("f64", "f32_be", "fortran", "u32", "b"):
        np.testing.assert_array_equal(out[k], obj[k])
        assert out[k].dtype == obj[k].dtype.newbyteorder("=")
    assert out["scalar"] == 2.5 and out["scalar"].dtype == np.float64 and out["i"] == -3
    np.testing.assert_array_equal(out["nested"][1][0], np.ones((2, 1)))
    assert out["nested"][1][1]["s"] == {1, 2}
    assert out["bytes"] == b"\x00\xff" and out["e"] == b""


# ----------------------------------------------------------------------------------------------
# robustness: wrong, empty, truncated, corrupt files

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"


@pytest.mark.parametrize("loader", ["load_checkpoint", "load_smpl", "load_mean_params"])
@pytest.mark.parametrize("content,what", [
    (b"", "empty"), (PNG, "png"), (b"hello, this is a text file\n" * 10, "text"),
    (b"\x80\x02}q\x00(X\x01", "truncated pickle"), (b"PK\x05\x06" + b"\x00" * 18, "empty zip"),
])
def test_wrong_kind_files_raise_valueerror_naming_path(tmp_path, loader, content, what):
    p = tmp_path / f"bad_{what.replace(' ', '_')}.bin"
    p.write_bytes(content)
    with pytest.raises(ValueError) as ei:
        getattr(cio, loader)(p)
    assert str(p) in str(ei.value)


def test_zip_without_data_pkl(tmp_path):
    with zipfile.ZipFile(tmp_path / "x.pt", "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="data.pkl"):
        cio.load_checkpoint(tmp_path / "x.pt")


@pytest.mark.parametrize("loader", ["load_checkpoint", "load_smpl", "load_mean_params"])
def test_missing_file_and_directory(tmp_path, loader):
    with pytest.raises(FileNotFoundError):
        getattr(cio, loader)(tmp_path / "nope.pt")
    with pytest.raises(OSError):
        getattr(cio, loader)(tmp_path)


@pytest.mark.parametrize("fn", ["cliff.load_model", "cliff.io.load_checkpoint"])
def test_checkpoint_path_none_is_a_type_error_naming_path(fn):
    import cliff
    load = cliff.load_model if fn == "cliff.load_model" else cio.load_checkpoint
    with pytest.raises(TypeError, match="^path:"):
        load(None)


def _cuts(n, count=41):
    return sorted(set(int(x) for x in np.linspace(1, n - 1, count)))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_truncated_checkpoints(tmp_path, legacy):
    _, sd = torch_state_dict()
    save_torch({"model": sd, "epoch": 3}, tmp_path / "c.pt", legacy)
    data = (tmp_path / "c.pt").read_bytes()
    for cut in _cuts(len(data)):
        (tmp_path / "t.pt").write_bytes(data[:cut])
        with pytest.raises(ValueError) as ei:  # UnsafePickleError would also be acceptable
            cio.load_checkpoint(tmp_path / "t.pt")
        assert str(tmp_path / "t.pt") in str(ei.value), cut


def test_corrupt_checkpoint_bytes(tmp_path):
    _, sd = torch_state_dict()
    torch.save({"model": sd}, tmp_path / "c.pt")
    data = bytearray((tmp_path / "c.pt").read_bytes())
    rng = np.random.default_rng(6)
    for trial in range(30):
        bad = bytearray(data)
        for pos in rng.integers(0, len(bad), size=4):
            bad[pos] ^= 0xFF
        (tmp_path / "b.pt").write_bytes(bytes(bad))
        try:
            out = cio.load_checkpoint(tmp_path / "b.pt")
        except (ValueError, pickle.UnpicklingError) as exc:
            assert str(tmp_path / "b.pt") in str(exc)
        else:  # flips inside raw tensor bytes are undetectable by design: still a dict
            assert set(out) == set(sd)


def test_legacy_storage_size_lie(tmp_path):
    cio.save_checkpoint(tmp_path / "c.pt", {"w": np.ones(4, np.float32)}, legacy=True)
    data = bytearray((tmp_path / "c.pt").read_bytes())
    pos = len(data) - 16 - 8  # numel header before the 16 data bytes
    assert struct.unpack("<q", data[pos:pos + 8]) == (4,)
    data[pos:pos + 8] = struct.pack("<q", 10 ** 15)
    (tmp_path / "c.pt").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="elements"):
        cio.load_checkpoint(tmp_path / "c.pt")


def test_tensor_view_beyond_storage(tmp_path):
    def tensor(size, stride, offset, numel):
        pid = pw.PersId(("storage", pw.Global("torch", "FloatStorage"), "0", "cpu", numel))
        return pw.Reduce(pw.Global("torch._utils", "_rebuild_tensor_v2"),
                         (pid, offset, size, stride, False,
                          pw.Reduce(pw.Global("collections", "OrderedDict"), ())))
    for size, stride, offset in [((4,), (1,), 1), ((2, 2), (3, 1), 0), ((5,), (1,), 0)]:
        buf = io.BytesIO()
        pw.dump({"model": {"w": tensor(size, stride, offset, 4)}}, buf)
        with zipfile.ZipFile(tmp_path / "v.pt", "w") as z:
            z.writestr("a/data.pkl", buf.getvalue())
            z.writestr("a/data/0", np.zeros(4, np.float32).tobytes())
        with pytest.raises(ValueError, match="beyond its storage"):
            cio.load_checkpoint(tmp_path / "v.pt")


def test_big_endian_archive_and_stride0_bomb(tmp_path):
    # byteorder record 'big' (a file saved on a big-endian machine): data is byte-swapped.
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    cio.save_checkpoint(tmp_path / "le.pt", {"w": w, "bf": np.zeros(1, np.int64)}, prefix="")
    with zipfile.ZipFile(tmp_path / "le.pt") as src, \
            zipfile.ZipFile(tmp_path / "be.pt", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/byteorder"):
                data = b"big"
            elif info.filename.endswith("/data/0"):
                data = np.frombuffer(data, "<f4").astype(">f4").tobytes()
            dst.writestr(info.filename, data)
    out = cio.load_checkpoint(tmp_path / "be.pt")
    np.testing.assert_array_equal(out["w"], w)
    assert out["w"].dtype == np.float32
    # a 4-element storage viewed with stride 0 as 10^12 elements: refused, nothing allocated
    buf = io.BytesIO()
    pid = pw.PersId(("storage", pw.Global("torch", "FloatStorage"), "0", "cpu", 4))
    pw.dump({"w": pw.Reduce(pw.Global("torch._utils", "_rebuild_tensor_v2"),
                            (pid, 0, (10 ** 6, 10 ** 6), (0, 0), False, None))}, buf)
    with zipfile.ZipFile(tmp_path / "bomb.pt", "w") as z:
        z.writestr("a/data.pkl", buf.getvalue())
        z.writestr("a/data/0", np.zeros(4, np.float32).tobytes())
    with pytest.raises(ValueError, match="implausibly large"):
        cio.load_checkpoint(tmp_path / "bomb.pt")


def test_not_a_state_dict(tmp_path):
    torch.save({"epoch": 5, "w": torch.ones(1)}, tmp_path / "c.pt")
    with pytest.raises(ValueError, match="'epoch'"):
        cio.load_checkpoint(tmp_path / "c.pt")
    torch.save([torch.ones(1)], tmp_path / "l.pt")
    with pytest.raises(ValueError, match="expected a dict"):
        cio.load_checkpoint(tmp_path / "l.pt")


# ----------------------------------------------------------------------------------------------
# SMPL

@pytest.mark.parametrize("K", [10, 300])
def test_smpl_pkl_and_npz_twin_load_identically(smpl_files, K):
    m, pkl, npz = smpl_files[K]
    a, b = cio.load_smpl(pkl), cio.load_smpl(npz)
    assert_contract(a, K=K)
    assert_contract(b, K=K)
    assert_same_model(a, b)
    assert_same_model(a, m)  # exact: float64 written and read back bit for bit
    np.testing.assert_array_equal(a["parents"], SMPL_PARENTS)


def test_smpl_pkl_has_the_official_structure(smpl_files, fake_libs):
    _, pkl, _ = smpl_files[10]
    data = pkl.read_bytes()
    ops = list(pickletools.genops(data))
    assert ops[0][0].name == "PROTO" and ops[0][1] == 2
    globals_ = {arg for op, arg, _ in ops if op.name == "GLOBAL"}
    assert globals_ == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype",
                        "chumpy.ch Ch", "scipy.sparse.csc csc_matrix", "__builtin__ set"}
    # Python-2 byte strings only, no Python-3 unicode or bytes opcodes
    assert not {op.name for op, _, _ in ops} & {"BINUNICODE", "SHORT_BINUNICODE", "BINBYTES",
                                                "SHORT_BINBYTES"}
    # The standard unpickler with chumpy/SciPy stand-ins sees the official layout.
    d = pickle.loads(data, encoding="latin1")
    assert set(d) == OFFICIAL_SMPL_KEYS
    assert type(d["shapedirs"]).__module__ == "chumpy.ch" and d["shapedirs"].x.shape == (6890, 3, 10)
    assert {"_dirty_vars", "_itr", "_depends_on_deps"} <= set(vars(d["shapedirs"]))
    jr = d["J_regressor"]
    assert type(jr).__module__ == "scipy.sparse.csc" and jr._shape == (24, 6890)
    assert jr.indices.dtype == np.int32 and jr.indptr.dtype == np.int32
    assert d["kintree_table"].shape == (2, 24) and d["kintree_table"][0, 0] == 4294967295
    assert d["f"].dtype == np.uint32 and d["f"].shape == (13776, 3)
    assert d["bs_style"] == "lbs" and d["bs_type"] == "lrotmin"
    np.testing.assert_allclose(d["J"], jr.todense() @ d["v_template"], rtol=1e-12)


def test_smplx_loads_our_pkl_and_npz(smpl_files, fake_libs):
    import smplx
    from smplx.utils import Struct
    m, pkl, npz = smpl_files[10]
    ours = cio.load_smpl(pkl)
    from_pkl = smplx.SMPL(model_path=str(pkl))  # smplx's own pickle.load, with stand-ins
    # smplx.SMPL reads model_path with pickle only; an npz goes in through data_struct.
    from_npz = smplx.SMPL(model_path=str(npz), data_struct=Struct(**np.load(npz)))
    for model in (from_pkl, from_npz):
        np.testing.assert_allclose(model.v_template.numpy(), ours["v_template"], rtol=1e-6)
        np.testing.assert_allclose(model.shapedirs.numpy(), ours["shapedirs"], rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(model.posedirs.numpy(),
                                   ours["posedirs"].reshape(-1, 207).T, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(model.J_regressor.numpy(), ours["J_regressor"], rtol=1e-6)
        np.testing.assert_allclose(model.lbs_weights.numpy(), ours["weights"], rtol=1e-6)
        np.testing.assert_array_equal(model.parents.numpy(), ours["parents"])
        np.testing.assert_array_equal(model.faces_tensor.numpy(), ours["faces"])
    out = from_npz(betas=torch.zeros(1, 10))  # and it runs
    assert out.vertices.shape == (1, 6890, 3)


@pytest.mark.parametrize("attrs,module,protocol", [
    ("old", "csc_old", 2), ("new", "csc_new", 2), ("shape", "csc_old", 2),
    ("old", "csc_old", 0), ("new", "csc_new", 4)])
def test_smpl_pickle_from_standin_classes(tmp_path, fake_libs, attrs, module, protocol):
    # The standard pickler writing objects registered as chumpy.ch.Ch / scipy csc_matrix.
    m = make_smpl(V=50, F=40, seed=7)
    csc = getattr(fake_libs, module)
    d = {"v_template": fake_libs.Ch(m["v_template"]) if protocol == 0 else m["v_template"],
         "shapedirs": fake_libs.Ch(m["shapedirs"]), "posedirs": m["posedirs"],
         "J_regressor": csc(m["J_regressor"], attrs), "weights": m["weights"],
         "kintree_table": np.stack([np.r_[4294967295, m["parents"][1:]], np.arange(24)]).astype(np.uint32),
         "f": m["faces"].astype(np.uint32), "J_regressor_prior": csc(m["J_regressor"], attrs),
         "bs_style": "lbs", "bs_type": "lrotmin", "pose_training_info": {"a": 1}}
    (tmp_path / "s.pkl").write_bytes(pickle.dumps(d, protocol=protocol))
    out = cio.load_smpl(tmp_path / "s.pkl")
    assert_contract(out, V=50, F=40)
    assert_same_model(out, m)


def test_csr_and_duplicate_entries(tmp_path, fake_libs, monkeypatch):
    # A CSR J_regressor with a duplicated entry: densify sums duplicates (as SciPy does).
    m = make_smpl(V=20, F=5, seed=8)
    csr = type("csr_matrix", (FakeCsc,), {"__module__": "scipy.sparse._csr",
                                          "__qualname__": "csr_matrix"})
    monkeypatch.setitem(sys.modules, "scipy.sparse._csr", types.SimpleNamespace(csr_matrix=csr))
    dense = m["J_regressor"]
    data, indices, indptr = csc_parts(dense.T)  # CSC of the transpose == CSR of the matrix
    indices = np.r_[indices, indices[-1]].astype(np.int32)
    data = np.r_[data, 0.25]
    indptr = indptr.copy()
    indptr[-1] += 1
    j = csr.__new__(csr)
    j.__dict__.update({"_shape": dense.shape, "data": data, "indices": indices, "indptr": indptr})
    d = dict(m, J_regressor=j)
    (tmp_path / "s.pkl").write_bytes(pickle.dumps(d, protocol=2))
    expect = dense.copy()
    expect[23, indices[-1]] += 0.25
    np.testing.assert_array_equal(cio.load_smpl(tmp_path / "s.pkl")["J_regressor"], expect)


def test_cleaned_py3_pickle_without_chumpy(tmp_path):
    # smplx's clean_ch.py output: every value a plain ndarray, Python-3 pickle protocol 4.
    m = make_smpl(V=30, F=10, seed=9)
    d = {k: v for k, v in m.items() if k not in ("parents", "faces")}
    d["kintree_table"] = np.stack([np.r_[4294967295, m["parents"][1:]], np.arange(24)])
    d["f"] = m["faces"].astype(np.uint32)
    (tmp_path / "c.pkl").write_bytes(pickle.dumps(d, protocol=4))
    assert_same_model(cio.load_smpl(tmp_path / "c.pkl"), m)


@pytest.mark.parametrize("mutate,key", [
    (lambda d: d.pop("posedirs"), "posedirs"),
    (lambda d: d.update(posedirs=d["posedirs"][:, :, :200]), "posedirs"),
    (lambda d: d.update(shapedirs=d["shapedirs"][:5]), "shapedirs"),
    (lambda d: d.update(J_regressor=d["J_regressor"][:23]), "J_regressor"),
    (lambda d: d.update(weights=d["weights"][:, :23]), "posedirs"),
    (lambda d: d.update(f=d["f"] + 1000), "'f'"),
    (lambda d: d.update(f=d["f"].astype(np.float64)), "'f'"),
    (lambda d: d["v_template"].__setitem__((0, 0), np.nan), "v_template"),
    (lambda d: d["kintree_table"].__setitem__((0, 3), 7), "kinematic tree"),
    (lambda d: d.update(kintree_table=d["kintree_table"][:, :20]), "kintree_table"),
])
def test_smpl_validation_names_path_and_key(tmp_path, mutate, key):
    m = make_smpl(V=30, F=10, seed=10)
    d = {k: v for k, v in m.items() if k not in ("parents", "faces")}
    d["kintree_table"] = np.stack([np.r_[4294967295, m["parents"][1:]], np.arange(24)])
    d["f"] = m["faces"].astype(np.uint32)
    mutate(d)
    p = tmp_path / "bad.npz"
    with open(p, "wb") as f:
        np.savez(f, **d)
    with pytest.raises(ValueError) as ei:
        cio.load_smpl(p)
    assert str(p) in str(ei.value) and key in str(ei.value)


def test_smpl_pickle_not_a_dict(tmp_path):
    (tmp_path / "l.pkl").write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(ValueError, match="expected a dict"):
        cio.load_smpl(tmp_path / "l.pkl")


def test_truncated_smpl_pkl(tmp_path, smpl_files):
    data = smpl_files[10][1].read_bytes()
    for cut in _cuts(len(data), 25):
        (tmp_path / "t.pkl").write_bytes(data[:cut])
        with pytest.raises(ValueError):
            cio.load_smpl(tmp_path / "t.pkl")


def test_save_smpl_roundtrip_other_sizes(tmp_path):
    m = make_smpl(V=40, F=12, K=3, J=5, seed=11)  # a chain of 5 joints
    cio.save_smpl_pkl(tmp_path / "s.pkl", m)
    cio.save_smpl_npz(tmp_path / "s.npz", m)
    for p in ("s.pkl", "s.npz"):
        out = cio.load_smpl(tmp_path / p)
        assert_contract(out, V=40, F=12, K=3, J=5)
        assert_same_model(out, m)
    assert not (tmp_path / "s.npz.npz").exists()


# ----------------------------------------------------------------------------------------------
# smpl_mean_params.npz

MEAN_POSE_HEAD = [1.0, 0.0, 0.0, -1.0000004768371582, 0.0, 1.5099581673894136e-07]
MEAN_SHAPE = [0.20560974, 0.33556297, -0.35068282, 0.35612896, 0.41754073, 0.030887909,
              0.30475676, 0.23613405, 0.20912662, 0.31212646]


def write_mean_params(path, **override):
    rng = np.random.default_rng(12)
    pose = rng.normal(size=144).astype(np.float32)
    pose[:6] = MEAN_POSE_HEAD
    d = {"pose": pose, "shape": np.array(MEAN_SHAPE, np.float32),
         "cam": np.array([0.9, 0.0, 0.0], np.float32)}
    d.update(override)
    with open(path, "wb") as f:
        np.savez(f, **d)
    return d


def test_mean_params(tmp_path):
    d = write_mean_params(tmp_path / "m.npz")
    out = cio.load_mean_params(tmp_path / "m.npz")
    assert {k: (v.shape, v.dtype) for k, v in out.items()} == {
        "pose": ((144,), np.float32), "shape": ((10,), np.float32), "cam": ((3,), np.float32)}
    for k in d:
        np.testing.assert_array_equal(out[k], d[k])
    assert out["cam"][0] == np.float32(0.9)
    # docs/official.md#mean-params: the first 6D decodes (Gram-Schmidt on the two columns) to ~diag(1, -1, -1)
    a1, a2 = out["pose"][:6].astype(np.float64).reshape(3, 2).T
    b1 = a1 / np.linalg.norm(a1)
    b2 = a2 - b1 * (b1 @ a2)
    b2 /= np.linalg.norm(b2)
    R = np.stack([b1, b2, np.cross(b1, b2)], axis=1)
    np.testing.assert_allclose(R, np.diag([1.0, -1.0, -1.0]), atol=1e-6)


@pytest.mark.parametrize("override,needle", [
    ({"pose": np.zeros(143, np.float32)}, "'pose'"),
    ({"cam": np.array([np.nan, 0, 0], np.float32)}, "'cam'"),
    ({"shape": np.array(["a"] * 10)}, "'shape'"),
])
def test_mean_params_errors(tmp_path, override, needle):
    write_mean_params(tmp_path / "m.npz", **override)
    with pytest.raises(ValueError, match=needle):
        cio.load_mean_params(tmp_path / "m.npz")


def test_mean_params_missing_key(tmp_path):
    with open(tmp_path / "m.npz", "wb") as f:
        np.savez(f, pose=np.zeros(144), shape=np.zeros(10))
    with pytest.raises(ValueError, match="missing key 'cam'"):
        cio.load_mean_params(tmp_path / "m.npz")


def test_zip_checkpoint_loads_with_a_single_copy_of_the_weights(tmp_path):
    """Each storage is read once into a buffer that becomes the returned array when one tensor
    covers it: the peak of Python allocations while loading stays near the payload size
    (a copy-per-tensor loader peaks at twice the payload, which for HR48 is 300 MB extra)."""
    import tracemalloc

    sd = {f"w{i}": np.full((1024, 1024), i, np.float32) for i in range(8)}  # 32 MiB
    sd["shared_a"] = np.arange(10, dtype=np.float32)
    path = str(tmp_path / "big.pt")
    cio.save_checkpoint(path, sd)
    tracemalloc.start()
    try:
        out = cio.load_checkpoint(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    payload = 8 * 4 * 1024 * 1024
    assert peak < 1.25 * payload, peak / payload
    for i in range(8):
        assert out[f"w{i}"].flags.writeable and out[f"w{i}"][0, 0] == i


# ----------------------------------------------------------------------------------------------
# images (cliff.io.images)

def test_16bit_grey_png_is_scaled_to_8_bits_not_clipped(tmp_path):
    """A 16-bit image reads like OpenCV's imread (the official demo's reader): value >> 8 in all
    three channels, not clipped to 255 (what Pillow's convert("RGB") does)."""
    from PIL import Image

    import cliff
    ramp = (np.arange(64 * 80, dtype=np.uint32).reshape(64, 80) * 12).astype(np.uint16)
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I;16")
    rgb = cliff.read_image(path)
    assert rgb.shape == (64, 80, 3) and rgb.dtype == np.uint8
    expect = (ramp >> 8).astype(np.uint8)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], expect)


# ----------------------------------------------------------------------------------------------
# results writer (cliff.io.results)

def test_failed_npz_write_removes_its_temporary_file(tmp_path, monkeypatch):
    """When the final rename fails (disk full), the error propagates and no temporary file is
    left behind."""
    from cliff.io.results import ResultWriter

    w = ResultWriter(str(tmp_path / "r.npz"), str(tmp_path), np.zeros((1, 3), np.int32))
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        w.close()
    assert os.listdir(tmp_path) == []
