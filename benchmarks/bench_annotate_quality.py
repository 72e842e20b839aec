"""Issue 17: does the annotator make anyone worse, do its quality numbers rank people by their
true error, and how fast is it on 1 and 2 threads.

    PYTHONPATH=. python benchmarks/bench_annotate_quality.py [--people 400] [--seed 2026]
        [--peer-people 200] [--e2e-people 16] [--rounds 3] [--no-peer] [--no-e2e]
        [--no-speed | --speed-only] [--pose-prior [--w-gmm 0.25,0.5,1]]
        [--seeds 2027-2036]

Seeds: the guard and the confidence's weights were developed on seed 3 (DEV_SEED); the
reported numbers use seed 2026 (REPORT_SEED, the default), which was never used to tune.

Data: tests/reference/scenes.py make_scene with the cliff._standin body (as bench_annotate.py)
but its own seed; people anywhere in a 1920x1080 image (95 % of the half-image), COCO-17
keypoints with 2 px noise, 15 % hidden, 5 % gross outliers. Starting estimates at two
severities of regressor-like error: "moderate" (8 deg per body joint, 15 deg root, 0.5 per
beta, 5 % translation) and "poor" (15 deg, 30 deg, 1.0, 10 %).

"before" is the fit as it was (root prior w_root = 1, no depth prior, one start, no acceptance
test), "after" the default (w_root = 30, depth prior, re-starts and acceptance test:
cliff.annotate.guard), and "after +
tilt hypotheses" the opt-in tilted-root starts tried for everyone. A second table counts why
each worse person got worse (root moved off a good start, a wrong-root basin, limbs, depth,
outliers among the keypoints, still far from them; whether the fit's own objective is lower
at the result than at the truth, and whether the keypoints alone prefer the truth). "Worse" compares
each person's result with its own starting estimate against the ground truth. A person's
keypoints "can be fitted" when the true body itself projects within 20 px of them
(confidence-weighted mean; the outliers can make even the truth miss them); under each table,
the fittable people left above 20 px with their truth's own error next to the result's (round
6: most sit at the definition's edge, the truth itself at 18-20 px). Round 15 adds the count
that separates a local minimum from an outlier's own distance: results > 20 px from the
genuine keypoints (the same mean without the keypoints the scene moved as gross outliers,
which the true body meets within its 2 px noise; missed()).

--pose-prior --upright-deg S[,S...] [--w-up W[,W...]] (issue 17, round 4): the same table with
rows adding the upright root prior (fit option upright_deg, w_up) to the matching pose prior at
the last --w-gmm, and the world's own upright spread (std of the true u_x, u_z); one sigma and
one w_up add a deliberately wrong sigma (3x narrower).

--pose-prior (issue 17, round 3): only the population pose prior table: the default fit
without and with the world's own pose distribution as the prior (world_prior(): make_scene's
per-joint Gaussian, exact), for each --w-gmm; with one --w-gmm value also two deliberately
wrong priors (covariance 3x narrower; means shifted by one std). w_gmm was chosen on the
development seed (--seed 3 --w-gmm 0.1,0.25,0.5,1,2), then run once on the report seed
with --w-gmm 0.25.

--seeds A-B (issue 17, round 8): only the pooled harm table over the scene seeds A..B (400
people each per severity by default), for the default guard and with both opt-in priors (the
matching pose prior, w_gmm 0.25, and the upright prior, sigma 5 deg, w_up 0.35), without and with
the guard's root-hold rule (root_hold; on by default with the upright prior): the share made
worse with its 95 % binomial interval, its range over the seeds, the fittable people left above
20 px (and how many of them are farther than their truth by > 5 px), the people left above
20 px from their genuine keypoints (round 15), and the mean errors. Seeds
2027-2036 were the first never-used pool and are now the development seeds; each later pool of
ten (2037-2126 so far) was measured once (docs/annotate.md). One report seed's share moves by
+-1-2 points with the scenes' draw, the pooled one by about +-0.5.
With --without-torso / --without-limbs / --without-depth-rule / --without-depth-prior /
--without-far-pass (rounds 10-13, 15) the root-hold-off row gives way to the guard without that
part, default and both priors; with --robust-scale S (round 14) to the same two at the fit's
robust scale S (default 3). --without-tightening (round 16) and --without-parts (round 17)
likewise. Under the table, one line per local minimum says whether it is a search failure
(minimum_check: a fit started from the truth ends lower on the guard's own objective).

Speed: the fitter alone (refine on all people) and the whole annotator (annotate() with
CLIFF-Res50 random weights of the released shapes: crop + network + fit, 4 people per image) on
1 and 2 threads, alternated, medians of --rounds; the PyTorch peer of bench_annotate.py
(same objective, autograd + L-BFGS, one batch) side by side, and the whole annotator written in
PyTorch (torch_annotator: official OpenCV crop, the test suite's PyTorch CLIFF-Res50 with the
same weights, then that peer's fit). Wall seconds and CPU seconds
(process time) are both printed: on a shared machine the wall clock includes waiting for a core.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cliff  # noqa: E402
from cliff.annotate import annotator as A  # noqa: E402
from cliff.annotate import losses as L  # noqa: E402
from cliff.camera import axis_angle_to_rotmat, rotmat_to_axis_angle  # noqa: E402
from cliff.annotate.fit import DEFAULT_WEIGHTS, FitBody, evaluate, fit_people  # noqa: E402
from cliff.annotate.keypoints import COCO17_TO_SMPLX  # noqa: E402
from reference import scenes as S  # noqa: E402
from _machine import cpu_model  # noqa: E402

SEVERITIES = {"moderate": dict(rot_noise_deg=8, root_noise_deg=15, beta_noise=0.5, transl_noise=0.05),
              "poor": dict(rot_noise_deg=15, root_noise_deg=30, beta_noise=1.0, transl_noise=0.10)}
BEFORE = dict(starts="one", accept=False, w_root=1.0, w_depth=0.0)
#: The opt-in tilt hypotheses, tried from every person (cliff.annotate.guard.fit_guarded).
TILTS = dict(tilt_deg=35.0, starts="all")
#: Seeds: DEV_SEED was used to develop the guard and fit the confidence's weights
#: (cliff.annotate.guard.CONF_WEIGHTS); the reported numbers use REPORT_SEED, never used to tune.
DEV_SEED, REPORT_SEED = 3, 2026


def cpu_isa() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    return " ".join(x for x in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "amx_tile")
                    if x in flags)


def keypoint_error(body, sc, rotmat, betas, transl, genuine=False):
    """(n,) the bodies' confidence-weighted mean reprojection error (px, full image) over the
    seen keypoints; genuine=True leaves out the keypoints the scene moved as gross outliers (the
    rest the true body meets within the 2 px noise), 0 where no genuine keypoint is seen."""
    J = S.smpl_forward(body, rotmat, betas, transl)[:, COCO17_TO_SMPLX]
    W, H = sc["img_size"]
    uv = sc["focal"] * J[..., :2] / J[..., 2:] + [W / 2, H / 2]
    c = sc["keypoints"][..., 2] * (~sc["outlier"] if genuine else 1.0)
    d = np.linalg.norm(uv - sc["keypoints"][..., :2], axis=-1)
    return (c * d).sum(1) / np.maximum(c.sum(1), 1e-12)


def truth_error(body, sc):
    return keypoint_error(body, sc, sc["rotmat"], sc["betas"], sc["transl"])


def missed(body, sc, r):
    """(n,) bool: the result misses the keypoints a body can meet (the genuine ones, gross
    outliers left out) by > 20 px on average: a local minimum, not an outlier's own cost."""
    return keypoint_error(body, sc, r["rotmat"], r["betas"], r["transl"], genuine=True) > 20


