"""cliff.SMPLX against the smplx package (the reference implementation, test-only) on the
procedural SMPL-X stand-in written in the official .npz and .pkl layouts; the SMPL-X -> SMPL
transfer against SciPy; the readers' errors; SMPL-X meshes through export and rendering.

The stand-in is NOT SMPL-X (a rough skeleton with SMPL-X's sizes, tree, vertex-joint ids and
landmark embedding): every formula is checked on it exactly as it would be on the real model.
"""
import os
import warnings

import numpy as np
import pytest

import cliff
import cliff.io
from cliff import _standin as standin
from cliff.io import smplx as sxio

torch = pytest.importorskip("torch")
smplx = pytest.importorskip("smplx")

TOL = 1e-5  # metres: the brief's bound for float32 cliff vs float32 smplx

# docs/official.md#smplx: smplx's 'smplx' vertex ids (nose, eyes, ears, toes, heels, tips)
SMPLX_VERTEX_JOINTS = [9120, 9929, 9448, 616, 6, 5770, 5780, 8846, 8463, 8474, 8635,
                       5361, 4933, 5058, 5169, 5286, 8079, 7669, 7794, 7905, 8022]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The stand-in in both official layouts: 300 + 100 components (.npz, the BEDLAM layout)
    and 10 + 10 components (.pkl and .npz), float32 blend shapes like the releases."""
    d = tmp_path_factory.mktemp("smplx")
    big, small = standin.smplx_arrays(0, 300), standin.smplx_arrays(1, 10)
    paths = {"npz300": d / "SMPLX_NEUTRAL.npz", "pkl10": d / "SMPLX_NEUTRAL.pkl",
             "npz10": d / "SMPLX_NEUTRAL_10.npz"}
    sxio.save_smplx_npz(paths["npz300"], big, dtype=np.float32)
    sxio.save_smplx_pkl(paths["pkl10"], small, dtype=np.float32)
    sxio.save_smplx_npz(paths["npz10"], small, dtype=np.float32)
    return {k: str(v) for k, v in paths.items()}


def random_body(n, num_betas, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    R = cliff.axis_angle_to_rotmat(rng.normal(scale=scale, size=(n, 22, 3))).astype(np.float32)
    return R, rng.normal(size=(n, num_betas)).astype(np.float32), \
        rng.normal(scale=0.5, size=(n, 3)).astype(np.float32)


def smplx_ref(path, ext, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # smplx's "only 10 shape coefficients" notice, scipy paths
        return kw.pop("layer", smplx.SMPLX)(path, ext=ext, **kw)


def test_bedlam_layer_parity_npz(files):
    """BEDLAM's body (smplx.SMPLXLayer, num_betas=11, rotation matrices, flat hands): the same
    vertices and 127 joints within 1e-5 m."""
    m = cliff.SMPLX(files["npz300"], 11)
    ref = smplx_ref(files["npz300"], "npz", layer=smplx.SMPLXLayer, num_betas=11)
    R, b, t = random_body(5, 11)
    out = m(rotmat=R, betas=b, transl=t)
    with torch.no_grad():
        r = ref(betas=torch.tensor(b), global_orient=torch.tensor(R[:, :1]),
                body_pose=torch.tensor(R[:, 1:]), transl=torch.tensor(t))
    assert out["vertices"].shape == (5, 10475, 3) and out["joints"].shape == (5, 127, 3)
    np.testing.assert_allclose(out["vertices"], r.vertices.numpy(), atol=TOL, rtol=0)
    np.testing.assert_allclose(out["joints"], r.joints.numpy(), atol=TOL, rtol=0)


def test_mean_hands_axis_angle_parity_pkl(files):
    """The official .pkl layout (10 + 10 components, sparse J_regressor) read by our restricted
    unpickler, smplx.SMPLX with its defaults for the hands (flat_hand_mean=False: the mean hand
    pose) and axis-angle global_orient / body_pose."""
    m = cliff.SMPLX(files["pkl10"], 10, hands="mean")
    ref = smplx_ref(files["pkl10"], "pkl", num_betas=10, use_pca=False, batch_size=4)
    rng = np.random.default_rng(3)
    go, bp = rng.normal(scale=0.6, size=(4, 3)), rng.normal(scale=0.4, size=(4, 63))
    b = rng.normal(size=(4, 7)).astype(np.float32)
    out = m(go.astype(np.float32), bp.astype(np.float32), betas=b)
    bb = np.zeros((4, 10), np.float32)
    bb[:, :7] = b
    with torch.no_grad():
        r = ref(betas=torch.tensor(bb), global_orient=torch.tensor(go, dtype=torch.float32),
                body_pose=torch.tensor(bp, dtype=torch.float32))
    np.testing.assert_allclose(out["vertices"], r.vertices.numpy(), atol=TOL, rtol=0)
    np.testing.assert_allclose(out["joints"], r.joints.numpy(), atol=TOL, rtol=0)


def test_flat_hands_equal_smplx_flat_hand_mean(files):
    """hands='flat' is smplx.SMPLX(flat_hand_mean=True) with zero hand pose."""
    m = cliff.SMPLX(files["npz10"], 10)
    ref = smplx_ref(files["npz10"], "npz", num_betas=10, use_pca=False, flat_hand_mean=True,
                   batch_size=3)
    R, b, t = random_body(3, 10, seed=5)
    aa = cliff.rotmat_to_axis_angle(R).reshape(3, 66)
    out = m(pose=aa, betas=b, transl=t)
    with torch.no_grad():
        r = ref(betas=torch.tensor(b), global_orient=torch.tensor(aa[:, :3]),
                body_pose=torch.tensor(aa[:, 3:]), transl=torch.tensor(t))
    np.testing.assert_allclose(out["vertices"], r.vertices.numpy(), atol=TOL, rtol=0)
    np.testing.assert_allclose(out["joints"], r.joints.numpy(), atol=TOL, rtol=0)


def test_pose_inputs_agree(files):
    """rotmat, pose and global_orient/body_pose (rotations or axis-angle) give one body."""
    m = cliff.SMPLX(files["npz10"], 10)
    R, b, _ = random_body(2, 10, seed=7)
    aa = cliff.rotmat_to_axis_angle(R)
    ref = m(rotmat=R, betas=b)["vertices"]
    for out in (m(pose=aa.reshape(2, 66), betas=b), m(R[:, 0], R[:, 1:], betas=b),
                m(aa[:, 0], aa[:, 1:].reshape(2, 63), betas=b)):
        np.testing.assert_allclose(out["vertices"], ref, atol=2e-6, rtol=0)


def test_joints_only_path_matches_mesh_path(files):
    """vertices=False skins only the vertices behind the vertex joints and landmarks: the
    same 127 joints."""
    m = cliff.SMPLX(files["npz300"], 11, hands="mean")
    R, b, t = random_body(6, 11, seed=2)
    full, fast = m(rotmat=R, betas=b, transl=t), m(rotmat=R, betas=b, transl=t, vertices=False)
    assert "vertices" not in fast
    np.testing.assert_allclose(fast["joints"], full["joints"], atol=2e-6, rtol=0)
    np.testing.assert_allclose(fast["joints_rest"], full["joints_rest"], atol=0, rtol=0)


def test_outputs_documented_layout(files):
    """Joints 55..75 are the vertices at smplx's 'smplx' vertex ids; 76..126 the barycentric
    landmark points; joints_rest the regressed shaped joints."""
    arr = sxio.load_smplx(files["npz10"])
    m = cliff.SMPLX(arr, 10)
    R, b, t = random_body(2, 10, seed=4)
    out = m(rotmat=R, betas=b, transl=t)
    v, j = out["vertices"], out["joints"]
    np.testing.assert_array_equal(m.vertex_joint_ids, SMPLX_VERTEX_JOINTS)
    np.testing.assert_array_equal(j[:, 55:76], v[:, m.vertex_joint_ids])
    tri = arr["faces"][arr["lmk_faces_idx"]]
    lmk = np.einsum("lk,nlkc->nlc", arr["lmk_bary_coords"], v[:, tri])
    np.testing.assert_allclose(j[:, 76:], lmk, atol=2e-6, rtol=0)
    shaped = arr["v_template"] + np.einsum("vcl,nl->nvc", arr["shapedirs"][:, :, :10], b)
    np.testing.assert_allclose(out["joints_rest"], arr["J_regressor"] @ shaped, atol=2e-6, rtol=0)
    assert len(m.joint_names) == 127 and m.joint_names[55] == "nose" and m.joint_names[22] == "jaw"


def test_npz_and_pkl_load_the_same_model(files):
    """The fixture's .pkl and 10-component .npz were written from one model."""
    a, b = cliff.io.load_smplx(files["npz10"]), cliff.io.load_smplx(files["pkl10"])
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert a["shapedirs"].shape == (10475, 3, 10)  # the 10 expression components are dropped


