"""cliff.evaluate: metrics against independent implementations, readers, protocol conventions
(gender, pelvis, camera frame, good frames), options, resumability and the CLI end to end.

Every dataset here is synthetic, written in exactly the benchmark's file format: stand-in SMPL
bodies for the genders (cliff._standin, different seeds), a random Human3.6M regressor, tiny
JPEG images, stand-in CLIFF weights."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

import cliff
from cliff import _standin
from cliff.evaluate import metrics as M
from cliff.evaluate import datasets as D
from cliff.evaluate.protocols import H36M_TO_J14, J24_TO_J14, Bodies

RNG = np.random.default_rng


# ------------------------------------------------------------------------------------------
# independent references (written for the tests: SciPy / plain loops)

def ref_pa_mpjpe(pred, gt):
    """Per sample: Kabsch rotation from SciPy's Rotation.align_vectors (a proper rotation),
    then the least-squares scale and translation, then the mean distance."""
    out = []
    for p, g in zip(pred, gt):
        pc, gc = p - p.mean(0), g - g.mean(0)
        rot, _ = Rotation.align_vectors(gc, pc)            # rot.apply(pc) ~ gc
        rp = rot.apply(pc)
        s = (rp * gc).sum() / (pc * pc).sum()
        aligned = s * rp + g.mean(0)
        out.append(np.mean([np.sqrt(((a - b) ** 2).sum()) for a, b in zip(aligned, g)]))
    return np.array(out)


def ref_pa_mpjpe_orthogonal(pred, gt):
    """Per sample with SciPy's orthogonal_procrustes (valid where the optimum is a rotation)."""
    out = []
    for p, g in zip(pred, gt):
        pc, gc = p - p.mean(0), g - g.mean(0)
        R, sv = orthogonal_procrustes(pc, gc)               # pc @ R ~ gc
        assert np.linalg.det(R) > 0
        s = sv / (pc * pc).sum()
        aligned = s * pc @ R + g.mean(0)
        out.append(np.linalg.norm(aligned - g, axis=1).mean())
    return np.array(out)


def random_rotations(rng, n):
    return Rotation.random(n, random_state=int(rng.integers(1 << 30))).as_matrix()


# ------------------------------------------------------------------------------------------
# metrics

def test_pa_mpjpe_equals_scipy_kabsch_on_random_sets():
    rng = RNG(0)
    pred, gt = rng.normal(size=(50, 14, 3)), rng.normal(size=(50, 14, 3))
    np.testing.assert_allclose(M.pa_mpjpe(pred, gt), ref_pa_mpjpe(pred, gt), rtol=0, atol=1e-9)


def test_pa_mpjpe_equals_scipy_orthogonal_procrustes_on_noisy_similar_sets():
    rng = RNG(1)
    gt = rng.normal(size=(40, 24, 3))
    R = random_rotations(rng, 40)
    pred = 0.8 * np.einsum("nij,nkj->nki", R, gt) + rng.normal(size=(40, 1, 3)) \
        + 0.05 * rng.normal(size=gt.shape)
    np.testing.assert_allclose(M.pa_mpjpe(pred, gt), ref_pa_mpjpe_orthogonal(pred, gt),
                               rtol=0, atol=1e-9)


def test_mpjpe_and_pve_equal_a_plain_loop():
    rng = RNG(2)
    pred, gt = rng.normal(size=(7, 30, 3)), rng.normal(size=(7, 30, 3))
    loop = [np.mean([np.sqrt(sum((a[k] - b[k]) ** 2 for k in range(3))) for a, b in zip(p, g)])
            for p, g in zip(pred, gt)]
    np.testing.assert_allclose(M.mpjpe(pred, gt), loop, rtol=0, atol=1e-12)
    np.testing.assert_allclose(M.pve(pred, gt), loop, rtol=0, atol=1e-12)


def test_prediction_equal_to_ground_truth_gives_zero():
    gt = RNG(3).normal(size=(5, 14, 3))
    assert np.all(M.mpjpe(gt, gt) == 0)
    assert np.all(M.pa_mpjpe(gt, gt) < 1e-12)


