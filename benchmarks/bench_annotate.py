"""The annotator on synthetic scenes: accuracy before/after refinement, the full-frame vs crop
loss ablation (paper Table 2 analogue), and people per minute.

    PYTHONPATH=. python benchmarks/bench_annotate.py [--people 600] [--threads 2] [--body standin]
        [--no-peer] [--no-finetune] [--ft-epochs 20] [--ft-rank 16] [--ft-lr 1e-3]

People per second on 1 and 2 threads side by side (fitter, whole annotator, PyTorch peer, with
the cores each run obtained), the share of people made worse and the confidence's ranking:
benchmarks/bench_annotate_quality.py (issue 17; docs/annotate.md).

The last table (regressor_world) is the paper's step 3 (refine='finetune'): the regressor
fine-tuned on the keypoints in a synthetic linear "regressor world" (cliff.annotate.finetune.synthetic_world)
whose released-style regressor gives the scene's estimates plus a systematic domain shift.

Data (tests/reference/scenes.py make_scene): random SMPL poses and shapes of a stand-in body (cliff._standin
by default, or the procedural skeleton body), people anywhere in a 1920x1080 image with the
CLIFF default focal (image diagonal), COCO-17 keypoints with 2 px noise, 15 % occluded
(confidence 0), 5 % gross outliers, confidences in [0.5, 1]; the initial estimate is the truth
perturbed like a regressor's error (8 deg per axis on each body joint, 15 deg on the root,
0.5 on each beta, 5 % in translation). Every row fits the same people from the same start.

Metrics: reprojection error = confidence-weighted mean distance (px) between the projected model
joints and the keypoints in the REAL camera (for the crop-loss fit too); PA-MPJPE (mm) of the
24 SMPL joints against the generating parameters; global-orientation error (deg, geodesic
angle of the root rotation). By off-centre angle of the person (angle between the optical axis
and the ray to the pelvis).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # scenes, references

import cliff  # noqa: E402
from cliff.annotate import annotator as A
from cliff.annotate import losses as L
from reference import scenes as S
from cliff.annotate.fit import FitBody
from cliff.annotate.keypoints import COCO17_TO_SMPLX


def reproj_error(body, rot, betas, transl, kp, focal, pp):
    J = S.smpl_forward(body, rot, betas, transl)[:, COCO17_TO_SMPLX]
    uv = focal * J[..., :2] / J[..., 2:] + pp
    c = kp[..., 2]
    return (c * np.linalg.norm(uv - kp[..., :2], axis=-1)).sum(1) / np.maximum(c.sum(1), 1e-9)


def torch_fit(fb, R0, betas0, t0, kp, jidx, focal, pp, norm, o, max_iter=100):
    """Peer: the same objective (full-frame camera, Geman-McClure, same priors and weights) in
    PyTorch float64 with autograd and L-BFGS (strong Wolfe), all people in one batch, the way a
    SMPLify/EFT-style refinement is usually written. Returns (phi, betas, t, seconds)."""
    import torch
    T = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
    J0, Jd, vt, vd, vp, vw = map(T, (fb.J0, fb.Jdirs, fb.vt, fb.vdirs, fb.vpose, fb.vweights))
    par = fb.parents.tolist()
    R0, b0, tt0, kp_, nrm = T(R0), T(betas0), T(t0), T(kp), T(norm)
    n = R0.shape[0]
    phi = torch.zeros(n, 24, 3, dtype=torch.float64, requires_grad=True)
    be = b0.clone().requires_grad_(True)
    tr = tt0.clone().requires_grad_(True)
    idx = torch.as_tensor(jidx)
    eye = torch.eye(3, dtype=torch.float64)

    def expm(w):
        th = torch.sqrt((w * w).sum(-1, keepdim=True) + 1e-24)[..., None]
        K = torch.zeros(w.shape[:-1] + (3, 3), dtype=w.dtype)
        K = torch.stack([torch.stack([0 * w[..., 0], -w[..., 2], w[..., 1]], -1),
                         torch.stack([w[..., 2], 0 * w[..., 0], -w[..., 0]], -1),
                         torch.stack([-w[..., 1], w[..., 0], 0 * w[..., 0]], -1)], -2)
        return eye + torch.sin(th) / th * K + (1 - torch.cos(th)) / th ** 2 * K @ K

    def joints():
        R = R0 @ expm(phi)
        Jr = J0 + torch.einsum("jkl,nl->njk", Jd, be)
        Rg, p = [R[:, 0]], [Jr[:, 0]]
        for j in range(1, 24):
            a = par[j]
            Rg.append(Rg[a] @ R[:, j])
            p.append(p[a] + (Rg[a] @ (Jr[:, j] - Jr[:, a])[..., None])[..., 0])
        Rg, p = torch.stack(Rg, 1), torch.stack(p, 1)
        pf = (R[:, 1:] - eye).reshape(n, 207)
        v = vt + torch.einsum("vkl,nl->nvk", vd, be) + torch.einsum("vkq,nq->nvk", vp, pf)
        y = torch.einsum("njab,nvjb->nvja", Rg, v[:, :, None] - Jr[:, None]) + p[:, None]
        x = torch.einsum("vj,nvja->nva", vw, y)
        return torch.cat([p, x], 1) + tr[:, None]

    def cost():
        J = joints()[:, idx]
        uv = focal * J[..., :2] / J[..., 2:] + T(pp)
        sq = ((uv - kp_[..., :2]) ** 2).sum(-1) / (o["sigma_rel"] * nrm[:, None]) ** 2
        c2 = o["robust_scale"] ** 2
        c = (kp_[..., 2] * c2 * sq / (sq + c2)).sum()
        c = c + o["w_root"] * (phi[:, 0] ** 2).sum() + o["w_pose"] * (phi[:, 1:] ** 2).sum()
        c = c + o["w_betas_init"] * ((be - b0) ** 2).sum() + o["w_shape"] * (be ** 2).sum()
        return c

    opt = torch.optim.LBFGS([phi, be, tr], lr=1, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        c = cost()
        c.backward()
        return c
    t = time.perf_counter()
    opt.step(closure)
    dt = time.perf_counter() - t
    return phi.detach().numpy(), be.detach().numpy(), tr.detach().numpy(), dt


def _rot(axis, ang):
    aa = np.zeros(np.shape(ang) + (3,))
    aa[..., axis] = ang
    return S.rodrigues(aa)


def domain_shift(sc, f, pp):
    """The estimate of a released regressor on a new domain: the scene's per-person errors plus
    systematic ones: the root turned by half the person's off-centre angle towards the optical
    axis (a position-blind regressor) and leaning 5 deg forward, knees and elbows 10 deg too
    flexed, betas shrunk halfway to the mean, depth 10 % too far."""
    c = A.center_scale(sc["boxes"])[0]
    ax = np.arctan((c[:, 0] - pp[0]) / f)
    ay = np.arctan((c[:, 1] - pp[1]) / f)
    R = sc["init_rotmat"].copy()
    R[:, 0] = _rot(1, -0.5 * ax) @ _rot(0, 0.5 * ay + np.deg2rad(5)) @ R[:, 0]
    R[:, [4, 5, 18, 19]] = R[:, [4, 5, 18, 19]] @ _rot(0, np.deg2rad(10))
    betas = sc["init_betas"] - 0.5 * sc["betas"]
    t = sc["init_transl"] * 1.1
    return R, betas, t


def regressor_world(args, fb, sc, metrics, bins, off):
    """Fine-tuning rows (refine='finetune'): a synthetic linear "regressor world"
    (cliff.annotate.finetune.synthetic_world): features that a released-style collapsed regressor maps
    exactly onto the domain-shifted estimates (domain_shift), with the truth linearly encoded in
    them. Besides the usual metrics, the systematic errors put in by domain_shift: mean knee/elbow
    flexion error (deg, truth 0, shift +10), regression slope of the betas on the true betas
    (truth 1, shift 0.5), median depth error (%, shift +10) and the root's yaw error per degree
    of horizontal off-centre angle (slope, shift -0.5)."""
    from cliff.annotate import finetune as FT
    from cliff.camera import bbox_info
    W, H = sc["img_size"]
    f = sc["focal"]
    n = len(sc["rotmat"])
    pp = np.array([W / 2, H / 2])
    center, scale = A.center_scale(sc["boxes"])
    b = 200 * scale
    fv, ppv = np.full(n, f), np.tile(pp, (n, 1))
    R0, be0, t0 = domain_shift(sc, f, pp)
    T = FT.smpl_to_states(sc["rotmat"], sc["betas"], FT.cam_from_translation(sc["transl"], center, b, fv, ppv))
    S0 = FT.smpl_to_states(R0, be0, FT.cam_from_translation(t0, center, b, fv, ppv))
    reg, F = FT.synthetic_world(T, S0, seed=args.seed)
    bi = bbox_info(center, b, (W, H), f)
    kp = sc["keypoints"]
    opts = dict(epochs=args.ft_epochs, rank=args.ft_rank, lr=args.ft_lr)
    ax = np.degrees(np.arctan((center[:, 0] - pp[0]) / f))

    def decode(r):
        Rr, br, cam = FT.states_to_smpl(r.run(F, bi))
        t, _ = FT.camera_translation(cam, center, b, fv, ppv)
        return Rr, br, t

    def fit(Rr, br, t):
        o = A.refine(fb, Rr, br, t, kp, sc["boxes"], (W, H), f)
        return o["rotmat"], o["betas"], o["transl"]

    def systematic(est, idx):
        Rr, br, t = (a[idx] for a in est)
        d = np.swapaxes(sc["rotmat"][idx][:, [4, 5, 18, 19]], -1, -2) @ Rr[:, [4, 5, 18, 19]]
        flex = np.degrees(np.arctan2(d[..., 2, 1], d[..., 2, 2])).mean()
        bt = sc["betas"][idx]
        slope = (br * bt).sum() / (bt ** 2).sum()
        depth = 100 * (np.median(t[:, 2] / sc["transl"][idx, 2]) - 1)
        e = Rr[:, 0] @ np.swapaxes(sc["rotmat"][idx, 0], -1, -2)  # camera-frame root error
        yaw = np.degrees(np.arctan2(e[:, 0, 2], e[:, 2, 2]))
        x = ax[idx] - ax[idx].mean()
        return [f"{flex:+.1f}", f"{slope:.2f}", f"{depth:+.1f}", f"{(x * yaw).sum() / (x * x).sum():+.2f}"]

    allp = np.arange(n)
    rows, times = [], {}
    start = decode(reg)
    rows.append(("released regressor (domain-shifted estimate)", start, allp))
    rows.append(("per-person fit (refine='fit')", fit(*start), allp))
    for loss in ("full", "crop"):
        t1 = time.perf_counter()
        res = FT.finetune(reg, fb, F, bi, kp, COCO17_TO_SMPLX, center, b, f, (W, H), loss=loss, **opts)
        times[loss] = time.perf_counter() - t1
        est = decode(res.regressor)
        if loss == "full":
            hist = res.history
            rows.append(("fine-tuned regressor, full-frame loss (refine='finetune')", est, allp))
            rows.append(("fine-tuned + per-person fit (refine='finetune+fit')", fit(*est), allp))
        else:
            rows.append(("fine-tuned regressor, crop loss (ablation)", est, allp))
    for rank in (0, 64):  # the size of the update: bias + bbox block only, and a 4x larger rank
        res = FT.finetune(reg, fb, F, bi, kp, COCO17_TO_SMPLX, center, b, f, (W, H),
                          **dict(opts, rank=rank))
        rows.append((f"fine-tuned regressor, full-frame loss, rank {rank}", decode(res.regressor), allp))
    # generalisation: fine-tune on the first half, apply to the unseen second half
    h = n // 2
    res = FT.finetune(reg, fb, F[:h], bi[:h], kp[:h], COCO17_TO_SMPLX, center[:h], b[:h], f, (W, H), **opts)
    sec = np.arange(h, n)
    rows.append((f"unseen half ({n - h} people): released regressor", start, sec))
    rows.append((f"unseen half ({n - h} people): fine-tuned on the other half", decode(res.regressor), sec))
    print()
    print(f"Regressor world ({n} people, same scene; fine-tuning: Adam, {args.ft_epochs} epochs, "
          f"batch 64, lr {args.ft_lr}, rank {args.ft_rank}; full-frame loss {times['full']:.1f} s, "
          f"crop loss {times['crop']:.1f} s; objective {hist[0]:.1f} -> {min(hist):.1f})")
    print()
    print("| run | reproj. error px (median) | PA-MPJPE mm (mean) | root error deg (mean) | "
          "root deg, >= 20 deg off | knee/elbow flex error deg | betas slope | depth error % | "
          "root yaw error per deg off-centre |")
    print("|" + "---|" * 9)
    for name, est, idx in rows:
        m = {k: v[idx] for k, v in metrics(*est).items()}
        far = off[idx] >= 20
        cells = [f"{np.median(m['reproj']):.2f}", f"{m['pa'].mean():.1f}", f"{m['root'].mean():.2f}",
                 f"{m['root'][far].mean():.2f}"] + systematic(est, idx)
        print(f"| {name} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--body", choices=("standin", "procedural"), default="standin")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--e2e", choices=("res50", "hr48"), default=None,
                    help="also time step 1 (cliff.crop + Model.predict) with random weights of "
                         "this backbone (same speed as the released ones) for people/minute "
                         "end to end")
    ap.add_argument("--e2e-people", type=int, default=24)
    ap.add_argument("--no-peer", action="store_true", help="skip the PyTorch L-BFGS peer")
    ap.add_argument("--no-finetune", action="store_true", help="skip the regressor-world fine-tuning rows")
    ap.add_argument("--ft-epochs", type=int, default=20)
    ap.add_argument("--ft-rank", type=int, default=16)
    ap.add_argument("--ft-lr", type=float, default=1e-3)
    ap.add_argument("--rounds", type=int, default=3, help="alternating timing rounds")
    ap.add_argument("--peer-people", type=int, default=200,
                    help="people in the side-by-side with the PyTorch peer (first ones of the scene)")
    args = ap.parse_args()
    cliff.set_num_threads(args.threads)
    if args.body == "standin":
        from cliff._standin import smpl_arrays
        body = smpl_arrays(0)
    else:
        body = S.procedural_body(0)
    fb = FitBody.from_smpl(body)
    sc = S.make_scene(body, args.people, seed=args.seed, rot_noise_deg=8, root_noise_deg=15,
                      outliers=0.05, offcentre=0.95)
    W, H = sc["img_size"]
    f, pp = sc["focal"], np.array([W / 2, H / 2])
    gt24 = sc["joints"][:, :24]
    pel = sc["joints"][:, 0]
    off = np.degrees(np.arccos(pel[:, 2] / np.linalg.norm(pel, axis=1)))
    bins = [(0, 10), (10, 20), (20, 90)]

    def metrics(rot, betas, transl):
        J = S.smpl_forward(body, rot, betas, transl)[:, :24]
        return {"reproj": reproj_error(body, rot, betas, transl, sc["keypoints"], f, pp),
                "pa": L.pa_mpjpe(J, gt24) * 1000,
                "root": L.rotation_angle_deg(rot[:, 0], sc["rotmat"][:, 0])}

    rows = [("initial estimate", metrics(sc["init_rotmat"], sc["init_betas"], sc["init_transl"]), None)]
    for loss in ("full", "crop"):
        A.refine(fb, sc["init_rotmat"][:8], sc["init_betas"][:8], sc["init_transl"][:8],
                 sc["keypoints"][:8], sc["boxes"][:8], (W, H), f, loss=loss)  # warm-up
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = A.refine(fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"],
                         sc["keypoints"], sc["boxes"], (W, H), f, loss=loss)
            times.append(time.perf_counter() - t0)
        dt = float(np.median(times))
        name = "refined, full-frame loss (CLIFF)" if loss == "full" else "refined, crop loss (HMR-style)"
        rows.append((name, metrics(r["rotmat"], r["betas"], r["transl"]),
                     (dt, r["iterations"].mean(), r["converged"].mean())))

    print(f"cliff {cliff.__version__}, body={args.body}, {args.people} people, "
          f"{args.threads} threads, image {W}x{H}, focal {f:.0f} px")
    print(f"off-centre angle: median {np.median(off):.1f} deg, max {off.max():.1f} deg; "
          f"people per bin: " + ", ".join(f"{a}-{b} deg: {((off >= a) & (off < b)).sum()}" for a, b in bins))
    print()
    hdr = "| run | reproj. error px (median) | PA-MPJPE mm (mean) | root error deg (mean) | " + \
          " | ".join(f"root deg, {a}-{b} deg off" for a, b in bins) + " |"
    print(hdr)
    print("|" + "---|" * (4 + len(bins)))
    for name, m, _ in rows:
        cells = [f"{np.median(m['reproj']):.2f}", f"{m['pa'].mean():.1f}", f"{m['root'].mean():.2f}"]
        cells += [f"{m['root'][(off >= a) & (off < b)].mean():.2f}" for a, b in bins]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    init, full, crop = rows[0][1], rows[1][1], rows[2][1]
    print(f"reprojection error cut by {100 * (1 - np.median(full['reproj']) / np.median(init['reproj'])):.0f} % "
          f"(full-frame loss); PA-MPJPE {init['pa'].mean():.1f} -> {full['pa'].mean():.1f} mm")
    far = off >= 20
    print(f"root orientation error, crop loss / full-frame loss: {crop['root'].mean() / full['root'].mean():.2f}x "
          f"overall, {crop['root'][far].mean() / full['root'][far].mean():.2f}x for people >= 20 deg off-centre")
    print()
    print("| fit (median of 3 runs) | seconds | people / minute | mean LM iterations | converged |")
    print("|---|---|---|---|---|")
    for name, _, sp in rows[1:]:
        dt, it, conv = sp
        print(f"| {name} | {dt:.2f} | {60 * args.people / dt:,.0f} | {it:.1f} | {100 * conv:.0f} % |")
    if not args.no_peer:
        import torch
        torch.set_num_threads(args.threads)
        o = dict(sigma_rel=0.01, robust_scale=3.0, w_root=1.0, w_pose=10.0, w_betas_init=1.0,
                 w_shape=0.1)  # cliff.annotate.fit.fit_people defaults
        P = min(args.peer_people, args.people)
        sub = {k: (v[:P] if isinstance(v, np.ndarray) else v) for k, v in sc.items()}
        center, scale = A.center_scale(sub["boxes"])
        b = 200 * scale
        args_ref = (fb, sub["init_rotmat"], sub["init_betas"], sub["init_transl"], sub["keypoints"],
                    sub["boxes"], (W, H), f)
        A.refine(*args_ref)  # warm-up

        def objective(phi, be, t):  # per-person objective, evaluated in float64 NumPy
            R = sub["init_rotmat"] @ S.rodrigues(phi)
            J = S.smpl_forward(body, R, be, t)[:, COCO17_TO_SMPLX]
            uv = f * J[..., :2] / J[..., 2:] + pp
            sq = ((uv - sub["keypoints"][..., :2]) ** 2).sum(-1) / (0.01 * b[:, None]) ** 2
            c = (sub["keypoints"][..., 2] * 9 * sq / (sq + 9)).sum(1)
            c += (phi[:, 0] ** 2).sum(-1) + 10 * (phi[:, 1:] ** 2).sum((1, 2))
            return c + ((be - sub["init_betas"]) ** 2).sum(1) + 0.1 * (be ** 2).sum(1)
        c0 = objective(np.zeros((P, 24, 3)), sub["init_betas"], sub["init_transl"])
        peers = {"ours": [], 100: [], 400: []}
        cost = {}
        for rnd in range(args.rounds):  # alternate the peers, medians over rounds
            for key in peers:
                if key == "ours":
                    t0 = time.perf_counter()
                    ours = A.refine(*args_ref)
                    peers[key].append(time.perf_counter() - t0)
                    cost[key] = objective(ours["phi"], ours["betas"], ours["transl"]).mean()
                else:
                    phi, be, t, dt = torch_fit(fb, sub["init_rotmat"], sub["init_betas"],
                                               sub["init_transl"], sub["keypoints"],
                                               COCO17_TO_SMPLX, f, pp, b, o, max_iter=key)
                    peers[key].append(dt)
                    cost[key] = objective(phi, be, t).mean()
        med = {k: float(np.median(v)) for k, v in peers.items()}
        print()
        print(f"Side by side on {P} people, {args.threads} threads, peers alternated, median of "
              f"{args.rounds} rounds")
        print()
        print("| fitter (same objective, same start) | seconds | people / minute | mean objective (start " +
              f"{c0.mean():.1f}) | time ratio |")
        print("|---|---|---|---|---|")
        print(f"| cliff: C Levenberg-Marquardt, analytic Jacobians, OpenMP over people | {med['ours']:.3f} | "
              f"{60 * P / med['ours']:,.0f} | {cost['ours']:.2f} | 1 |")
        for it in (100, 400):
            print(f"| PyTorch {torch.__version__} autograd + L-BFGS (strong Wolfe), max {it} iterations, "
                  f"all people in one batch | {med[it]:.2f} | {60 * P / med[it]:,.0f} | {cost[it]:.2f} | "
                  f"{med[it] / med['ours']:.0f}x |")
    if not args.no_finetune:
        regressor_world(args, fb, sc, metrics, bins, off)
    if args.e2e:
        from cliff._standin import random_state_dict
        from cliff.model import Model
        model = Model.from_state_dict(random_state_dict(args.e2e, 0))
        pred = A.default_predictor(model)
        img = np.zeros((H, W, 3), np.uint8)
        m = min(args.e2e_people, args.people)
        pred(img, sc["boxes"][:2], f)  # warm-up
        t1s = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for s in range(0, m, 4):  # 4 people per image
                pred(img, sc["boxes"][s:s + 4], f)
            t1s.append((time.perf_counter() - t0) / m)
        t1 = float(np.median(t1s))
        t2 = rows[1][2][0] / args.people
        print()
        print(f"end to end ({args.e2e}, {args.threads} threads, 4 people per image): step 1 "
              f"(crop + CLIFF) {1000 * t1:.0f} ms/person, step 2 (fit) {1000 * t2:.2f} ms/person "
              f"-> {60 / (t1 + t2):,.0f} people / minute")


if __name__ == "__main__":
    main()