def test_official_npz_object_members_are_skipped_not_unpickled(tmp_path, files):
    """The official npz also holds pickled dicts (joint2num, part2num): they are never read."""
    with np.load(files["npz10"]) as z:
        d = dict(z)
    d["joint2num"] = np.array({"pelvis": 0}, dtype=object)
    np.savez(tmp_path / "b.npz", **d)
    m = cliff.io.load_smplx(tmp_path / "b.npz")
    assert "joint2num" not in m and m["v_template"].shape == (10475, 3)


def test_smpl_file_is_refused_with_a_clear_error(tmp_path):
    cliff.io.save_smpl_npz(tmp_path / "smpl.npz", standin.smpl_arrays())
    with pytest.raises(ValueError, match="6890 vertices and 24 joints, expected SMPL-X"):
        cliff.io.load_smplx(tmp_path / "smpl.npz")


def test_missing_landmarks_and_bad_files(tmp_path, files):
    with np.load(files["npz10"]) as z:
        d = {k: v for k, v in z.items() if k != "lmk_bary_coords"}
    np.savez(tmp_path / "nolmk.npz", **d)
    with pytest.raises(ValueError, match="lmk_bary_coords"):
        cliff.io.load_smplx(tmp_path / "nolmk.npz")
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        cliff.io.load_smplx(tmp_path / "empty.pkl")
    data = open(files["npz10"], "rb").read()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 3])
    with pytest.raises(ValueError):
        cliff.io.load_smplx(tmp_path / "cut.npz")
    with pytest.raises(FileNotFoundError):
        cliff.io.load_smplx(tmp_path / "nope.npz")
    with pytest.raises(TypeError, match="path"):
        cliff.io.load_smplx(3)