def test_known_similarity_transform_pa_zero_and_mpjpe_by_hand():
    rng = RNG(4)
    gt = rng.normal(size=(3, 14, 3))
    # a pure translation of (30, 40, 0) mm: every joint is exactly 50 mm away
    moved = gt + np.array([0.03, 0.04, 0.0])
    np.testing.assert_allclose(M.mpjpe(moved, gt), 0.05, rtol=0, atol=1e-15)
    # scale 2 about the origin, a 90 degree turn about z, a shift: PA undoes all of it
    Rz = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    pred = 2.0 * gt @ Rz.T + np.array([1.0, -2.0, 0.5])
    assert np.all(M.pa_mpjpe(pred, gt) < 1e-12)
    _, tf = M.procrustes(pred, gt)
    np.testing.assert_allclose(tf["scale"], 0.5, atol=1e-12)
    np.testing.assert_allclose(tf["R"], np.broadcast_to(Rz.T, (3, 3, 3)), atol=1e-12)
    # MPJPE of the scale alone, by hand: |2g - g| = |g|
    np.testing.assert_allclose(M.mpjpe(2.0 * gt, gt), np.linalg.norm(gt, axis=2).mean(1), atol=1e-15)


def test_procrustes_never_reflects():
    """A mirrored set is not aligned to zero error: the rotation is proper (det +1)."""
    gt = RNG(5).normal(size=(1, 14, 3))
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    _, tf = M.procrustes(mirrored, gt)
    assert np.linalg.det(tf["R"][0]) == pytest.approx(1.0)
    assert M.pa_mpjpe(mirrored, gt)[0] > 0.1


def test_jitter_of_a_cubic_motion_is_six_times_its_coefficient():
    """x(t) = a t^3 has jerk 6a: the third difference of k^3 is 6 exactly. EMDB zeroes 9 of
    the 24 joints and still divides by 24."""
    fps, a = 30.0, 0.7
    t = np.arange(12) / fps
    joints = np.zeros((12, 24, 3))
    joints[:, :, 0] = (a * t ** 3)[:, None]
    assert M.jitter(joints, fps=fps) == pytest.approx(6 * a * 15 / 24, rel=1e-9)
    assert M.jitter(joints, fps=fps, ignored=()) == pytest.approx(6 * a, rel=1e-9)
    linear = np.zeros((12, 24, 3))
    linear[:, :, 1] = t[:, None] * 3.0
    assert M.jitter(linear, fps=fps) == pytest.approx(0.0, abs=1e-6)


def test_acceleration_error_of_a_quadratic_drift():
    T = 10
    gt = np.zeros((T, 14, 3))
    pred = gt.copy()
    pred[:, :, 2] = 0.004 * np.arange(T)[:, None] ** 2      # acceleration 0.008 per frame^2
    np.testing.assert_allclose(M.acceleration_error(pred, gt), 0.008, atol=1e-15)


def test_metric_errors_name_the_argument():
    with pytest.raises(ValueError, match="pred and gt"):
        M.mpjpe(np.zeros((2, 14, 3)), np.zeros((2, 13, 3)))
    with pytest.raises(ValueError, match=r"gt: expected shape \(N, J, 3\)"):
        M.pa_mpjpe(np.zeros((2, 14, 3)), np.zeros((14, 3)))
    with pytest.raises(ValueError, match="NaN"):
        M.mpjpe(np.full((1, 2, 3), np.nan), np.zeros((1, 2, 3)))


# ------------------------------------------------------------------------------------------
# synthetic datasets in the benchmarks' formats

GENDER_SEEDS = {"NEUTRAL": 0, "MALE": 1, "FEMALE": 2}


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory):
    """SMPL_NEUTRAL/MALE/FEMALE.pkl (stand-ins with different blend shapes) and a random
    (17, 6890) J_regressor_h36m.npy whose rows sum to 1."""
    d = tmp_path_factory.mktemp("smpl")
    for g, seed in GENDER_SEEDS.items():
        cliff.io.save_smpl_pkl(d / f"SMPL_{g}.pkl", _standin.smpl_arrays(seed=seed))
    r = RNG(7).random((17, 6890)) ** 8
    np.save(d / "J_regressor_h36m.npy", r / r.sum(1, keepdims=True))
    return d


