"""Issue 17: the population pose prior (SMPLify's max-mixture GMM, gmm_08.pkl's layout): the
reader, the fitter's term against a NumPy/SciPy recomputation, its Jacobian against finite
differences, what it does where the keypoints cannot decide, and bad files."""
import os
import pickle

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cliff.annotate import annotator as A
from cliff.annotate import fit as F
from cliff.annotate import losses as L
from cliff.annotate.keypoints import COCO17_TO_SMPLX
from cliff.io import PosePrior, load_pose_prior, save_pose_prior
from cliff.io.pose_prior import gaussian_prior
from reference import scenes as S


def _random_prior(seed=0, G=3):
    rng = np.random.default_rng(seed)
    A_ = rng.normal(size=(G, 69, 69)) * 0.05
    cov = A_ @ A_.transpose(0, 2, 1) + 0.02 * np.eye(69)
    w = rng.uniform(0.2, 1.0, G)
    return PosePrior(rng.normal(size=(G, 69)) * 0.3, cov, w / w.sum())


def _reference_cost(prior, R, w_gmm):
    """w_gmm * min_k [(a - mu_k)^T Sigma_k^-1 (a - mu_k) + log det Sigma_k - 2 log w_k], a the
    SciPy axis-angle vectors of joints 1..23: twice SMPLify's per-component negative log
    likelihood up to the shared (2 pi)^(69/2) constant."""
    out = []
    for Ri in R:
        a = Rotation.from_matrix(Ri[1:]).as_rotvec().reshape(69)
        q = [(a - m) @ np.linalg.inv(c) @ (a - m) + np.linalg.slogdet(c)[1] - 2 * np.log(w)
             for m, c, w in zip(prior.means, prior.covars, prior.weights)]
        out.append(w_gmm * min(q))
    return np.array(out)


def _gmm08_dict(prior):
    return {"means": prior.means, "covars": prior.covars, "weights": prior.weights}


def test_reader_reads_gmm08_layout_python2_pickle(tmp_path):
    # save_pose_prior writes the Python-2 layout (protocol 2, numpy.core names, raw byte
    # states); the stdlib reads it back with encoding='latin1' as SPIN/SMPLify-X do, and our
    # restricted reader gives the same arrays.
    pr = _random_prior()
    p = tmp_path / "gmm_08.pkl"
    save_pose_prior(p, pr)
    assert p.read_bytes()[:2] == b"\x80\x02"
    with open(p, "rb") as f:
        ref = pickle.load(f, encoding="latin1")
    got = load_pose_prior(p)
    for k in ("means", "covars", "weights"):
        np.testing.assert_array_equal(ref[k], getattr(pr, k))
        np.testing.assert_array_equal(getattr(got, k), ref[k])


def test_reader_reads_protocol2_pickle_of_python3_numpy(tmp_path):
    # the same dict pickled by Python 3's pickle at protocol 2 (array bytes as
    # _codecs.encode(..., 'latin1')), float32 arrays: read and widened to float64
    pr = _random_prior(1)
    p = tmp_path / "gmm.pkl"
    p.write_bytes(pickle.dumps({k: v.astype(np.float32) for k, v in _gmm08_dict(pr).items()},
                               protocol=2))
    got = load_pose_prior(p)
    assert got.means.dtype == np.float64 and got.num_components == 3
    np.testing.assert_array_equal(got.covars, pr.covars.astype(np.float32))


def test_c_term_equals_numpy_max_mixture_cost():
    pr = _random_prior(2)
    rng = np.random.default_rng(3)
    R0 = Rotation.from_rotvec(rng.normal(size=(4 * 24, 3)) * 0.6).as_matrix().reshape(4, 24, 3, 3)
    phi = rng.normal(size=(4, 24, 3)) * 0.3
    R = R0 @ Rotation.from_rotvec(phi.reshape(-1, 3)).as_matrix().reshape(4, 24, 3, 3)
    cost, _ = F.pose_prior_cost(pr, R0, phi, w_gmm=2.5)
    np.testing.assert_allclose(cost, _reference_cost(pr, R, 2.5), rtol=1e-9)


def test_gradient_matches_finite_differences():
    # the fitter's Jacobian of a_j = Log(R0_j Exp(phi_j)) is J_r(a_j)^-1 J_r(phi_j); away from a
    # switch of the best component the cost is smooth, so central differences agree to ~1e-6
    pr = _random_prior(4)
    rng = np.random.default_rng(5)
    R0 = Rotation.from_rotvec(rng.normal(size=(24, 3)) * 0.8).as_matrix()[None]
    phi = rng.normal(size=(1, 24, 3)) * 0.4
    _, grad = F.pose_prior_cost(pr, R0, phi, w_gmm=1.5)
    fd = np.zeros(72)
    eps = 1e-6
    for i in range(72):
        d = np.zeros(72)
        d[i] = eps
        up = F.pose_prior_cost(pr, R0, phi + d.reshape(1, 24, 3), w_gmm=1.5)[0][0]
        dn = F.pose_prior_cost(pr, R0, phi - d.reshape(1, 24, 3), w_gmm=1.5)[0][0]
        fd[i] = (up - dn) / (2 * eps)
    assert np.abs(grad[0, 0]).max() == 0.0  # the root is not in the prior
    np.testing.assert_allclose(grad.reshape(72), fd, atol=1e-5 * np.abs(fd).max())