def objective_vs_truth(fb, sc, r, opts):
    """(n,) bool pair: the result's objective (keypoint term + priors centred on the start, with
    the run's weights) is below the truth's (the fit is not a search failure: the truth is a
    worse point of the fit's own objective); the truth's keypoint term is below the result's by
    more than 2 (the mean of a chi-square with 2 degrees of freedom: one keypoint's worth of
    noise at the objective's sigma), i.e. the keypoints clearly prefer the truth. Where the
    first holds and the second does not, no rule that reads the keypoints can prefer the truth."""
    W, H = sc["img_size"]
    n = len(sc["rotmat"])
    w = {k: opts[k] for k in list(DEFAULT_WEIGHTS) + ["pose_prior", "w_gmm", "upright_deg", "w_up"]
         if k in opts}
    ref = (fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
           COCO17_TO_SMPLX, np.full(n, sc["focal"], np.float64), np.tile([W / 2, H / 2], (n, 1)),
           200 * r["scale"])
    et = evaluate(*ref, sc["rotmat"], sc["betas"], sc["transl"], **w)
    ef = evaluate(*ref, r["rotmat"], r["betas"], r["transl"], **w)
    return ef["objective"] < et["objective"], et["data_cost"] < ef["data_cost"] - 2


def minimum_check(body, fb, sc, r, i, opts):
    """Is person i's local minimum (> 20 px from its genuine keypoints) a search failure? The
    guard's objective for the result's pass is a mixture over root prior components: the
    estimate's (no penalty), the three root hypotheses (HYPOTHESIS_PENALTY) and the broad one
    (w_root * BROAD_FACTOR, BROAD_PENALTY); the pass's weights are the tightened ones where
    step 0 made the result, its robust scale the far pass's where that did. The mixture is
    evaluated at the result and after a fit started from the truth under each component.
    Returns (the result's value, the truth-started fit's best value, that fit's error on the
    genuine keypoints px, its root error deg, its PA-MPJPE mm): a truth-started fit lower by
    more than 1 is a point of the same objective the guard's starts did not reach. A result
    the root-hold rule kept is checked under the free fit's objective (the rule compares the
    start-independent terms, not the objectives)."""
    from cliff.annotate import guard as G
    W, H = sc["img_size"]
    sl = slice(i, i + 1)
    w = {k: opts.get(k, v) for k, v in DEFAULT_WEIGHTS.items()}
    w.update({k: opts[k] for k in ("pose_prior", "w_gmm", "upright_deg", "w_up") if k in opts})
    far = bool(r["far_pass"][i])
    tight = G.tighten_of(opts.get("tighten", "auto"), opts.get("pose_prior"))
    if far:
        w["robust_scale"] = G.far_scale_of(opts.get("far_scale", G.FAR_SCALE), w["robust_scale"])
    elif tight is not None and not r["loosened"][i]:
        w["w_root"], w["w_pose"] = tight * w["w_root"], tight * w["w_pose"]
    R0 = sc["init_rotmat"][sl]
    hyp = G.root_hypotheses(R0, sc["init_transl"][sl])[:, 0]
    comps = [(R0, w["w_root"], 0.0)]
    for h in hyp:
        Rh = R0.copy()
        Rh[0, 0] = R0[0, 0] @ axis_angle_to_rotmat(h[None])[0]
        comps.append((Rh, w["w_root"], G.HYPOTHESIS_PENALTY))
    comps.append((R0, w["w_root"] * G.BROAD_FACTOR, G.BROAD_PENALTY))
    sub = {k: (v[sl] if isinstance(v, np.ndarray) and len(v) == len(sc["rotmat"]) else v)
           for k, v in sc.items()}
    res_val, fit_val, best = np.inf, np.inf, None
    for Rref, wr, pen in comps:
        ref = (fb, Rref, sub["init_betas"], sub["init_transl"], sub["keypoints"], COCO17_TO_SMPLX,
               np.full(1, sc["focal"], np.float64), np.array([[W / 2, H / 2]]), 200 * r["scale"][sl])
        ww = dict(w, w_root=wr)
        e = evaluate(*ref, r["rotmat"][sl], r["betas"][sl], r["transl"][sl], **ww)
        res_val = min(res_val, float(e["objective"][0]) + pen)
        phi = rotmat_to_axis_angle(np.swapaxes(Rref, -1, -2) @ sub["rotmat"]).reshape(1, 24, 3)
        f = fit_people(*ref, phi_start=phi, betas_start=sub["betas"], transl_start=sub["transl"], **ww)
        if f["status"][0] == 0 and float(f["objective"][0]) + pen < fit_val:
            fit_val, best = float(f["objective"][0]) + pen, f
    if best is None:
        return res_val, np.inf, np.nan, np.nan, np.nan
    J = S.smpl_forward(body, best["rotmat"], best["betas"], best["transl"])[:, :24]
    pa = L.pa_mpjpe(J, S.smpl_forward(body, sub["rotmat"], sub["betas"], sub["transl"])[:, :24])
    root = L.rotation_angle_deg(best["rotmat"][:, 0], sub["rotmat"][:, 0])
    ge = keypoint_error(body, sub, best["rotmat"], best["betas"], best["transl"], genuine=True)
    return res_val, fit_val, float(ge[0]), float(root[0]), float(pa[0]) * 1000


