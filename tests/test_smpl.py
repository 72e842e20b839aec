"""cliff.SMPL against an independent float64 NumPy SMPL (docs/official.md#smpl-forward) and against the
smplx package, plus invariants, bad input, mesh export and the procedural stand-in model.

The model is cliff._standin (NOT SMPL: a blob with SMPL's array structure); every formula below
is checked on it exactly as it would be on the licensed model.
"""
import threading

import numpy as np
import pytest

import cliff
import cliff.io
from cliff import _standin as standin

TOL = 1e-5  # metres, float32 path against float64 reference

# docs/official.md#joints: SMPL vertex behind each of joints 24..44 (smplx 'smplh' table, smplx order).
VERTEX_JOINTS = [332, 6260, 2800, 4071, 583, 3216, 3226, 3387, 6617, 6624, 6787,
                 2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133]


# ---- independent reference (float64, straight from docs/official.md#smpl-forward) ---------------------------

def rodrigues(aa):
    """Axis-angle (..., 3) -> rotation matrices (..., 3, 3), float64."""
    aa = np.asarray(aa, np.float64)
    theta = np.linalg.norm(aa, axis=-1)[..., None, None]
    k = aa / np.maximum(np.linalg.norm(aa, axis=-1, keepdims=True), 1e-300)
    K = np.zeros(aa.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * (K @ K)


def smpl_reference(arrays, rotmat, betas, transl, num_betas=None):
    """float64 SMPL forward (docs/official.md#smpl-forward): returns vertices (N,V,3), joints (N,45,3), rest (N,24,3)."""
    R = np.asarray(rotmat, np.float64)
    n = len(R)
    sd = arrays["shapedirs"][:, :, :num_betas] if num_betas is not None else arrays["shapedirs"]
    b = np.zeros((n, sd.shape[2]))
    b[:, :betas.shape[1]] = betas
    v_shaped = arrays["v_template"][None] + np.einsum("vkl,nl->nvk", sd, b)           # 1
    J = np.einsum("jv,nvk->njk", arrays["J_regressor"], v_shaped)                    # 2
    P = (R[:, 1:] - np.eye(3)).reshape(n, 207)                                        # 3
    v_posed = v_shaped + np.einsum("vkp,np->nvk", arrays["posedirs"], P)              # 4
    parents = arrays["parents"]
    G = np.zeros((n, 24, 4, 4))                                                       # 5
    for j in range(24):
        local = np.zeros((n, 4, 4))
        local[:, :3, :3] = R[:, j]
        local[:, :3, 3] = J[:, j] - (J[:, parents[j]] if j else 0.0)
        local[:, 3, 3] = 1.0
        G[:, j] = local if j == 0 else G[:, parents[j]] @ local
    A = G.copy()
    A[:, :, :3, 3] -= np.einsum("njab,njb->nja", G[:, :, :3, :3], J)
    T = np.einsum("vj,njab->nvab", arrays["weights"], A)                               # 6
    verts = np.einsum("nvab,nvb->nva", T[:, :, :3, :3], v_posed) + T[:, :, :3, 3]
    joints = np.concatenate([G[:, :, :3, 3], verts[:, VERTEX_JOINTS]], 1)              # 7
    t = np.asarray(transl, np.float64)[:, None]                                        # 8
    return verts + t, joints + t, J


def random_inputs(rng, n, num_betas=10, angle_max=np.pi):
    """float32 rotations with angles up to angle_max (large rotations included), betas of a
    few standard deviations, translations of metres."""
    axis = rng.normal(size=(n, 24, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = rng.uniform(0, angle_max, size=(n, 24, 1))
    aa = (axis * angle).astype(np.float32)
    rot = rodrigues(aa).astype(np.float32)
    betas = (rng.normal(size=(n, num_betas)) * 2).astype(np.float32)
    transl = rng.normal(size=(n, 3)).astype(np.float32)
    return aa, rot, betas, transl


# ---- fixtures --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def arrays():
    return standin.smpl_arrays(seed=0, num_betas=10)


@pytest.fixture(scope="session")
def model(arrays):
    return cliff.SMPL(arrays)


def assert_close(actual, expected, tol=TOL, what=""):
    err = np.abs(np.asarray(actual, np.float64) - expected).max()
    assert err <= tol, f"{what}: max error {err:.3g} m > {tol:.1g} m"


# ---- against the float64 reference -----------------------------------------------------

@pytest.mark.parametrize("n", [1, 17])
def test_matches_float64_reference(model, arrays, n):
    _, rot, betas, transl = random_inputs(np.random.default_rng(n), n)
    out = model(rotmat=rot, betas=betas, transl=transl)
    v, j, rest = smpl_reference(arrays, rot, betas, transl)
    assert out["vertices"].shape == (n, 6890, 3) and out["vertices"].dtype == np.float32
    assert out["joints"].shape == (n, 45, 3) and out["joints"].dtype == np.float32
    assert_close(out["vertices"], v, what="vertices")
    assert_close(out["joints"], j, what="joints")
    assert_close(out["joints_rest"], rest, what="joints_rest")


def test_joints_only_path_matches_reference(model, arrays):
    _, rot, betas, transl = random_inputs(np.random.default_rng(5), 17)
    out = model(rotmat=rot, betas=betas, transl=transl, vertices=False)
    assert "vertices" not in out
    _, j, _ = smpl_reference(arrays, rot, betas, transl)
    assert_close(out["joints"], j, what="joints (vertices=False)")


def test_fewer_betas_than_the_model_are_zero_padded(model, arrays):
    _, rot, betas, transl = random_inputs(np.random.default_rng(6), 3)
    out = model(rotmat=rot, betas=betas[:, :4], transl=transl)
    v, j, _ = smpl_reference(arrays, rot, betas[:, :4], transl)   # reference pads with zeros
    assert_close(out["vertices"], v, what="vertices, 4 of 10 betas")
    assert_close(out["joints"], j, what="joints, 4 of 10 betas")


def test_num_betas_uses_the_first_components(arrays):
    m = cliff.SMPL(arrays, num_betas=6)
    assert m.num_betas == 6
    _, rot, betas, transl = random_inputs(np.random.default_rng(7), 2, num_betas=6)
    v, _, _ = smpl_reference(arrays, rot, betas, transl, num_betas=6)
    assert_close(m(rotmat=rot, betas=betas, transl=transl)["vertices"], v, what="num_betas=6")


def test_300_shape_components():
    a = standin.smpl_arrays(seed=3, num_betas=300)
    m = cliff.SMPL(a, num_betas=300)
    _, rot, betas, transl = random_inputs(np.random.default_rng(8), 2, num_betas=300)
    betas *= 0.2  # 300 components of a few cm each: keep the body within a metre
    v, j, _ = smpl_reference(a, rot, betas, transl)
    out = m(rotmat=rot, betas=betas, transl=transl)
    assert_close(out["vertices"], v, what="vertices, 300 betas")
    assert_close(out["joints"], j, what="joints, 300 betas")


def test_generic_kernel_matches_the_vectorized_one(arrays, model, monkeypatch):
    monkeypatch.setenv("CLIFF_SMPL_KERNEL", "generic")
    generic = cliff.SMPL(arrays)
    _, rot, betas, transl = random_inputs(np.random.default_rng(9), 6)
    a = model(rotmat=rot, betas=betas, transl=transl)
    b = generic(rotmat=rot, betas=betas, transl=transl)
    v, _, _ = smpl_reference(arrays, rot, betas, transl)
    assert_close(b["vertices"], v, what="generic kernel vertices")
    assert_close(b["vertices"], a["vertices"], tol=2e-6, what="generic vs vectorized")


# ---- against smplx ----------------------------------------------------------------------

def test_matches_smplx(arrays, model, tmp_path):
    torch = pytest.importorskip("torch")
    smplx = pytest.importorskip("smplx")
    from smplx.utils import Struct

    path = tmp_path / "standin.npz"
    cliff.io.save_smpl_npz(path, arrays)
    with np.load(path) as z:  # smplx reads only pickles by path; hand it the npz contents
        layer = smplx.SMPL(model_path=str(path), data_struct=Struct(**dict(z)), num_betas=10)
    _, rot, betas, transl = random_inputs(np.random.default_rng(10), 17)
    with torch.inference_mode():
        R = torch.from_numpy(rot)
        ref = layer(global_orient=R[:, :1], body_pose=R[:, 1:], betas=torch.from_numpy(betas),
                    transl=torch.from_numpy(transl), pose2rot=False)
    out = model(rotmat=rot, betas=betas, transl=transl)
    assert_close(out["vertices"], ref.vertices.numpy(), what="vertices vs smplx")
    assert_close(out["joints"], ref.joints.numpy(), what="joints vs smplx")


@pytest.fixture(scope="session")
def model_files(arrays, tmp_path_factory):
    d = tmp_path_factory.mktemp("smpl_files")
    cliff.io.save_smpl_pkl(d / "SMPL_NEUTRAL.pkl", arrays)
    cliff.io.save_smpl_npz(d / "SMPL_NEUTRAL.npz", arrays)
    return d / "SMPL_NEUTRAL.pkl", d / "SMPL_NEUTRAL.npz"


def test_official_pkl_and_npz_twin_give_the_same_body(model_files, arrays):
    pkl, npz = (cliff.SMPL(p) for p in model_files)
    _, rot, betas, transl = random_inputs(np.random.default_rng(19), 4)
    a = pkl(rotmat=rot, betas=betas, transl=transl)
    b = npz(rotmat=rot, betas=betas, transl=transl)
    for key in ("vertices", "joints", "joints_rest"):
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(pkl.faces, npz.faces)
    np.testing.assert_array_equal(pkl.parents, npz.parents)
    v, _, _ = smpl_reference(arrays, rot, betas, transl)
    assert_close(a["vertices"], v, what="vertices from the .pkl")


def test_loading_by_path_checks_num_betas(model_files):
    with pytest.raises(ValueError, match="num_betas"):
        cliff.SMPL(model_files[0], num_betas=12)
    assert cliff.SMPL(model_files[1], num_betas=3).num_betas == 3


# ---- invariants ---------------------------------------------------------------------------

def test_zero_pose_and_betas_give_template_and_rest_joints(model, arrays):
    rot = np.broadcast_to(np.eye(3, dtype=np.float32), (2, 24, 3, 3))
    out = model(rotmat=rot)
    J = arrays["J_regressor"] @ arrays["v_template"]
    assert_close(out["vertices"], np.broadcast_to(arrays["v_template"], (2, 6890, 3)), tol=1e-6,
                 what="vertices = template")
    assert_close(out["joints"][:, :24], np.broadcast_to(J, (2, 24, 3)), tol=1e-6, what="joints")
    assert_close(out["joints_rest"], np.broadcast_to(J, (2, 24, 3)), tol=1e-6, what="joints_rest")


def test_global_rotation_rotates_about_the_root(model, arrays):
    rng = np.random.default_rng(11)
    _, rot, betas, _ = random_inputs(rng, 3)
    base = model(rotmat=rot, betas=betas)
    Rg = rodrigues(rng.normal(size=(3, 3)))
    rot2 = rot.copy()
    rot2[:, 0] = (Rg @ rot[:, 0].astype(np.float64)).astype(np.float32)
    turned = model(rotmat=rot2, betas=betas)
    root = base["joints_rest"][:, :1].astype(np.float64)  # the pelvis does not move under G_0
    for key in ("vertices", "joints"):
        expected = np.einsum("nab,nvb->nva", Rg, base[key] - root) + root
        assert_close(turned[key], expected, tol=2e-6, what=key)


def test_transl_shifts_everything(model):
    _, rot, betas, transl = random_inputs(np.random.default_rng(12), 4)
    a = model(rotmat=rot, betas=betas)
    b = model(rotmat=rot, betas=betas, transl=transl)
    for key in ("vertices", "joints"):
        assert_close(b[key] - a[key], np.broadcast_to(transl[:, None], a[key].shape), tol=1e-6,
                     what=key)
    np.testing.assert_array_equal(a["joints_rest"], b["joints_rest"])


def test_pose_and_rotmat_inputs_agree(model):
    aa, rot, betas, transl = random_inputs(np.random.default_rng(13), 5)
    a = model(rotmat=rot, betas=betas, transl=transl)
    b = model(pose=aa.reshape(5, 72), betas=betas, transl=transl)
    assert_close(b["vertices"], a["vertices"], what="pose vs rotmat vertices")
    assert_close(b["joints"], a["joints"], what="pose vs rotmat joints")


def test_vertex_joints_are_the_listed_vertices(model):
    _, rot, betas, transl = random_inputs(np.random.default_rng(14), 3)
    out = model(rotmat=rot, betas=betas, transl=transl)
    np.testing.assert_array_equal(out["joints"][:, 24:], out["vertices"][:, VERTEX_JOINTS])
    np.testing.assert_array_equal(model.vertex_joint_ids, VERTEX_JOINTS)
    fast = model(rotmat=rot, betas=betas, transl=transl, vertices=False)
    assert_close(fast["joints"], out["joints"], tol=2e-6, what="joints-only vs full path")


def test_attributes(model, arrays):
    assert model.faces.shape == (13776, 3) and model.faces.dtype == np.int32
    np.testing.assert_array_equal(model.parents, standin.PARENTS)
    assert model.num_betas == 10 and len(model.joint_names) == 45
    assert model.joint_names[0] == "pelvis" and model.joint_names[24] == "nose"
    assert model.joint_names[44] == "right_pinky"  # smplx naming (cliff.constants.JOINT_NAMES)
    np.testing.assert_allclose(model.v_template, arrays["v_template"], atol=1e-7)
    with pytest.raises(ValueError):
        model.faces[0, 0] = 1


def test_empty_batch(model):
    out = model(rotmat=np.zeros((0, 24, 3, 3), np.float32))
    assert out["vertices"].shape == (0, 6890, 3) and out["joints"].shape == (0, 45, 3)


def test_unusual_array_inputs_are_accepted(model):
    torch = pytest.importorskip("torch")
    _, rot, betas, transl = random_inputs(np.random.default_rng(15), 2)
    ref = model(rotmat=rot, betas=betas, transl=transl)["vertices"]
    strided = np.zeros((2, 24, 3, 6), np.float32)
    strided[..., ::2] = rot
    readonly = betas.copy()
    readonly.setflags(write=False)
    out = model(rotmat=strided[..., ::2], betas=readonly.astype(">f8"),
                transl=torch.from_numpy(transl))["vertices"]
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_concurrent_calls_give_the_serial_results(model):
    inputs = [random_inputs(np.random.default_rng(100 + i), 3) for i in range(6)]
    serial = [model(rotmat=r, betas=b, transl=t)["vertices"] for _, r, b, t in inputs]
    results = [None] * len(inputs)

    def run(i):
        _, r, b, t = inputs[i]
        for _ in range(3):
            results[i] = model(rotmat=r, betas=b, transl=t)["vertices"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(inputs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for a, b in zip(results, serial):
        np.testing.assert_array_equal(a, b)


# ---- regress ------------------------------------------------------------------------------

class FakeSparse:
    """Minimal scipy-like sparse matrix (cliff must not require scipy)."""

    def __init__(self, dense):
        self._dense = dense
        self.shape = dense.shape

    def toarray(self):
        return self._dense.copy()


def test_regress_dense_and_sparse(model):
    rng = np.random.default_rng(16)
    _, rot, betas, _ = random_inputs(rng, 3)
    verts = model(rotmat=rot, betas=betas)["vertices"]
    reg = np.where(rng.random((17, 6890)) < 0.002, rng.random((17, 6890)), 0.0)
    expected = np.einsum("jv,nvk->njk", reg, verts.astype(np.float64))
    dense = model.regress(verts, reg)
    assert dense.shape == (3, 17, 3) and dense.dtype == np.float32
    assert_close(dense, expected, tol=1e-6, what="dense regressor")
    assert_close(model.regress(verts, FakeSparse(reg)), expected, tol=1e-6, what="sparse regressor")
    assert_close(model.regress(verts[0], reg), expected[0], tol=1e-6, what="single body")


def test_regress_rejects_mismatched_shapes(model):
    verts = np.zeros((2, 6890, 3), np.float32)
    with pytest.raises(ValueError, match="J_regressor"):
        model.regress(verts, np.zeros((17, 6889)))
    with pytest.raises(ValueError, match="vertices"):
        model.regress(np.zeros((2, 6890, 2)), np.zeros((17, 6890)))


# ---- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    (dict(rotmat=np.zeros((2, 23, 3, 3), np.float32)), "rotmat"),
    (dict(rotmat=np.zeros((2, 24, 3, 4), np.float32)), "rotmat"),
    (dict(rotmat=np.zeros((24, 3, 3), np.float32)), "rotmat"),
    (dict(pose=np.zeros((2, 69), np.float32)), "pose"),
    (dict(pose=np.zeros((2, 24, 3), np.float32)), "pose"),
    (dict(pose=np.zeros((2, 72)), betas=np.zeros((2, 11))), "betas"),
    (dict(pose=np.zeros((2, 72)), betas=np.zeros((2, 10, 1))), "betas"),
    (dict(pose=np.full((2, 72), np.nan)), "pose"),
    (dict(pose=np.zeros((2, 72)), betas=np.array([[0.0] * 9 + [np.inf]] * 2)), "betas"),
    (dict(pose=np.zeros((2, 72)), transl=np.array([[0, 0, np.nan]] * 2)), "transl"),
    (dict(pose=np.zeros((2, 72)), betas=np.zeros((3, 10))), "betas"),
    (dict(pose=np.zeros((2, 72)), transl=np.zeros((1, 3))), "transl"),
    (dict(pose=np.zeros((2, 72)), transl=np.zeros((2, 2))), "transl"),
    (dict(), "rotmat, pose"),
    (dict(rotmat=np.zeros((1, 24, 3, 3)), pose=np.zeros((1, 72))), "rotmat, pose"),
])
def test_bad_input_raises_value_error_naming_the_argument(model, kwargs, name):
    with pytest.raises(ValueError, match=name):
        model(**kwargs)


def test_non_numeric_input_raises_type_error(model):
    with pytest.raises(TypeError, match="rotmat"):
        model(rotmat="not an array")


def test_bad_model_arrays(arrays):
    with pytest.raises(ValueError, match="num_betas"):
        cliff.SMPL(arrays, num_betas=11)
    bad = dict(arrays, parents=np.roll(arrays["parents"], 1))
    with pytest.raises(ValueError, match="parents"):
        cliff.SMPL(bad)
    bad = dict(arrays, posedirs=arrays["posedirs"][:, :, :200])
    with pytest.raises(ValueError, match="posedirs"):
        cliff.SMPL(bad)
    weights = arrays["weights"].copy()
    weights[5, 3] = np.nan
    with pytest.raises(ValueError, match="weights"):
        cliff.SMPL(dict(arrays, weights=weights))
    with pytest.raises(ValueError, match="missing"):
        cliff.SMPL({k: v for k, v in arrays.items() if k != "faces"})
    with pytest.raises(TypeError, match="model"):
        cliff.SMPL(42)


@pytest.mark.parametrize("shift", [-100000, 100000])
def test_faces_out_of_range_are_refused(arrays, shift):
    """faces index the 6890 vertices; a corrupt file is refused at load, not later in render or
    mesh export."""
    bad = dict(arrays, faces=np.asarray(arrays["faces"]) + shift)
    with pytest.raises(ValueError, match=r"^faces: vertex indices must be in \[0, 6890\)"):
        cliff.SMPL(bad)


# ---- mesh export ------------------------------------------------------------------------------

def test_save_obj_round_trip(model, tmp_path):
    v = model(rotmat=random_inputs(np.random.default_rng(17), 1)[1])["vertices"][0]
    path = tmp_path / "body.obj"
    cliff.save_obj(path, v, model.faces)
    lines = path.read_text().splitlines()
    vs = np.array([l.split()[1:] for l in lines if l.startswith("v ")], np.float64)
    fs = np.array([l.split()[1:] for l in lines if l.startswith("f ")], np.int64)
    np.testing.assert_allclose(vs, v, atol=5e-7)
    np.testing.assert_array_equal(fs - 1, model.faces)


def test_save_ply_round_trip(model, tmp_path):
    v = model(rotmat=random_inputs(np.random.default_rng(18), 1)[1])["vertices"][0]
    path = tmp_path / "body.ply"
    cliff.save_ply(path, v, model.faces)
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode()
    assert "format binary_little_endian 1.0" in header and "element vertex 6890" in header
    assert "element face 13776" in header
    vs = np.frombuffer(data, "<f4", 6890 * 3, end).reshape(6890, 3)
    rec = np.frombuffer(data, [("n", "u1"), ("i", "<i4", (3,))], 13776, end + vs.nbytes)
    np.testing.assert_array_equal(vs, v)
    assert (rec["n"] == 3).all()
    np.testing.assert_array_equal(rec["i"], model.faces)


def test_mesh_export_rejects_bad_input(tmp_path, model):
    v = np.zeros((6890, 3), np.float32)
    with pytest.raises(ValueError, match="faces"):
        cliff.save_obj(tmp_path / "x.obj", v, model.faces + 1)
    with pytest.raises(ValueError, match="vertices"):
        cliff.save_ply(tmp_path / "x.ply", np.zeros((6890, 2)), model.faces)
    with pytest.raises(OSError):
        cliff.save_obj(tmp_path / "missing_dir" / "x.obj", v, model.faces)


# ---- the stand-in model -------------------------------------------------------------------------

def test_standin_is_deterministic_and_seeded():
    a, b, c = standin.smpl_arrays(0), standin.smpl_arrays(0), standin.smpl_arrays(1)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["posedirs"], c["posedirs"])


def test_standin_is_a_valid_smpl_like_model(arrays):
    v, f = arrays["v_template"], arrays["faces"]
    assert v.shape == (6890, 3) and f.shape == (13776, 3) and f.dtype == np.int32
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    uniq, count = np.unique(edges, axis=0, return_counts=True)
    assert (count == 2).all(), "closed: every edge in exactly two triangles"
    assert len(v) - len(uniq) + len(f) == 2, "genus 0: Euler characteristic 2"
    volume = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
    assert volume > 0.03, "faces wound outward and a body-sized volume (m^3)"
    assert 1.6 < np.ptp(v[:, 1]) < 1.8, "about 1.7 m tall along y"
    np.testing.assert_allclose(arrays["J_regressor"].sum(1), 1.0)
    np.testing.assert_allclose(arrays["weights"].sum(1), 1.0)
    assert (arrays["weights"] >= 0).all() and (arrays["J_regressor"] >= 0).all()
    assert ((arrays["J_regressor"] > 0).sum(1) <= 10).all()
    J = arrays["J_regressor"] @ v
    assert J[15, 1] > J[12, 1] > J[0, 1] > J[4, 1] > J[7, 1], "head > neck > pelvis > knee > ankle"
    assert J[1, 0] > 0 > J[2, 0], "left hip on +x"
    assert np.abs(arrays["shapedirs"]).max() < 0.05 and np.abs(arrays["posedirs"]).max() < 0.005