@pytest.fixture(scope="module")
def bodies(smpl_dir):
    return {g.lower(): cliff.SMPL(str(smpl_dir / f"SMPL_{g}.pkl")) for g in GENDER_SEEDS}


def jreg(smpl_dir):
    return np.load(smpl_dir / "J_regressor_h36m.npy")


def random_params(rng, n):
    pose = rng.normal(scale=0.25, size=(n, 72))
    pose[:, :3] = Rotation.from_euler("x", (np.pi + rng.normal(scale=0.1, size=n))[:, None]).as_rotvec()
    return pose, rng.normal(scale=1.0, size=(n, 10))


def write_3dpw(folder, n_per_seq=(3, 2), genders=None, size=(96, 128), seed=0):
    """3dpw_test.npz + imageFiles/<seq>/image_%05d.jpg (tiny JPEGs)."""
    from PIL import Image

    rng = RNG(seed)
    n = sum(n_per_seq)
    pose, betas = random_params(rng, n)
    names, centers, scales = [], [], []
    h, w = size
    for s, count in enumerate(n_per_seq):
        seq = f"seq_{s:02d}"
        os.makedirs(folder / "imageFiles" / seq, exist_ok=True)
        for k in range(count):
            name = f"imageFiles/{seq}/image_{k:05d}.jpg"
            img = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
            Image.fromarray(img).save(folder / name, quality=90)
            names.append(name)
            centers.append([w / 2 + rng.normal() * 3, h / 2 + rng.normal() * 3])
            scales.append(0.4 + 0.05 * rng.random())
    g = genders if genders is not None else np.array(["m", "f"] * n)[:n]
    path = folder / "3dpw_test.npz"
    np.savez(path, imgname=np.array(names), center=np.array(centers), scale=np.array(scales),
             pose=pose, shape=betas, gender=np.array(g))
    return path


def lsp14(bodies_out_vertices, J):
    j17 = np.einsum("jv,nvc->njc", J, bodies_out_vertices.astype(np.float64))
    return j17, j17[:, list(H36M_TO_J14)]


def oracle_3dpw(data_path):
    d = D.read_3dpw(data_path)

    def predict(items):
        return [{"pose": d["pose"][it.row], "betas": d["shape"][it.row]} for it in items]
    return predict


# ------------------------------------------------------------------------------------------
# readers

def test_read_3dpw_round_trip(tmp_path):
    p = write_3dpw(tmp_path)
    d = D.read_3dpw(p)
    assert d["pose"].shape == (5, 72) and d["shape"].shape == (5, 10)
    assert d["gender"].tolist() == [0, 1, 0, 1, 0]              # 'm' -> 0, 'f' -> 1
    assert D.sequence_of(d["imgname"][3], "3dpw") == "seq_01"
    assert D.frame_of(d["imgname"][4]) == 1


@pytest.mark.parametrize("drop", ["imgname", "center", "scale", "pose", "shape", "gender"])
def test_read_3dpw_names_the_missing_key(tmp_path, drop):
    p = write_3dpw(tmp_path)
    z = dict(np.load(p))
    del z[drop]
    np.savez(tmp_path / "bad.npz", **z)
    with pytest.raises(ValueError, match=f"missing key '{drop}'"):
        D.read_3dpw(tmp_path / "bad.npz")


def test_read_3dpw_names_the_wrong_shape_and_gender(tmp_path):
    p = write_3dpw(tmp_path)
    z = dict(np.load(p))
    np.savez(tmp_path / "bad.npz", **{**z, "pose": z["pose"][:, :69]})
    with pytest.raises(ValueError, match=r"pose has shape \(5, 69\), expected \(N, 72\)"):
        D.read_3dpw(tmp_path / "bad.npz")
    np.savez(tmp_path / "bad2.npz", **{**z, "gender": np.array(["m", "x", "f", "m", "f"])})
    with pytest.raises(ValueError, match=r"gender\[1\] = 'x'"):
        D.read_3dpw(tmp_path / "bad2.npz")