def breakdown(body, sc, r, r0, pa0, r1, pa1, fittable, vs_truth=None):
    """Why each worse person got worse (categories may overlap): counts."""
    wr, wp = r1 > r0 + 5, pa1 > pa0 + 10
    worse = wr | wp
    kp = sc["keypoints"]
    Jt = S.smpl_forward(body, sc["rotmat"], sc["betas"], sc["transl"])[:, COCO17_TO_SMPLX]
    W, H = sc["img_size"]
    uv = sc["focal"] * Jt[..., :2] / Jt[..., 2:] + [W / 2, H / 2]
    outlier = ((np.linalg.norm(uv - kp[..., :2], axis=-1) > 15) & (kp[..., 2] > 0)).any(1)
    z0 = np.abs(sc["init_transl"][:, 2] / sc["transl"][:, 2] - 1)
    z1 = np.abs(r["transl"][:, 2] / sc["transl"][:, 2] - 1)
    loc = lambda R: np.stack([L.rotation_angle_deg(R[:, j], sc["rotmat"][:, j])  # noqa: E731
                              for j in (1, 2, 4, 5, 16, 17, 18, 19)], 1)
    limb = (loc(r["rotmat"]) - loc(sc["init_rotmat"])).max(1) > 15
    cats = {"root moved off a good start (start root <= 10 deg, root worse)": wr & (r0 <= 10),
            "wrong-root basin (start root > 20 deg)": worse & (r0 > 20),
            "PA-MPJPE worse with the root not worse (limbs)": wp & ~wr,
            "a hip/knee/shoulder/elbow rotation > 15 deg worse": worse & limb,
            "depth error grew by > 5 %": worse & (z1 > z0 + 0.05),
            "a gross outlier among the keypoints": worse & outlier,
            "still > 20 px, fittable": worse & (r["err_final"] > 20) & fittable}
    if vs_truth is not None:
        below, prefer = vs_truth
        cats["result's objective below the truth's (not a search failure)"] = worse & below
        cats["keypoints prefer the truth (its keypoint term lower by > 2)"] = worse & prefer
    return int(worse.sum()), {k: int(v.sum()) for k, v in cats.items()}


def far_note(body, sc, r, fittable, sev, name):
    """One line on the fittable people left > 20 px from their keypoints: each one's own truth
    error -> the result's (px), the result's error on the genuine keypoints in brackets, and how
    many are farther than the truth by > 5 px (the others sit at the fittable definition's
    edge: the truth itself is close to 20 px, its gross outliers' own distance)."""
    far = np.flatnonzero((r["err_final"] > 20) & fittable)
    te = truth_error(body, sc)
    ge = keypoint_error(body, sc, r["rotmat"], r["betas"], r["transl"], genuine=True)
    pairs = ", ".join(f"{te[i]:.1f} -> {r['err_final'][i]:.1f} ({ge[i]:.1f})" for i in far)
    miss = int((r["err_final"][far] > te[far] + 5).sum())
    return f"* {sev}, {name}: {len(far)} ({miss} farther than the truth by > 5 px): {pairs or '-'}"


def scene(body, args, kw):
    """One severity's scene (args.people people, args.seed), which people are fittable (the
    truth within 20 px of its keypoints) and met(R, betas, transl) -> (PA-MPJPE mm, root deg)
    against the truth, per person."""
    sc = S.make_scene(body, args.people, seed=args.seed, outliers=0.05, offcentre=0.95, **kw)
    gt = sc["joints"][:, :24]

    def met(R, b, t):
        J = S.smpl_forward(body, R, b, t)[:, :24]
        return L.pa_mpjpe(J, gt) * 1000, L.rotation_angle_deg(R[:, 0], sc["rotmat"][:, 0])
    return sc, truth_error(body, sc) <= 20, met


