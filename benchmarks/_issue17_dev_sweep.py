"""Issue 17 experiment (reverted in the next commit): sums the harm numbers over several DEV seeds.

    PYTHONPATH=. python benchmarks/_issue17_dev_sweep.py 3,4,5 '{"parts": 0.999}'

Env switches of this experimental build: TWSKIP=1 (twist prior on limb joints only), SPINEMUL=m
(spine prior x m), L2MODE=1 (pixel criterion of the per-part test)."""
import sys, json
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests")); sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np, cliff
from cliff.annotate import annotator as A, losses as L
from cliff.annotate.fit import FitBody
from reference import scenes as S
from bench_annotate_quality import SEVERITIES
from cliff._standin import smpl_arrays
body = smpl_arrays(0); fb = FitBody.from_smpl(body)
cliff.set_num_threads(2)
seeds = [int(x) for x in sys.argv[1].split(",")]; opts = json.loads(sys.argv[2])
for sev, kw in SEVERITIES.items():
    acc = {k: [] for k in "r1 pa1 wr wp lim rg far".split()}
    for seed in seeds:
        sc = S.make_scene(body, 400, seed=seed, outliers=0.05, offcentre=0.95, **kw)
        W, H = sc["img_size"]; gt = sc["joints"][:, :24]
        def met(R, b, t):
            J = S.smpl_forward(body, R, b, t)[:, :24]
            return L.pa_mpjpe(J, gt) * 1000, L.rotation_angle_deg(R[:, 0], sc["rotmat"][:, 0])
        pa0, r0 = met(sc["init_rotmat"], sc["init_betas"], sc["init_transl"])
        r = A.refine(fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"], sc["boxes"], (W, H), sc["focal"], **opts)
        pa1, r1 = met(r["rotmat"], r["betas"], r["transl"])
        wr, wp = r1 > r0 + 5, pa1 > pa0 + 10
        for k, v in dict(r1=r1, pa1=pa1, wr=wr, wp=wp, lim=wp & ~wr, rg=wr & (r0 <= 10), far=r["err_final"] > 20).items(): acc[k].append(v)
    a = {k: np.concatenate(v) for k, v in acc.items()}
    print(f"{sev:9s} root {a['r1'].mean():.2f} PA {a['pa1'].mean():.2f} either {100*(a['wr']|a['wp']).mean():.2f}% (n={int((a['wr']|a['wp']).sum())}) rootw {int(a['wr'].sum())} paw {int(a['wp'].sum())} limbs {int(a['lim'].sum())} rootgood {int(a['rg'].sum())} >20px {int(a['far'].sum())}", flush=True)