def test_read_h36m_checks_S(tmp_path):
    np.savez(tmp_path / "h.npz", imgname=np.array(["images/S9_A.1_000001.jpg"]),
             center=np.zeros((1, 2)) + 50, scale=np.ones(1), S=np.zeros((1, 17, 4)))
    with pytest.raises(ValueError, match=r"S has shape \(1, 17, 4\), expected \(N, 24, N\)|S has shape"):
        D.read_h36m(tmp_path / "h.npz")
    assert D.sequence_of("images/S9_Directions_1.60457274_000001.jpg", "h36m") == "S9_Directions_1.60457274"


def _hostile_npz(kind):
    """A dataset archive whose one member lies in its .npy header: it declares 8 TB
    (``huge``) or never closes its header dict (``unclosed``; NumPy's parser then raises
    tokenize.TokenError, not a ValueError)."""
    import io
    import zipfile
    if kind == "huge":
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                                   "shape": (10 ** 12,)})
        member = buf.getvalue() + bytes(16)
    else:
        h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (3,"
        h += b" " * (-(len(h) + 11) % 64) + b"\n"
        member = b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + bytes(12)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("pose.npy", member)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["huge", "unclosed"])
def test_read_3dpw_refuses_a_lying_npy_header_with_a_value_error(tmp_path, kind):
    p = tmp_path / "3dpw_test.npz"
    p.write_bytes(_hostile_npz(kind))
    with pytest.raises(ValueError, match="3dpw_test.npz"):
        D.read_3dpw(p)


@pytest.mark.parametrize("kind", ["huge", "unclosed"])
def test_a_lying_j_regressor_npy_is_a_value_error(tmp_path, kind):
    """The .npy member of _hostile_npz as a J_regressor_h36m.npy file: an 8 TB header over 16
    bytes (np.load alone would try to allocate 7 TiB) or a header dict left open."""
    import io
    import zipfile
    with zipfile.ZipFile(io.BytesIO(_hostile_npz(kind))) as z:
        (tmp_path / "J_regressor_h36m.npy").write_bytes(z.read("pose.npy"))
    with pytest.raises(ValueError, match="not a plain .npy array"):
        Bodies(tmp_path, J_regressor=str(tmp_path / "J_regressor_h36m.npy")).regressor()


def emdb_dict(n=12, gender="female", emdb1=True, seed=0, name="P0_00_test"):
    rng = RNG(seed)
    pose, _ = random_params(rng, n)
    pose[:, :3] = rng.normal(scale=0.3, size=(n, 3))
    ext = np.tile(np.eye(4), (n, 1, 1))
    ext[:, :3, :3] = random_rotations(rng, n)
    ext[:, :3, 3] = rng.normal(size=(n, 3))
    mask = np.ones(n, bool)
    mask[[2, 7]] = False
    return {"gender": gender, "name": name, "emdb1": emdb1, "emdb2": False, "n_frames": n,
            "good_frames_mask": mask,
            "camera": {"intrinsics": np.array([[100.0, 0, 48], [0, 102.0, 64], [0, 0, 1]]),
                       "extrinsics": ext, "width": 96, "height": 128},
            "smpl": {"poses_root": pose[:, :3], "poses_body": pose[:, 3:],
                     "trans": rng.normal(size=(n, 3)), "betas": rng.normal(size=10)},
            "kp2d": np.zeros((n, 24, 2)),
            "bboxes": {"bboxes": np.tile([20.0, 10.0, 70.0, 120.0], (n, 1)),
                       "invalid_idxs": np.array([2, 7])}}


def write_pkl(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)
    return path


def test_read_emdb_plain_pickle_needs_no_new_allowlist_entry(tmp_path):
    p = write_pkl(tmp_path / "P0" / "00_test" / "P0_00_test_data.pkl", emdb_dict())
    d = D.read_emdb(p)
    assert d["extrinsics"].shape == (12, 4, 4) and d["good_frames_mask"].sum() == 10
    assert d["gender"] == "female" and d["emdb1"] is True


def test_read_emdb_names_missing_nested_key_and_shape(tmp_path):
    d = emdb_dict()
    del d["camera"]["intrinsics"]
    with pytest.raises(ValueError, match="camera: missing key 'intrinsics'"):
        D.read_emdb(write_pkl(tmp_path / "a_data.pkl", d))
    d = emdb_dict()
    d["smpl"]["poses_body"] = d["smpl"]["poses_body"][:, :63]
    with pytest.raises(ValueError, match=r"smpl.poses_body has shape \(12, 63\), expected \(12, 69\)"):
        D.read_emdb(write_pkl(tmp_path / "b_data.pkl", d))
    d = emdb_dict()
    del d["good_frames_mask"]
    with pytest.raises(ValueError, match="missing key 'good_frames_mask'"):
        D.read_emdb(write_pkl(tmp_path / "c_data.pkl", d))