def refine_scored(fb, sc, met, r0, pa0, opts):
    """refine() on a scene with `opts`, timed and scored against each person's start: (result,
    seconds, PA-MPJPE mm, root deg, root worse > 5 deg, PA-MPJPE worse > 10 mm, > 20 px)."""
    W, H = sc["img_size"]
    t0 = time.perf_counter()
    r = A.refine(fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
                 sc["boxes"], (W, H), sc["focal"], **opts)
    dt = time.perf_counter() - t0
    pa1, r1 = met(r["rotmat"], r["betas"], r["transl"])
    return r, dt, pa1, r1, r1 > r0 + 5, pa1 > pa0 + 10, r["err_final"] > 20


def harm_table(body, fb, args):
    print("## Who is made worse (each person against its own start, true error)")
    print()
    print("| start | run | root deg (mean) | PA-MPJPE mm (mean) | root worse > 5 deg | PA-MPJPE worse > 10 mm "
          "| either | > 20 px, fittable / all | > 20 px on the genuine keypoints "
          "| median px (full image) | converged | seconds |")
    print("|" + "---|" * 12)
    kept, why, notes = {}, {}, []
    for sev, kw in SEVERITIES.items():
        sc, fittable, met = scene(body, args, kw)
        pa0, r0 = met(sc["init_rotmat"], sc["init_betas"], sc["init_transl"])
        print(f"| {sev} | starting estimate | {r0.mean():.2f} | {pa0.mean():.1f} | | | | | | | | |")
        whys = {}
        for name, opts in (("before (w_root 1, one start)", BEFORE),
                           ("after (default)", {}),
                           ("after + tilt hypotheses for all (tilt_deg=35, starts=all; opt-in)", TILTS)):
            r, dt, pa1, r1, wr, wp, far = refine_scored(fb, sc, met, r0, pa0, opts)
            print(f"| {sev} | {name} | {r1.mean():.2f} | {pa1.mean():.1f} | {100 * wr.mean():.1f} % | "
                  f"{100 * wp.mean():.1f} % | {100 * (wr | wp).mean():.1f} % | {(far & fittable).sum()} / "
                  f"{far.sum()} | {missed(body, sc, r).sum()} | {np.median(r['err_final']):.2f} | "
                  f"{100 * r['converged'].mean():.0f} % | "
                  f"{dt:.1f} |")
            notes.append(far_note(body, sc, r, fittable, sev, name))
            whys[name] = breakdown(body, sc, r, r0, pa0, r1, pa1, fittable,
                                   objective_vs_truth(fb, sc, r, opts))
            if opts == {}:
                kept[sev] = (r, pa1, r1)
        starts = np.bincount(kept[sev][0]["start"] + 1, minlength=15)[[0, 1, 2, 3, 4, 5, 10, 11, 12,
                                                                         13, 14]]
        print(f"| {sev} | after: kept result by start (estimate kept / estimate / wide-scale / turned / "
              f"mirrored / both / weak-prior / torso root / broad root prior / limb / limb, broad) | "
              f"{' / '.join(map(str, starts))} | | | | | | | | | |")
        why[sev] = whys
    print()
    print("Fittable people > 20 px from their keypoints: the truth's own error -> the result's "
          "(px; in brackets the result's on the genuine keypoints)")
    print()
    print("\n".join(notes))
    print()
    print("## Why people got worse (each worse person counted in every category that applies)")
    print()
    print("| start | run | worse | " + " | ".join(next(iter(next(iter(why.values())).values()))[1]) + " |")
    print("|" + "---|" * (3 + len(next(iter(next(iter(why.values())).values()))[1])))
    for sev, whys in why.items():
        for name, (nw, cats) in whys.items():
            print(f"| {sev} | {name} | {nw} | " + " | ".join(str(v) for v in cats.values()) + " |")
    print()
    return kept


def ranking_table(kept):
    print("## Confidence ranking power (after, per severity; fit_confidence = "
          "cliff.annotate.guard.confidence)")
    print()
    print("| start | Spearman(confidence, -PA-MPJPE) | Spearman(confidence, -root error) "
          "| Spearman of the previous confidence (session 1 of issue 17), PA / root "
          "| PA-MPJPE mm: all / best 80 % / best 50 % by confidence / oracle 80 % "
          "| root deg: all / best 80 % / best 50 % | conf >= 0.6: kept, PA, root | conf >= 0.5 "
          "| conf >= 0.4 |")
    print("|" + "---|" * 9)
    rk = lambda x: np.argsort(np.argsort(x)).astype(float)  # noqa: E731
    for sev, (r, pa, rt) in kept.items():
        c = r["confidence"]
        order = np.argsort(-c, kind="stable")
        best = lambda x, q: x[order[:int(round(q * len(x)))]].mean()  # noqa: E731
        oracle = np.sort(pa)[:int(round(0.8 * len(pa)))].mean()
        cells = []
        for thr in (0.6, 0.5, 0.4):
            m = c >= thr
            cells.append(f"{100 * m.mean():.0f} %, {pa[m].mean():.1f} mm, {rt[m].mean():.1f} deg"
                         if m.any() else "0 %")
        # the previous definition: exp(-(e/b)/0.03) min(1, exp(-(s - 0.1)/0.05)), halved if not
        # converged, times exp(-max(0, d - 11.3))
        b = 200 * r["scale"]
        old = (np.exp(-(r["err_final"] / b) / 0.03)
               * np.minimum(1, np.exp(-(np.where(r["spread"] < 0, 0.2, r["spread"]) - 0.1) / 0.05))
               * np.where(r["converged"], 1, 0.5) * np.exp(-np.maximum(r["prior_dist"] - 11.3, 0)))
        print(f"| {sev} | {np.corrcoef(rk(c), rk(-pa))[0, 1]:.2f} | {np.corrcoef(rk(c), rk(-rt))[0, 1]:.2f} "
              f"| {np.corrcoef(rk(old), rk(-pa))[0, 1]:.2f} / {np.corrcoef(rk(old), rk(-rt))[0, 1]:.2f} "
              f"| {pa.mean():.1f} / {best(pa, 0.8):.1f} / {best(pa, 0.5):.1f} / {oracle:.1f} "
              f"| {rt.mean():.2f} / {best(rt, 0.8):.2f} / {best(rt, 0.5):.2f} | " + " | ".join(cells) + " |")
    print()


