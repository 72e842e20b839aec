"""cliff.annotate.finetune: the paper's step 3 (fine-tuning the collapsed regressor on 2D keypoints)."""
import numpy as np
import pytest

from cliff.annotate import annotator as A
from cliff.annotate import finetune as FT
from reference import scenes as S
from cliff.camera import bbox_info, rot6d_to_rotmat
from cliff.annotate.fit import FitBody
from cliff.annotate.keypoints import COCO17_TO_SMPLX


@pytest.fixture(scope="module")
def world():
    """A small synthetic regressor world: released-style regressor mapping features exactly to
    perturbed estimates of known people (FT.synthetic_world)."""
    from cliff._standin import smpl_arrays
    body = smpl_arrays(0)
    n = 24
    sc = S.make_scene(body, n, seed=3, rot_noise_deg=8, root_noise_deg=15)
    W, H = sc["img_size"]
    f = sc["focal"]
    center, scale = A.center_scale(sc["boxes"])
    b = 200 * scale
    fv, pp = np.full(n, f), np.tile([W / 2, H / 2], (n, 1))
    T = FT.smpl_to_states(sc["rotmat"], sc["betas"], FT.cam_from_translation(sc["transl"], center, b, fv, pp))
    S0 = FT.smpl_to_states(sc["init_rotmat"], sc["init_betas"],
                           FT.cam_from_translation(sc["init_transl"], center, b, fv, pp))
    reg, F = FT.synthetic_world(T, S0, seed=1)
    return dict(body=body, fb=FitBody.from_smpl(body), sc=sc, reg=reg, F=F, T=T, S0=S0,
                bi=bbox_info(center, b, (W, H), f), center=center, b=b, f=f, W=W, H=H)


def _ft(w, **kw):
    return FT.Finetuner(w["reg"], w["fb"], w["F"], w["bi"], w["sc"]["keypoints"], COCO17_TO_SMPLX,
                        w["center"], w["b"], w["f"], (w["W"], w["H"]), **kw)


# ---- the collapsed regressor and its gradients -------------------------------------------

def test_rot6d_matches_official_and_its_jacobian_matches_central_differences():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 6))
    R, D = FT.rot6d(x)
    assert np.abs(R - rot6d_to_rotmat(x)).max() < 1e-12
    h = 1e-6
    for k in range(6):
        dx = np.zeros(6)
        dx[k] = h
        dR = (FT.rot6d(x + dx)[0] - FT.rot6d(x - dx)[0]) / (2 * h)
        Wm = np.swapaxes(R, -1, -2) @ dR  # right perturbation: dR = R [w]_x
        w = np.stack([Wm[:, 2, 1], Wm[:, 0, 2], Wm[:, 1, 0]], -1)
        assert np.abs(w - D[..., k]).max() < 1e-8


def test_world_regressor_reproduces_the_estimates(world):
    # by construction the released-style map gives the perturbed estimates exactly
    assert np.abs(world["reg"].run(world["F"], world["bi"]) - world["S0"]).max() < 1e-10


@pytest.mark.parametrize("loss", ["full", "crop"])
def test_gradient_matches_finite_differences(world, loss):
    ft = _ft(world, rank=4, loss=loss)
    rng = np.random.default_rng(1)
    p = {k: rng.normal(size=v.shape) * 1e-3 for k, v in ft.zero_params().items()}
    _, g = ft.objective(p)
    h = 1e-6
    for k in p:
        for _ in range(4):
            idx = tuple(int(rng.integers(0, s)) for s in p[k].shape)
            q = {kk: vv.copy() for kk, vv in p.items()}
            q[k][idx] += h
            vp = ft.objective(q, grad=False)[0]
            q[k][idx] -= 2 * h
            vm = ft.objective(q, grad=False)[0]
            fd = (vp - vm) / (2 * h)
            assert abs(g[k][idx] - fd) <= 1e-5 * max(1.0, abs(fd)), (k, idx, g[k][idx], fd)