def test_read_emdb_refuses_code_in_the_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    d = emdb_dict()
    d["name"] = Evil()
    p = write_pkl(tmp_path / "e_data.pkl", d)
    with pytest.raises(ValueError, match="refusing to load global"):
        D.read_emdb(p)


# ------------------------------------------------------------------------------------------
# protocols, with an oracle predictor (no network): the conventions, exactly

def test_3dpw_gender_ground_truth_and_neutral_prediction(tmp_path, smpl_dir, bodies):
    """The oracle predicts the true pose and shape. Ground truth comes from the male/female
    body, the prediction from the neutral one, so the errors are exactly those between the
    gendered and the neutral body: computed here by hand."""
    p = write_3dpw(tmp_path)
    d = D.read_3dpw(p)
    res = cliff.evaluate("3dpw", p, tmp_path, smpl_dir=smpl_dir, predictor=oracle_3dpw(p),
                         output=tmp_path / "out", progress=False)
    J = jreg(smpl_dir)
    pv = bodies["neutral"](pose=d["pose"], betas=d["shape"])["vertices"].astype(np.float64)
    gv = np.stack([bodies["female" if g else "male"](pose=d["pose"][i:i + 1], betas=d["shape"][i:i + 1])
                   ["vertices"][0] for i, g in enumerate(d["gender"])]).astype(np.float64)
    (_, p14), (_, g14) = lsp14(pv, J), lsp14(gv, J)
    proot, groot = (p14[:, 2] + p14[:, 3]) / 2, (g14[:, 2] + g14[:, 3]) / 2
    pj, gj = p14 - proot[:, None], g14 - groot[:, None]
    expect = {"mpjpe": 1000 * np.linalg.norm(pj - gj, axis=2).mean(1),
              "pa_mpjpe": 1000 * ref_pa_mpjpe(pj, gj),
              "pve": 1000 * np.linalg.norm((pv - proot[:, None]) - (gv - groot[:, None]), axis=2).mean(1)}
    per = json.loads((tmp_path / "out" / "sequences" / "seq_00.json").read_text())["per_frame"]
    for k, v in expect.items():
        np.testing.assert_allclose(per[k], v[:3], rtol=0, atol=1e-6)
        assert res["overall"][k] == pytest.approx(v.mean(), abs=1e-6)
        assert v.min() > 0.1                 # the genders really differ (> 0.1 mm)
    assert res["frames"] == 5 and list(res["sequences"]) == ["seq_00", "seq_01"]


def test_3dpw_errors_vanish_when_the_gender_model_is_the_neutral_one(tmp_path, smpl_dir):
    """Male rows scored against a 'male' model that is the neutral file: exactly 0; female rows
    are not (their model differs)."""
    p = write_3dpw(tmp_path)
    res = cliff.evaluate("3dpw", p, tmp_path, smpl_dir=smpl_dir, predictor=oracle_3dpw(p),
                         models={"male": str(smpl_dir / "SMPL_NEUTRAL.pkl")},
                         output=tmp_path / "o", progress=False)
    per = json.loads((tmp_path / "o" / "sequences" / "seq_00.json").read_text())["per_frame"]
    genders = D.read_3dpw(p)["gender"][:3]
    for k in ("mpjpe", "pa_mpjpe", "pve"):
        v = np.array(per[k])
        assert np.all(v[genders == 0] < 1e-9) and np.all(v[genders == 1] > 0.1)
    assert res["overall"]["mpjpe"] > 0