PEER_E2E = "PyTorch whole annotator: OpenCV crop + CLIFF-Res50 + autograd L-BFGS fit, 100 it"


def torch_annotator(fb, images, kps, bxs):
    """The whole annotator as a PyTorch user would run it, for the speed table: per image the
    official OpenCV crop (the test suite's reference) and the test suite's PyTorch CLIFF-Res50
    (the same random weights as the annotate() row) with bbox_info and the crop-to-full camera
    at the default focal, then one L-BFGS fit of everyone (bench_annotate.torch_fit: the same
    objective, one start, 100 iterations). Returns run(threads) -> None."""
    import torch
    from bench_annotate import torch_fit
    from cliff._standin import random_state_dict
    from reference import torch_cliff as tc
    from test_crop import reference as opencv_crop
    net = tc.build_cliff("res50")
    sd = {k: torch.from_numpy(np.asarray(v)) for k, v in random_state_dict("res50", 0).items()}
    net.load_state_dict(tc.strip_module_prefix(sd), strict=True)
    net.eval()
    H, W = images[0].shape[:2]
    o = dict(sigma_rel=0.01, robust_scale=3.0, w_root=1.0, w_pose=10.0, w_betas_init=1.0,
             w_shape=0.1)

    def run(threads):
        torch.set_num_threads(threads)
        R, be, t, b = [], [], [], []
        for img, box in zip(images, bxs):
            crops, center, scale, _ = opencv_crop(img, box)
            out = tc.predict_full_frame(net, crops, center, scale, W, H)
            for acc, v in zip((R, be, t, b), out[:3] + (out[3][:, 2],)):
                acc.append(v.double().numpy())
        f = float(tc.default_focal(torch.tensor([[W, H]], dtype=torch.float64))[0])
        torch_fit(fb, np.concatenate(R), np.concatenate(be), np.concatenate(t),
                  np.concatenate(kps), COCO17_TO_SMPLX, f, np.array([W / 2, H / 2]),
                  np.concatenate(b), o, max_iter=100)
    return run


def speed_table(body, fb, args):
    print("## Speed (people per second; wall and CPU seconds, medians of alternated rounds)")
    print()
    sc = S.make_scene(body, args.people, seed=args.seed, outliers=0.05, offcentre=0.95,
                      **SEVERITIES["moderate"])
    W, H = sc["img_size"]
    f = sc["focal"]
    refine_args = (fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
                   sc["boxes"], (W, H), f)
    A.refine(*(a[:8] if isinstance(a, np.ndarray) else a for a in refine_args))  # warm-up
    rows = {}
    P = min(args.peer_people, args.people)
    sub = {k: (v[:P] if isinstance(v, np.ndarray) else v) for k, v in sc.items()}
    peer = None
    if not args.no_peer:
        import torch
        from bench_annotate import torch_fit
        b = 200 * A.center_scale(sub["boxes"])[1]
        o = dict(sigma_rel=0.01, robust_scale=3.0, w_root=1.0, w_pose=10.0, w_betas_init=1.0, w_shape=0.1)

        def peer(th):
            torch.set_num_threads(th)
            return torch_fit(fb, sub["init_rotmat"], sub["init_betas"], sub["init_transl"],
                             sub["keypoints"], COCO17_TO_SMPLX, f, np.array([W / 2, H / 2]), b, o,
                             max_iter=100)[3]
    e2e = peer_e2e = None
    if not args.no_e2e:
        from cliff._standin import random_state_dict
        from cliff.model import Model
        model = Model.from_state_dict(random_state_dict("res50", 0))
        m = min(args.e2e_people, args.people)
        m -= m % 4
        images = [np.zeros((H, W, 3), np.uint8)] * (m // 4)
        kps = [sc["keypoints"][s:s + 4] for s in range(0, m, 4)]
        bxs = [sc["boxes"][s:s + 4] for s in range(0, m, 4)]

        def e2e():
            A.annotate(images, kps, model=model, smpl=fb, boxes=bxs, progress=False)
        cliff.set_num_threads(2)
        A.annotate(images[:1], kps[:1], model=model, smpl=fb, boxes=bxs[:1], progress=False)
        if peer:
            peer_e2e = torch_annotator(fb, images, kps, bxs)
            peer_e2e(2)  # warm-up
    for rnd in range(args.rounds):
        for th in (1, 2):
            cliff.set_num_threads(th)
            for key, fn, n in (("fitter, plain (one start)", lambda: A.refine(*refine_args, **BEFORE), args.people),
                               ("fitter, default (guarded)", lambda: A.refine(*refine_args), args.people),
                               ("PyTorch peer: autograd + L-BFGS, 100 it, one batch", (lambda: peer(th)) if peer else None, P),
                               ("whole annotator (crop + CLIFF-Res50 + guarded fit)", e2e, len(images) * 4 if e2e else 0),
                               (PEER_E2E, (lambda: peer_e2e(th)) if peer_e2e else None,
                                len(images) * 4 if e2e else 0)):
                if fn is None:
                    continue
                t0, c0 = time.perf_counter(), time.process_time()
                res = fn()
                wall = time.perf_counter() - t0
                if key.startswith("PyTorch peer"):
                    wall = res  # the optimisation itself, as bench_annotate.py times it
                rows.setdefault((key, th), []).append((wall, time.process_time() - c0, n))
    print("| run | people | 1 thread: people/s (wall) | 2 threads: people/s (wall) | 2 vs 1 threads (wall) "
          "| 1 thread: CPU ms/person | 2 threads: CPU ms/person | cores obtained (CPU s / wall s), 1 / 2 "
          "threads | vs PyTorch peer, same threads |")
    print("|" + "---|" * 9)
    med = {k: (float(np.median([w for w, _, _ in v])), float(np.median([c for _, c, _ in v])), v[0][2])
           for k, v in rows.items()}
    names = list(dict.fromkeys(k for k, _ in rows))
    for name in names:
        (w1, c1, n), (w2, c2, _) = med[(name, 1)], med[(name, 2)]
        ratio = ""
        pk = "PyTorch peer: autograd + L-BFGS, 100 it, one batch"
        if name.startswith("whole") and (PEER_E2E, 1) in med:
            pk = PEER_E2E
        if (name.startswith("fitter") or name.startswith("whole")) and (pk, 1) in med:
            r1 = (n / w1) / (med[(pk, 1)][2] / med[(pk, 1)][0])
            r2 = (n / w2) / (med[(pk, 2)][2] / med[(pk, 2)][0])
            ratio = f"{r1:.1f}x / {r2:.1f}x faster"
        print(f"| {name} | {n} | {n / w1:,.0f} | {n / w2:,.0f} | {w1 / w2:.2f}x | {1000 * c1 / n:.2f} | "
              f"{1000 * c2 / n:.2f} | {c1 / w1:.2f} / {c2 / w2:.2f} | {ratio} |")
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} logical CPUs "
          f"(above the thread count means other processes compete for the cores)")
    print("'cores obtained' near 1 / 2 means the threads ran; well below means they waited for a "
          "core and the 2-vs-1 wall ratio measures the machine's load, not the code")