def test_collapsed_map_reproduces_model_predict(tmp_path):
    from cliff._standin import random_state_dict
    from cliff.io import save_checkpoint
    from cliff.model import load_model
    path = tmp_path / "res50.pt"
    save_checkpoint(path, random_state_dict("res50", 0))
    reg = FT.Regressor.from_checkpoint(path)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, size=(3, 256, 192, 3), dtype=np.uint8)
    boxes = np.array([[500.0, 400, 300], [1200, 600, 500], [900, 300, 200]])
    with load_model(path) as m:
        out = m.predict(crops, boxes, (1920, 1080))
    s = reg.run(out["features"], out["bbox_info"])
    R, betas, cam = FT.states_to_smpl(s)
    assert np.abs(R - out["rotmat"]).max() <= 1e-5
    assert np.abs(betas - out["betas"]).max() <= 1e-5
    assert np.abs(cam - out["cam_crop"]).max() <= 1e-5


def test_core_collapsed_regressor_equals_the_numpy_formula():
    # the core's float64 collapse (cliff_regressor_collapse, and the one a loaded Model holds)
    # against M = Wdec W2 W1, c = Wdec (W2 b1 + b2) + bdec in NumPy (tests/reference): equal up
    # to float64 rounding of sums over 1024 and 2208 terms
    from cliff._standin import random_state_dict
    from cliff.model import Model
    from reference.collapsed_regressor import collapse
    sd = random_state_dict("res50", 2)
    ref = collapse(sd)
    with Model.from_state_dict(sd) as m:
        from_model = FT.Regressor.from_model(m)
        assert FT.load_regressor(m).Mx.shape == (157, 2051)
    for reg in (FT.Regressor.from_state_dict(sd), from_model,
                FT.Regressor.from_state_dict({"module." + k: v for k, v in sd.items()})):
        for k in ("Mx", "Ms", "c"):
            got = getattr(reg, k)
            assert got.shape == ref[k].shape and got.dtype == np.float64
            assert np.abs(got - ref[k]).max() <= 1e-12 * max(1.0, np.abs(ref[k]).max()), k
        np.testing.assert_array_equal(reg.init, ref["init"])  # copied, not computed


def test_regressor_from_a_closed_model_or_a_bad_entry_raises():
    from cliff._standin import random_state_dict
    from cliff.model import Model
    sd = random_state_dict("res50", 2)
    m = Model.from_state_dict(sd)
    m.close()
    with pytest.raises(ValueError, match="closed"):
        FT.Regressor.from_model(m)
    bad = {k: v for k, v in sd.items() if not k.startswith("encoder.")}
    bad["fc2.weight"] = bad["fc2.weight"][:, :10]
    with pytest.raises(ValueError, match=r"fc2\.weight.*\(1024, 1024\)"):
        FT.Regressor.from_state_dict(bad)

# ---- fine-tuning -------------------------------------------------------------------------

def test_finetuning_reduces_the_loss_and_the_reprojection_error(world):
    w = world
    r = FT.finetune(w["reg"], w["fb"], w["F"], w["bi"], w["sc"]["keypoints"], COCO17_TO_SMPLX,
                    w["center"], w["b"], w["f"], (w["W"], w["H"]), epochs=8, batch_size=8, rank=8)
    assert r.history[-1] < 0.8 * r.history[0]
    n = len(w["F"])
    fv, pp = np.full(n, w["f"]), np.tile([w["W"] / 2, w["H"] / 2], (n, 1))

    def err(reg):
        R, be, cam = FT.states_to_smpl(reg.run(w["F"], w["bi"]))
        t, _ = FT.camera_translation(cam, w["center"], w["b"], fv, pp)
        return np.median(A._reproj_err(w["fb"], R, be, t, w["sc"]["keypoints"], w["f"], pp[0]))
    assert err(r.regressor) < 0.8 * err(w["reg"])