def write_h36m(tmp_path, bodies, J, shift=np.zeros(3), n=4):
    """h36m_valid_protocol2.npz whose S is the neutral body's regressed joints put in SPIN's
    24-joint order, centred on the Human3.6M pelvis (joint 0), then moved by `shift`."""
    rng = RNG(11)
    pose, betas = random_params(rng, n)
    v = bodies["neutral"](pose=pose, betas=betas)["vertices"].astype(np.float64)
    j17 = np.einsum("jv,nvc->njc", J, v)
    S = np.zeros((n, 24, 4))
    S[:, list(J24_TO_J14), :3] = j17[:, list(H36M_TO_J14)] - j17[:, :1] + shift
    S[:, :, 3] = 1
    names = np.array([f"images/S9_Walk.60457274_{i + 1:06d}.jpg" for i in range(n)])
    p = tmp_path / "h36m_valid_protocol2.npz"
    np.savez(p, imgname=names, center=np.full((n, 2), 50.0), scale=np.full(n, 0.5), S=S)
    return p, pose, betas


@pytest.mark.parametrize("pelvis", ["hips", "h36m"])
def test_h36m_pelvis_conventions(tmp_path, smpl_dir, bodies, pelvis):
    """The oracle body equals the ground truth: 0 with both conventions. Moving the stored
    joints by 20 mm changes nothing when both sets are re-centred on their hips, and adds
    exactly 20 mm when the file's own centring (SPIN's Human3.6M pelvis) is trusted."""
    J = jreg(smpl_dir)
    for shift, expect_h36m in ((np.zeros(3), 0.0), (np.array([0.0, 0.012, 0.016]), 20.0)):
        p, pose, betas = write_h36m(tmp_path, bodies, J, shift)
        oracle = lambda items: [{"pose": pose[it.row], "betas": betas[it.row]} for it in items]  # noqa: E731
        res = cliff.evaluate("h36m", p, tmp_path, smpl_dir=smpl_dir, predictor=oracle,
                             pelvis=pelvis, progress=False)
        expect = 0.0 if pelvis == "hips" else expect_h36m
        assert res["overall"]["mpjpe"] == pytest.approx(expect, abs=1e-3)
        assert res["overall"]["pa_mpjpe"] == pytest.approx(0.0, abs=1e-3)


def test_emdb_camera_frame_good_frames_gender_and_jitter(tmp_path, smpl_dir, bodies):
    """EMDB: ground truth posed in the world with the sequence's gender, moved into the camera
    by the extrinsics; the oracle predicts the camera-frame root rotation E_R R_root and the
    true body pose with the neutral model. With the female model being the neutral file the
    errors vanish; only good frames count; jitter is EMDB's on the predicted joints without
    translation (10 m/s^3)."""
    root = tmp_path / "emdb"
    d = emdb_dict(gender="female")
    write_pkl(root / "P0" / "00_test" / "P0_00_test_data.pkl", d)
    write_pkl(root / "P1" / "01_other" / "P1_01_other_data.pkl",
              emdb_dict(emdb1=False, name="P1_01_other", seed=3))
    R_root = cliff.axis_angle_to_rotmat(d["smpl"]["poses_root"])
    R_cam = d["camera"]["extrinsics"][:, :3, :3] @ R_root

    def oracle(items):
        out = []
        for it in items:
            rot = cliff.axis_angle_to_rotmat(d["smpl"]["poses_body"][it.row].reshape(23, 3))
            out.append({"rotmat": np.concatenate([R_cam[it.row][None], rot]), "betas": d["smpl"]["betas"]})
        return out

    res = cliff.evaluate("emdb", root, smpl_dir=smpl_dir, predictor=oracle, progress=False,
                         models={"female": str(smpl_dir / "SMPL_NEUTRAL.pkl")})
    assert list(res["sequences"]) == ["P0_00_test"] and res["frames"] == 10
    for k in ("mpjpe", "pa_mpjpe", "mve"):
        assert res["overall"][k] == pytest.approx(0.0, abs=1e-3)
    good = np.flatnonzero(d["good_frames_mask"])
    rot = np.concatenate([R_cam[good][:, None], cliff.axis_angle_to_rotmat(
        d["smpl"]["poses_body"][good].reshape(-1, 23, 3))], axis=1)
    pj = bodies["neutral"](rotmat=rot, betas=np.tile(d["smpl"]["betas"], (len(good), 1)))["joints"][:, :24]
    assert res["overall"]["jitter"] == pytest.approx(M.jitter(pj.astype(np.float64)) / 10, rel=1e-6)
    # with the real female stand-in the same oracle is off by the gender difference
    res_f = cliff.evaluate("emdb", root, smpl_dir=smpl_dir, predictor=oracle, progress=False)
    assert res_f["overall"]["mpjpe"] > 1.0
    # subset="all" adds the non-EMDB-1 sequence
    res_all = cliff.evaluate("emdb", root, smpl_dir=smpl_dir, predictor=oracle, progress=False,
                             subset="all", limit=12)
    assert list(res_all["sequences"]) == ["P0_00_test", "P1_01_other"] and res_all["frames"] == 12