def world_prior(shift: float = 0.0, narrow: float = 1.0):
    """The synthetic world's own pose distribution as a one-component PosePrior: make_scene draws
    each body joint's axis-angle vector from N(0, 0.25 rad) per value, joints 10, 11, 13, 14, 22,
    23 with 0.3 x that, and adds (0, 0, -1.1) / (0, 0, +1.1) rad to joints 16 / 17 (arms
    lowered); the prior's variable a_j = Log(Exp(aa_j)) = aa_j as all angles stay below pi, so
    this Gaussian is the world's exact distribution: the "prior that matches the world", standing
    in for gmm_08.pkl on real data. shift (in units of the std, added to every mean) and narrow
    (the covariance divided by it) make deliberately wrong priors."""
    from cliff.io.pose_prior import gaussian_prior
    std = np.full((23, 3), 0.25)
    std[[j - 1 for j in (10, 11, 13, 14, 22, 23)]] *= 0.3
    mean = np.zeros((23, 3))
    mean[15, 2], mean[16, 2] = -1.1, 1.1
    return gaussian_prior((std / np.sqrt(narrow)).reshape(69), (mean + shift * std).reshape(69))


def prior_table(body, fb, args):
    """Issue 17, round 3: the population pose prior (fit option pose_prior, docs/annotate.md)."""
    weights = [float(w) for w in args.w_gmm.split(",")]
    runs = [("after (default, no population prior)", {})]
    runs += [(f"after + matching prior, w_gmm {w:g}", dict(pose_prior=world_prior(), w_gmm=w))
             for w in weights]
    w_rep = weights[-1] if len(weights) == 1 else None
    if args.upright_deg:  # issue 17, round 4: the upright root prior on top of the matching one
        ups = [float(v) for v in args.upright_deg.split(",")]
        wups = [float(v) for v in args.w_up.split(",")]
        runs = runs[:1] + [r for r in runs[1:] if w_rep is not None]
        runs += [(f"after + matching prior + upright sigma {u:g} deg, w_up {wu:g}",
                  dict(pose_prior=world_prior(), w_gmm=weights[-1], upright_deg=u, w_up=wu))
                 for u in ups for wu in wups]
        if len(ups) == 1 and len(wups) == 1:
            wrong = ups[0] / 3
            runs.append((f"after + matching prior + WRONG upright sigma {wrong:.3g} deg (3x "
                         f"narrower), w_up {wups[0]:g}",
                         dict(pose_prior=world_prior(), w_gmm=weights[-1], upright_deg=wrong,
                              w_up=wups[0])))
    elif w_rep is not None:
        runs += [(f"after + WRONG prior (covariance 3x narrower), w_gmm {w_rep:g}",
                  dict(pose_prior=world_prior(narrow=3.0), w_gmm=w_rep)),
                 (f"after + WRONG prior (means shifted by 1 std), w_gmm {w_rep:g}",
                  dict(pose_prior=world_prior(shift=1.0), w_gmm=w_rep))]
    print("## Population pose prior (pose_prior=; the world's own distribution vs wrong ones)")
    print()
    print("| start | run | root deg (mean) | PA-MPJPE mm (mean) | root worse > 5 deg "
          "| PA-MPJPE worse > 10 mm | either | > 20 px, fittable / all | worse with the "
          "result's objective below the truth's | seconds |")
    print("|" + "---|" * 10)
    notes = []
    for sev, kw in SEVERITIES.items():
        sc, fittable, met = scene(body, args, kw)
        pa0, r0 = met(sc["init_rotmat"], sc["init_betas"], sc["init_transl"])
        print(f"| {sev} | starting estimate | {r0.mean():.2f} | {pa0.mean():.1f} | | | | | | |")
        if args.upright_deg:
            u = sc["rotmat"][:, 0, :, 1]  # the true body up axes in the camera frame
            print(f"| {sev} | the world's upright spread: std of u_x, u_z = "
                  f"{np.degrees(u[:, 0].std()):.2f}, {np.degrees(u[:, 2].std()):.2f} deg (sin of "
                  "the tilt; u = R_0 e_y) | | | | | | | | |")
        for name, opts in runs:
            r, dt, pa1, r1, wr, wp, far = refine_scored(fb, sc, met, r0, pa0, opts)
            below, _ = objective_vs_truth(fb, sc, r, opts)
            notes.append(far_note(body, sc, r, fittable, sev, name))
            print(f"| {sev} | {name} | {r1.mean():.2f} | {pa1.mean():.1f} | {100 * wr.mean():.1f} % | "
                  f"{100 * wp.mean():.1f} % | {100 * (wr | wp).mean():.1f} % | {(far & fittable).sum()} / "
                  f"{far.sum()} | {(below & (wr | wp)).sum()} / {(wr | wp).sum()} | {dt:.1f} |")
    print()
    print("Fittable people > 20 px from their keypoints: the truth's own error -> the result's "
          "(px; in brackets the result's on the genuine keypoints)")
    print()
    print("\n".join(notes))
    print()