def test_bad_arguments(files):
    arr = sxio.load_smplx(files["npz10"])
    with pytest.raises(ValueError, match="num_betas: expected 0..10"):
        cliff.SMPLX(arr, 11)
    with pytest.raises(ValueError, match="hands"):
        cliff.SMPLX(arr, 10, hands="open")
    with pytest.raises(TypeError, match="model"):
        cliff.SMPLX(42)
    m = cliff.SMPLX(arr, 10)
    R, b, _ = random_body(2, 10)
    with pytest.raises(ValueError, match="exactly one"):
        m(rotmat=R, pose=np.zeros((2, 66), np.float32))
    with pytest.raises(ValueError, match=r"rotmat.*\(N, 22, 3, 3\)"):
        m(rotmat=np.zeros((2, 24, 3, 3), np.float32))
    with pytest.raises(ValueError, match="body_pose"):
        m(R[:, 0], np.zeros((2, 60), np.float32))
    with pytest.raises(ValueError, match="betas"):
        m(rotmat=R, betas=np.zeros((2, 12), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        m(rotmat=np.full((1, 22, 3, 3), np.nan, np.float32))


def test_core_handle_reports_its_body(files):
    m = cliff.SMPLX(files["npz10"], 10)
    core = m._model
    assert (core.kind, core.num_vertices, core.num_joints, core.num_pose_joints,
            core.num_output_joints, core.num_landmarks, core.num_betas) == \
        ("smplx", 10475, 55, 22, 127, 51, 10)
    np.testing.assert_array_equal(core.faces, m.faces)
    s = cliff.SMPL(standin.smpl_arrays(), 10)._model
    assert (s.kind, s.num_vertices, s.num_joints, s.num_pose_joints, s.num_output_joints) == \
        ("smpl", 6890, 24, 24, 45)


# ---- SMPL-X -> SMPL -------------------------------------------------------------------------

def test_transfer_matches_scipy(tmp_path, files):
    """The deformation transfer written like smplx's file ('mtx' a SciPy CSC matrix of shape
    (6890, 2 x 10475), the second half acting on normals) equals SciPy's product with the
    vertex half; SMPL joints through an SMPL J_regressor."""
    sparse = pytest.importorskip("scipy.sparse")
    t = standin.smplx2smpl_arrays()
    path = tmp_path / "smplx2smpl_deftrafo_setup.pkl"
    sxio.save_smplx2smpl_pkl(path, t["shape"], t["rows"], t["cols"], t["values"])
    m = cliff.SMPLX(files["npz10"], 10, transfer=path)
    R, b, tr = random_body(3, 10, seed=9)
    v = m(rotmat=R, betas=b, transl=tr)["vertices"]
    jreg = standin.smpl_arrays()["J_regressor"]
    out = m.to_smpl(v, J_regressor=jreg)
    S = sparse.csc_matrix((t["values"], (t["rows"], t["cols"])), shape=t["shape"])[:, :10475]
    want = np.stack([S @ vi.astype(np.float64) for vi in v])
    assert out["vertices"].shape == (3, 6890, 3) and out["vertices"].dtype == np.float32
    np.testing.assert_allclose(out["vertices"], want, atol=1e-6, rtol=0)
    np.testing.assert_allclose(out["joints"], jreg @ want, atol=1e-6, rtol=0)


def test_transfer_dense_matrix_key_and_errors(tmp_path):
    """'matrix' (dense, (6890, 10475); here a 0/1 uint8 vertex selection to keep it small)
    is read too; wrong shapes and keys are refused."""
    from cliff.io import pickle_writer as pw
    rng = np.random.default_rng(0)
    mat = np.zeros((6890, 10475), np.uint8)
    mat[np.arange(6890), rng.integers(0, 10475, 6890)] = 1
    np.savez(tmp_path / "t.npz", matrix=mat)
    t = cliff.io.load_smplx2smpl(tmp_path / "t.npz")
    v = rng.normal(size=(10475, 3))
    from cliff.smplx import smplx_to_smpl
    np.testing.assert_allclose(smplx_to_smpl(t, v)["vertices"], mat @ v, atol=1e-12)
    np.savez(tmp_path / "bad.npz", matrix=np.zeros((6890, 100)))
    with pytest.raises(ValueError, match=r"\(6890, 10475\)"):
        cliff.io.load_smplx2smpl(tmp_path / "bad.npz")
    with open(tmp_path / "nokey.pkl", "wb") as f:
        pw.dump({"other": 1}, f, py2=True)
    with pytest.raises(ValueError, match="'mtx' or 'matrix'"):
        cliff.io.load_smplx2smpl(tmp_path / "nokey.pkl")


def test_to_smpl_needs_the_transfer(files):
    m = cliff.SMPLX(files["npz10"], 10)
    with pytest.raises(ValueError, match="transfer"):
        m.to_smpl(np.zeros((1, 10475, 3), np.float32))


# ---- meshes: export and rendering ---------------------------------------------------------

def test_smplx_mesh_export_and_render(tmp_path, files):
    """SMPL-X meshes (10475 vertices, 20908 faces) go through OBJ/PLY, the glTF writer (read
    back by pygltflib, an independent reader) and the renderer."""
    m = cliff.SMPLX(files["npz10"], 10)
    R, b, _ = random_body(2, 10, seed=11, scale=0.2)
    v = m(rotmat=R, betas=b, transl=np.array([[0, 0, 3.0], [0.4, 0, 3.5]], np.float32))["vertices"]
    cliff.save_obj(tmp_path / "a.obj", v[0], m.faces)
    text = (tmp_path / "a.obj").read_text().splitlines()
    assert sum(line.startswith("v ") for line in text) == 10475
    assert sum(line.startswith("f ") for line in text) == 20908
    from cliff.io.gltf import write_glb_meshes
    write_glb_meshes(tmp_path / "a.glb", v, m.faces)
    pygltflib = pytest.importorskip("pygltflib")
    g = pygltflib.GLTF2().load(str(tmp_path / "a.glb"))
    assert len(g.meshes) == 2
    acc = g.accessors[g.meshes[0].primitives[0].attributes.POSITION]
    assert acc.count == 10475 and g.accessors[g.meshes[0].primitives[0].indices].count == 3 * 20908
    img = np.zeros((240, 320, 3), np.uint8)
    out = cliff.render(img, v, m.faces, 300.0, (160, 120))
    assert out.shape == img.shape and (out != 0).any()


def test_results_writer_sizes_for_an_empty_smplx_run(tmp_path):
    from cliff.io.results import ResultWriter
    w = ResultWriter(str(tmp_path / "r.npz"), str(tmp_path), np.zeros((20908, 3), np.int32),
                     body="smplx")
    w.close()
    with np.load(tmp_path / "r.npz") as z:
        assert z["pose"].shape == (0, 66) and z["shape"].shape == (0, 11)
        assert z["pred_joints"].shape == (0, 127, 3)
    with pytest.raises(ValueError, match="body"):
        ResultWriter(str(tmp_path / "x.npz"), str(tmp_path), np.zeros((1, 3), np.int32), body="mano")


# ---- hostile files --------------------------------------------------------------------------

def _hostile_smpl_files():
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fuzz"))
    import corpus
    return corpus.hostile_files()["smpl"]


@pytest.mark.parametrize("reader", ["load_smplx", "load_smplx2smpl"])
def test_hostile_model_files_are_refused_quickly(tmp_path, reader):
    """The committed hostile SMPL corpus (bombs, huge headers, sparse bombs, non-finite data)
    through the SMPL-X readers: a ValueError/OSError each, fast (same bounded reading path)."""
    import time
    for name, data in _hostile_smpl_files().items():
        path = tmp_path / name
        path.write_bytes(data)
        t0 = time.perf_counter()
        with pytest.raises((ValueError, OSError)):
            getattr(cliff.io, reader)(path)
        assert time.perf_counter() - t0 < 0.5, name


def test_threads_and_concurrent_calls(files):
    """A model's own thread count; calls from several Python threads (the GIL is released,
    the model serializes its calls) give the single-threaded result."""
    import threading
    m = cliff.SMPLX(files["npz10"], 10, threads=1)
    assert m.threads == 1
    R, b, t = random_body(8, 10, seed=13)
    want = m(rotmat=R, betas=b, transl=t)["vertices"]
    got = [None] * 4

    def work(i):
        got[i] = m(rotmat=R, betas=b, transl=t)["vertices"]
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for g in got:
        np.testing.assert_array_equal(g, want)