def write_3dpw_sequences(tmp_path, data_path, smpl_dir):
    """3DPW sequenceFiles/test/<seq>.pkl for write_3dpw's data: one person per frame whose
    poses equal the npz rows, world joints, extrinsics and intrinsics."""
    d = D.read_3dpw(data_path)
    out = tmp_path / "sequenceFiles" / "test"
    rng = RNG(5)
    for seq in ("seq_00", "seq_01"):
        rows = [i for i, n in enumerate(d["imgname"]) if f"/{seq}/" in n]
        F = len(rows)
        cam = np.tile(np.eye(4), (F, 1, 1))
        cam[:, :3, 3] = [0.1, 0.2, 4.0]
        joints = rng.normal(scale=0.4, size=(F, 72))
        write_pkl(out / f"{seq}.pkl", {
            "sequence": seq, "cam_intrinsics": np.array([[90.0, 0, 47], [0, 94.0, 63], [0, 0, 1]]),
            "cam_poses": cam, "poses": [d["pose"][rows]], "jointPositions": [joints],
            "campose_valid": [np.ones(F, bool)], "genders": ["m"], "betas": [d["shape"][rows[0]]]})
    return out


def test_3dpw_sequence_files_give_intrinsics_and_keypoint_boxes(tmp_path, smpl_dir):
    from cliff.evaluate.protocols import PW3D, Bodies, Options

    p = write_3dpw(tmp_path)
    seqdir = write_3dpw_sequences(tmp_path, p, smpl_dir)
    b = PW3D(p, tmp_path, Bodies(smpl_dir), Options(boxes="keypoints"), sequences=seqdir)
    items = list(b.items("seq_01", 2))
    sf = D.read_3dpw_sequence(seqdir / "seq_01.pkl")
    X = sf["jointPositions"][0][1].reshape(24, 3) + [0.1, 0.2, 4.0]
    u, v = 90.0 * X[:, 0] / X[:, 2] + 47, 94.0 * X[:, 1] / X[:, 2] + 63
    np.testing.assert_allclose(items[1].xyxy, [u.min(), v.min(), u.max(), v.max()], atol=1e-12)
    assert items[1].K == (90.0, 94.0, 47.0, 63.0) and b.rescale == 1.2
    # without sequence files: the file's center/scale, CLIFF's default camera, a crop 200*scale high
    b2 = PW3D(p, tmp_path, Bodies(smpl_dir), Options())
    it = next(iter(b2.items("seq_00", 1)))
    assert it.K is None and it.focal is None and b2.rescale == 1.0
    c = cliff.crop(np.zeros((128, 96, 3), np.uint8), it.xyxy, rescale=1.0)
    d = D.read_3dpw(p)
    np.testing.assert_allclose(c["scale"][0], d["scale"][0], rtol=1e-12)
    np.testing.assert_allclose(c["center"][0], d["center"][0], atol=1e-9)
    with pytest.raises(ValueError, match="sequence files"):
        PW3D(p, tmp_path, Bodies(smpl_dir), Options(boxes="keypoints"))


# ------------------------------------------------------------------------------------------
# end to end with stand-in weights: the CLI, resumability, half resolution

@pytest.fixture(scope="module")
def res50_ckpt(standin_res50):
    return standin_res50[0]