#: The opt-in priors of rounds 3-4 with the weights chosen on the development seed.
BOTH_PRIORS = dict(w_gmm=0.25, upright_deg=5.0, w_up=0.35)


def parse_seeds(text: str) -> list:
    """'2027-2036' or '2027,2030' -> the list of seeds (ValueError otherwise)."""
    out = []
    for part in text.split(","):
        a, sep, b = part.partition("-")
        lo, hi = int(a), int(b) if sep else int(a)
        if hi < lo:
            raise ValueError(f"--seeds: empty range {part!r}")
        out += range(lo, hi + 1)
    return out


#: The --without-* variants of the pooled table (--seeds): flag, what it leaves out, the guard
#: options that leave it out, and the round that added it (the guard without it is the guard of
#: the round before).
WITHOUT = (("torso", "the torso and limb starts", dict(torso=False, limbs=False), 10),
           ("limbs", "the limb starts", dict(limbs=False), 11),
           ("depth-rule", "the depth rule", dict(depth_range=None), 12),
           ("depth-prior", "the depth prior", dict(w_depth=0.0), 13),
           ("far-pass", "the far pass", dict(far_scale=None), 15),
           ("tightening", "the tightened first pass", dict(tighten=None), 16),
           ("parts", "the part starts", dict(parts=False), 17))