def test_annotate_finetune_mode_end_to_end(world):
    w, sc = world, world["sc"]
    n = len(sc["keypoints"])
    groups = [np.arange(0, n // 2), np.arange(n // 2, n)]
    fv, pp = np.full(n, w["f"]), np.tile([w["W"] / 2, w["H"] / 2], (n, 1))

    def predictor(img, boxes, focal):  # the world's "network" on the cached features
        i = next(g for g in groups if np.allclose(sc["boxes"][g], boxes))
        R, be, cam = FT.states_to_smpl(w["reg"].run(w["F"][i], w["bi"][i]))
        t, _ = FT.camera_translation(cam, w["center"][i], w["b"][i], fv[i], pp[i])
        return {"rotmat": R, "betas": be, "t_full": t, "features": w["F"][i], "bbox_info": w["bi"][i]}
    img = np.zeros((w["H"], w["W"], 3), np.uint8)
    kw = dict(boxes=[sc["boxes"][g] for g in groups], predictor=predictor, progress=False)
    kps = [sc["keypoints"][g] for g in groups]
    res = A.annotate([img, img], kps, smpl=w["body"], refine="finetune", regressor=w["reg"],
                     finetune_options={"epochs": 6, "batch_size": 8, "rank": 8}, **kw)
    assert len(res["pose"]) == n and not res["skipped"]
    assert (res["fit_iters"] == 0).all()
    assert np.median(res["fit_err"]) < np.median(res["fit_err_init"])
    res2 = A.annotate([img, img], kps, smpl=w["body"], refine="finetune+fit", regressor=w["reg"],
                      finetune_options={"epochs": 2, "batch_size": 8}, **kw)
    assert np.median(res2["fit_err"]) < np.median(res["fit_err"])
    with pytest.raises(ValueError, match="refine"):
        A.annotate([img], kps[:1], smpl=w["body"], refine="eft", **kw | {"boxes": kw["boxes"][:1]})
    with pytest.raises(ValueError, match="regressor"):
        A.annotate([img], kps[:1], smpl=w["body"], refine="finetune", **kw | {"boxes": kw["boxes"][:1]})


# ---- bad input and the command line ------------------------------------------------------

def test_bad_input(world):
    w = world
    with pytest.raises(ValueError, match="features"):
        _ft(w | {"F": w["F"][:, :100]})
    kp = w["sc"]["keypoints"].copy()
    kp[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="keypoints"):
        FT.Finetuner(w["reg"], w["fb"], w["F"], w["bi"], kp, COCO17_TO_SMPLX, w["center"], w["b"],
                     w["f"], (w["W"], w["H"]))
    with pytest.raises(ValueError, match="loss"):
        _ft(w, loss="weak")
    with pytest.raises(TypeError, match="regressor"):
        FT.load_regressor(3)
    with pytest.raises(ValueError, match="fc1.weight"):
        FT.Regressor.from_state_dict({})
    with pytest.raises(ValueError, match="epochs"):
        FT.finetune(w["reg"], w["fb"], w["F"], w["bi"], w["sc"]["keypoints"], COCO17_TO_SMPLX,
                    w["center"], w["b"], w["f"], (w["W"], w["H"]), epochs=-1)


def test_cli_refine_finetune_with_a_real_network(world, tmp_path):
    # step 1 with random official-layout Res50 weights (estimates meaningless, features real),
    # the regressor rebuilt from the same checkpoint file: the CLI path must run and stay finite
    cv2 = pytest.importorskip("cv2")
    import argparse
    from cliff.cli import annotate as cli_annotate
    from cliff._standin import random_state_dict
    from cliff.io import save_checkpoint, save_smpl_npz
    sc = world["sc"]
    ck = tmp_path / "res50.pt"
    save_checkpoint(ck, random_state_dict("res50", 0))
    smpl = tmp_path / "smpl.npz"
    save_smpl_npz(str(smpl), world["body"])
    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs" / "a.png"), np.zeros((world["H"], world["W"], 3), np.uint8))
    kpath = tmp_path / "kp.npz"
    np.savez(kpath, imgname=np.array(["a.png"] * 3), keypoints=sc["keypoints"][:3], boxes=sc["boxes"][:3])
    parser = argparse.ArgumentParser()
    cli_annotate.add_parser(parser.add_subparsers(dest="cmd"))
    out = tmp_path / "pgt.npz"
    args = parser.parse_args(["annotate", "--images", str(tmp_path / "imgs"), "--keypoints", str(kpath),
                              "--ckpt", str(ck), "--smpl", str(smpl), "-o", str(out), "--no-progress",
                              "--refine", "finetune+fit", "--finetune-epochs", "2"])
    assert cli_annotate.run(args) == 0
    z = np.load(out)
    assert z["pose"].shape[1:] == (72,) and 1 <= len(z["pose"]) <= 3
    for k in z.files:
        if z[k].dtype.kind == "f":
            assert np.isfinite(z[k]).all(), k
    args.finetune_epochs = -1
    with pytest.raises(ValueError, match="--finetune-epochs"):
        cli_annotate.run(args)