def test_objective_counts_the_prior(body, fb):
    # evaluate's prior_cost with every start-centred weight 0 is exactly the prior's term
    sc = S.make_scene(body, 3, seed=4)
    pr = _random_prior(6)
    args = (fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
            COCO17_TO_SMPLX, sc["focal"], np.array(sc["img_size"]) / 2, 300.0,
            sc["rotmat"], sc["betas"], sc["transl"])
    zero = dict(w_root=0.0, w_pose=0.0, w_betas_init=0.0, w_shape=0.0, w_depth=0.0)
    ev = F.evaluate(*args, pose_prior=pr, w_gmm=0.7, **zero)
    np.testing.assert_allclose(ev["prior_cost"], _reference_cost(pr, sc["rotmat"], 0.7),
                               rtol=1e-9)
    without = F.evaluate(*args, **zero)
    np.testing.assert_allclose(ev["data_cost"], without["data_cost"], rtol=1e-12)


def test_prior_decides_what_the_keypoints_cannot_see(body, fb):
    # Constructed: exact keypoints of the truth, the start is the truth with the left wrist
    # (joint 20) turned by 45 deg. No COCO keypoint moves with the wrist's own rotation, so the
    # keypoint term is flat in it: the start-centred priors keep the 45 deg (kept estimate or
    # fit, either way). A population prior whose mode is the truth's body pose (std 0.2 rad,
    # precision 25, w_gmm 1) pulls the wrist to the product of the two Gaussians in that rotation:
    # 45 deg * w_pose / (w_pose + 25) = 45 * 10 / 35 = 12.9 deg from the truth; the guard accepts
    # the fit because the keypoint + population terms are lower than at the estimate.
    sc = S.make_scene(body, 1, seed=2, pixel_noise=0, occlusion=0, rot_noise_deg=0,
                      root_noise_deg=0, beta_noise=0, transl_noise=0)
    R0 = sc["rotmat"].copy()
    R0[0, 20] = R0[0, 20] @ S.rodrigues(np.array([0.0, 0.0, np.deg2rad(45)]))
    mode = Rotation.from_matrix(sc["rotmat"][0, 1:]).as_rotvec().reshape(69)
    pr = gaussian_prior(0.2, mode)
    args = (fb, R0, sc["betas"], sc["transl"], sc["keypoints"], sc["boxes"], sc["img_size"],
            sc["focal"])
    wrist = lambda r: L.rotation_angle_deg(r["rotmat"][:, 20], sc["rotmat"][:, 20])[0]  # noqa: E731
    plain = A.refine(*args)
    assert wrist(plain) > 40.0
    new = A.refine(*args, pose_prior=pr, w_gmm=1.0)
    assert wrist(new) == pytest.approx(45 * 10 / 35, abs=0.5)
    assert new["start"][0] != -1 and new["err_final"][0] < 1.0
    assert new["pose_prior_cost"][0] < F.pose_prior_cost(pr, R0)[0][0]


def test_path_and_object_give_the_same_fit(tmp_path, body, fb):
    sc = S.make_scene(body, 2, seed=7)
    pr = _random_prior(8, G=2)
    p = tmp_path / "gmm.pkl"
    save_pose_prior(p, pr)
    args = (fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
            COCO17_TO_SMPLX, sc["focal"], np.array(sc["img_size"]) / 2, 300.0)
    a = F.fit_people(*args, pose_prior=pr, w_gmm=0.5)
    b = F.fit_people(*args, pose_prior=str(p), w_gmm=0.5)
    np.testing.assert_array_equal(a["rotmat"], b["rotmat"])
    c = F.fit_people(*args)
    assert np.abs(a["rotmat"] - c["rotmat"]).max() > 1e-6  # the prior changed the fit


def _write(tmp_path, obj, name="bad.pkl"):
    p = tmp_path / name
    p.write_bytes(pickle.dumps(obj, protocol=2))
    return p


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.pop("covars"), "missing key 'covars'"),
    (lambda d: d.update(means=d["means"][:, :60]), r"means: expected shape \(G, 69\)"),
    (lambda d: d.update(covars=d["covars"][:2]), r"covars: expected shape \(3, 69, 69\)"),
    (lambda d: d.update(weights=np.array([0.5, 0.5, 0.0])), "weights: expected positive"),
    (lambda d: d["means"].__setitem__((1, 4), np.nan), "means: contains NaN"),
    (lambda d: d.update(covars=d["covars"] - 2 * np.eye(69)), r"covars\[0\]: not positive definite"),
    (lambda d: d["covars"].__setitem__((0, 0, 1), 5.0), "covars: expected symmetric"),
    (lambda d: d.update(weights="abc"), "'weights' is a str"),
])
def test_bad_prior_files_raise_value_errors(tmp_path, mutate, match):
    d = {k: v.copy() for k, v in _gmm08_dict(_random_prior(9)).items()}
    mutate(d)
    with pytest.raises(ValueError, match=match):
        load_pose_prior(_write(tmp_path, d))


def test_non_prior_files_raise_value_errors(tmp_path):
    with pytest.raises(ValueError, match="holds a list"):
        load_pose_prior(_write(tmp_path, [1, 2]))
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_pose_prior(tmp_path / "empty.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="not a readable pickle"):
        load_pose_prior(tmp_path / "junk.pkl")
    with pytest.raises(ValueError, match="refusing to load global .posix.system."):
        load_pose_prior(_write(tmp_path, {"means": os.system}))
    with pytest.raises(TypeError, match="path"):
        load_pose_prior(3)
    with pytest.raises(TypeError, match="pose_prior"):
        F.pose_prior_cost(3, np.tile(np.eye(3), (1, 24, 1, 1)))


def test_core_rejects_a_bad_weight(fb):
    with pytest.raises(ValueError, match="w_gmm"):
        F.pose_prior_cost(_random_prior(), np.tile(np.eye(3), (1, 24, 1, 1)), w_gmm=-1.0)