def pooled_table(body, fb, args):
    """Issue 17, round 8: the share made worse pooled over many scene seeds (--seeds)."""
    seeds = parse_seeds(args.seeds)
    both = dict(BOTH_PRIORS, pose_prior=world_prior())
    runs = (("after (default)", {}),
            ("after + matching pose prior + upright sigma 5 deg, root hold off", dict(both, root_hold=None)),
            ("after + matching pose prior + upright sigma 5 deg (opt-in; root hold on with it)", both))
    # before/after on the same scenes: what to leave out, and whose guard that is
    without = [(f"{what} (round {added})", off) for flag, what, off, added in WITHOUT
               if getattr(args, "without_" + flag.replace("-", "_"))]
    variant = ((f"without {without[0][0]}", without[0][1]) if without else
               (f"robust scale {args.robust_scale:g}", dict(robust_scale=args.robust_scale))
               if args.robust_scale is not None else None)
    if variant:  # the root-hold-off row gives way to the default and both priors with it
        what, opts = variant
        runs = (runs[0], (f"after (default), {what}", opts), runs[2],
                (f"after + both priors (root hold on), {what}", dict(both, **opts)))
        if without and "tighten" in without[0][1]:
            # 'auto' leaves the pass off with the pose prior: there the variant is the opt-in
            runs = runs[:3] + (("after + both priors (root hold on), with the tightened first pass "
                                "(tighten=2; opt-in with a pose prior)", dict(both, tighten=2.0)),)
    print(f"## Pooled over seeds {args.seeds} ({len(seeds)} x {args.people} people per severity)")
    print()
    print("| start | run | people | either worse (95 % interval) | range over seeds | root worse > 5 deg "
          "| PA-MPJPE worse > 10 mm | > 20 px fittable (farther than the truth by > 5 px) "
          "| > 20 px on the genuine keypoints | root deg (start -> result) "
          "| PA-MPJPE mm (start -> result) | depth off the truth's by > 1.5x (> 2x) "
          "| mean translation error m | seconds |")
    print("|" + "---|" * 14)
    minima = []
    for sev, kw in SEVERITIES.items():
        tot = {name: dict(n=0, worse=0, wr=0, wp=0, far=0, beyond=0, missed=0, r0=0.0, r1=0.0,
                          p0=0.0, p1=0.0, per=[], dt=0.0, z15=0, z2=0, terr=0.0)
               for name, _ in runs}
        for seed in seeds:
            sc, fittable, met = scene(body, argparse.Namespace(people=args.people, seed=seed), kw)
            pa0, r0 = met(sc["init_rotmat"], sc["init_betas"], sc["init_transl"])
            te = truth_error(body, sc)
            for name, opts in runs:
                r, dt, pa1, r1, wr, wp, far = refine_scored(fb, sc, met, r0, pa0, opts)
                t = tot[name]
                ff = far & fittable
                t["n"] += len(wr)
                t["worse"] += int((wr | wp).sum())
                t["wr"] += int(wr.sum())
                t["wp"] += int(wp.sum())
                t["far"] += int(ff.sum())
                t["beyond"] += int((ff & (r["err_final"] > te + 5)).sum())
                miss = missed(body, sc, r)
                t["missed"] += int(miss.sum())
                for i in np.flatnonzero(miss):
                    rv, fv, ge, rt, pt = minimum_check(body, fb, sc, r, i, opts)
                    kept = int(r["start"][i]) if "start" in r else -2
                    minima.append(
                        f"| {sev} | {name} | {seed} | {i} | {'yes' if fittable[i] else 'no'} | "
                        f"{r0[i]:.0f} / {pa0[i]:.0f} | {r['err_final'][i]:.1f} / "
                        f"{keypoint_error(body, sc, r['rotmat'], r['betas'], r['transl'], True)[i]:.1f} | "
                        f"{kept} | {'far pass' if r['far_pass'][i] else ('loosened' if r['loosened'][i] else '-')} | "
                        f"{rv:.1f} | {fv:.1f} | {ge:.1f} | {rt:.0f} / {pt:.0f} | "
                        f"{'yes' if fv < rv - 1 else 'no'} |")
                t["per"].append(100 * (wr | wp).mean())
                dz = np.abs(np.log(r["transl"][:, 2] / sc["transl"][:, 2]))
                t["z15"] += int((dz > np.log(1.5)).sum())
                t["z2"] += int((dz > np.log(2.0)).sum())
                t["terr"] += float(np.linalg.norm(r["transl"] - sc["transl"], axis=1).sum())
                for key, v in (("r0", r0), ("r1", r1), ("p0", pa0), ("p1", pa1)):
                    t[key] += float(v.sum())
                t["dt"] += dt
        for name, _ in runs:
            t = tot[name]
            n = t["n"]
            p = t["worse"] / n
            half = 196 * np.sqrt(p * (1 - p) / n)
            print(f"| {sev} | {name} | {n} | {100 * p:.2f} % ± {half:.2f} ({t['worse']}) | "
                  f"{min(t['per']):.2f}-{max(t['per']):.2f} % | {100 * t['wr'] / n:.2f} % | "
                  f"{100 * t['wp'] / n:.2f} % | {t['far']} ({t['beyond']}) | {t['missed']} | "
                  f"{t['r0'] / n:.2f} -> {t['r1'] / n:.2f} | {t['p0'] / n:.1f} -> {t['p1'] / n:.1f} | "
                  f"{t['z15']} ({t['z2']}) | {t['terr'] / n:.3f} | {t['dt']:.0f} |")
    print()
    print("Each local minimum (> 20 px from the genuine keypoints): is it a search failure? The "
          "guard's objective for the result's pass (its root prior mixture: the estimate, the "
          "three root hypotheses, the broad component) at the result and after a fit started "
          "from the truth (minimum_check); 'search failure' = the truth-started fit ends lower "
          "by more than 1.")
    print()
    print("| start | run | seed | person | fittable | start: root deg / PA-MPJPE mm | result: px "
          "/ px on the genuine keypoints | kept start | pass | objective at the result "
          "| after a fit from the truth | that fit: px on the genuine keypoints "
          "| that fit: root deg / PA-MPJPE mm | search failure |")
    print("|" + "---|" * 14)
    for line in minima:
        print(line)
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=400)
    ap.add_argument("--seed", type=int, default=REPORT_SEED,
                    help=f"scene seed (default {REPORT_SEED}: the report seed; {DEV_SEED} = development)")
    ap.add_argument("--peer-people", type=int, default=200)
    ap.add_argument("--e2e-people", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-e2e", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="only the speed table")
    ap.add_argument("--pose-prior", action="store_true",
                    help="only the population pose prior table (issue 17, round 3)")
    ap.add_argument("--w-gmm", default="1",
                    help="with --pose-prior: comma-separated w_gmm values to compare (a sweep, "
                         "for the development seed); one value adds the wrong-prior rows")
    ap.add_argument("--upright-deg", default=None,
                    help="with --pose-prior: comma-separated sigmas (degrees) of the upright root "
                         "prior, each added to the matching pose prior at the last --w-gmm; one "
                         "sigma and one --w-up add a row with a 3x narrower (wrong) sigma")
    ap.add_argument("--seeds", default=None,
                    help="e.g. 2027-2036: only the harm table pooled over these scene seeds, default "
                         "guard and both opt-in priors (issue 17, round 8)")
    for flag, what, off, added in WITHOUT:
        extra = (" (and both priors with it: tighten=2, since 'auto' leaves it off with a pose "
                 "prior)" if "tighten" in off else "")
        ap.add_argument(f"--without-{flag}", action="store_true",
                        help=f"with --seeds: the default guard and both priors without only "
                             f"{what} ({', '.join(f'{k}={v}' for k, v in off.items())}: round "
                             f"{added - 1}'s guard; issue 17, round {added}){extra}, instead of "
                             f"the root-hold-off row")
    ap.add_argument("--robust-scale", type=float, default=None,
                    help="with --seeds: the same at this robust scale (fit option robust_scale; "
                         "the default is 3), default and both priors (issue 17, round 14)")
    ap.add_argument("--w-up", default="1",
                    help="with --upright-deg: comma-separated w_up values to compare")
    args = ap.parse_args()
    from cliff._standin import smpl_arrays
    body = smpl_arrays(0)
    fb = FitBody.from_smpl(body)
    print(f"cliff {cliff.__version__}; CPU: {cpu_model()} ({cpu_isa()}); {os.cpu_count()} logical CPUs; "
          f"{args.people} people per severity, seed {args.seeds or args.seed}")
    print()
    cliff.set_num_threads(2)
    if args.seeds:
        pooled_table(body, fb, args)
        return
    if args.pose_prior:
        prior_table(body, fb, args)
        return
    if not args.speed_only:
        kept = harm_table(body, fb, args)
        ranking_table(kept)
    if not args.no_speed:
        speed_table(body, fb, args)


if __name__ == "__main__":
    main()