def by_hand_3dpw(est, bodies, J, d, rows, root, half=False):
    """What the protocol should give for `rows`, from the pipeline's own pieces."""
    from PIL import Image
    out = []
    for i in rows:
        img = cliff.read_image(root / d["imgname"][i])
        h = 100.0 * d["scale"][i]
        cx, cy = d["center"][i]
        box = np.array([[cx - 0.75 * h, cy - h, cx + 0.75 * h, cy + h]])
        if half:
            img, box = np.asarray(Image.fromarray(img).reduce(2)), box / 2
        r = est.run(img, xyxy=box)
        pv = bodies["neutral"](rotmat=r["rotmat"], betas=r["betas"])["vertices"].astype(np.float64)
        gender = "female" if d["gender"][i] else "male"
        gv = bodies[gender](pose=d["pose"][i:i + 1], betas=d["shape"][i:i + 1])["vertices"].astype(np.float64)
        (_, p14), (_, g14) = lsp14(pv, J), lsp14(gv, J)
        pj = p14 - (p14[:, 2:3] + p14[:, 3:4]) / 2
        gj = g14 - (g14[:, 2:3] + g14[:, 3:4]) / 2
        out.append(1000 * np.linalg.norm(pj - gj, axis=2).mean())
    return np.array(out)


def test_cli_end_to_end_resumable(tmp_path, smpl_dir, bodies, res50_ckpt, capsys):
    from cliff.cli import main

    p = write_3dpw(tmp_path)
    out = tmp_path / "eval"
    argv = ["evaluate", "3dpw", "--data", str(p), "--images", str(tmp_path), "--ckpt", res50_ckpt,
            "--smpl-dir", str(smpl_dir), "-o", str(out), "--limit", "4", "--quiet", "--threads", "2"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "| Model | PA-MPJPE ↓ | MPJPE ↓ | PVE ↓ | frames |" in table
    res = json.loads((out / "results.json").read_text())
    assert res["frames"] == 4 and set(res["sequences"]) == {"seq_00", "seq_01"}
    assert res["sequences"]["seq_01"]["frames"] == 1                # --limit 4 cuts the second
    assert (out / "results.md").read_text().startswith("## 3DPW (test)")
    est = cliff.Estimator(res50_ckpt, bodies["neutral"], rescale=1.0)
    d = D.read_3dpw(p)
    expect = by_hand_3dpw(est, bodies, jreg(smpl_dir), d, range(4), tmp_path)
    assert res["overall"]["mpjpe"] == pytest.approx(expect.mean(), abs=1e-3)
    # a second run reuses the per-sequence files (not rewritten) and gives the same table
    seq_file = out / "sequences" / "seq_00.json"
    before = seq_file.stat().st_mtime_ns
    os.utime(seq_file, ns=(before - 10**9, before - 10**9))
    assert main(argv) == 0
    assert seq_file.stat().st_mtime_ns == before - 10**9
    assert json.loads((out / "results.json").read_text())["overall"] == res["overall"]
    # another option is another configuration: that sequence is run again
    assert main(argv + ["--pelvis", "h36m"]) == 0
    assert seq_file.stat().st_mtime_ns != before - 10**9


def test_half_resolution_matches_a_halved_image_by_hand(tmp_path, smpl_dir, bodies, res50_ckpt):
    p = write_3dpw(tmp_path, n_per_seq=(2,))
    res = cliff.evaluate("3dpw", p, tmp_path, res50_ckpt, smpl_dir, half_res=True, progress=False)
    est = cliff.Estimator(res50_ckpt, bodies["neutral"], rescale=1.0)
    expect = by_hand_3dpw(est, bodies, jreg(smpl_dir), D.read_3dpw(p), range(2), tmp_path, half=True)
    assert res["overall"]["mpjpe"] == pytest.approx(expect.mean(), abs=1e-3)


def test_cli_reports_a_malformed_file_and_missing_models(tmp_path, smpl_dir, res50_ckpt, capsys):
    from cliff.cli import main

    p = write_3dpw(tmp_path)
    z = dict(np.load(p))
    del z["gender"]
    np.savez(tmp_path / "bad.npz", **z)
    base = ["evaluate", "3dpw", "--images", str(tmp_path), "--ckpt", res50_ckpt, "--quiet"]
    assert main(base + ["--data", str(tmp_path / "bad.npz"), "--smpl-dir", str(smpl_dir)]) == 2
    assert "missing key 'gender'" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(base + ["--data", str(p), "--smpl-dir", str(empty)]) == 2
    assert "SMPL_NEUTRAL.pkl" in capsys.readouterr().err
