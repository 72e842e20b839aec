"""The step-by-step composition of the public pieces that cliff.Estimator replaced with one
C call (issue 9): crop -> Model.predict -> SMPL -> project_points, exactly as Estimator.run and
run_many composed them before (people of several images in one Model.predict call). Kept as the
reference the one-call path must match bit for bit (tests/test_pipeline_onecall.py) and as the
"before" of benchmarks/bench_pipeline.py.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import cliff
from cliff.pipeline import camera_for


def _prepare(image, xyxy, focal, K, bgr, rescale):
    img = np.asarray(image)[..., :3]
    if bgr:
        img = img[..., ::-1]
    img = np.ascontiguousarray(img)  # the Python-side copy the one-call path avoids
    h, w = img.shape[:2]
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, np.shape(xyxy)[-1])[:, :4]
    f, fxfy, pp = camera_for(w, h, focal, K)
    prep = {"fxfy": fxfy, "pp": pp, "f": f, "n": len(boxes), "xyxy": boxes.astype(np.float32)}
    if len(boxes):
        c = cliff.crop(img, boxes, rescale=rescale)  # crossing 1
        prep.update(crops=c["crops"], boxes=c["boxes"], center=c["center"], scale=c["scale"])
    return prep


def compose_batch(model: "cliff.Model", smpl: "cliff.SMPL", items: Sequence[tuple], *,
                  bgr: bool = False, rescale: float = 1.1) -> list[dict[str, Any]]:
    """items: (image, xyxy, focal, K) per image (each image has at least one box). One
    Model.predict for all people, then SMPL and projection per image: the pre-issue-9
    Estimator._predict."""
    preps = [_prepare(im, xy, f, K, bgr, rescale) for im, xy, f, K in items]
    crops = np.concatenate([p["crops"] for p in preps])
    boxes = np.concatenate([p["boxes"] for p in preps])
    img_size = np.concatenate([np.tile(np.multiply(p["pp"], 2.0), (p["n"], 1)) for p in preps])
    focal = np.concatenate([np.full(p["n"], p["f"]) for p in preps])
    out = model.predict(crops, boxes, img_size.astype(np.float32), focal.astype(np.float32))  # 2
    results, start = [], 0
    for p in preps:
        res = {k: v[start:start + p["n"]] for k, v in out.items()}
        start += p["n"]
        body = smpl(rotmat=res["rotmat"], betas=res["betas"], transl=res["t_full"])  # crossing 3
        res["vertices"] = body["vertices"]
        res["joints"] = body["joints"]
        fx, fy = p["fxfy"]
        cx, cy = p["pp"]
        res["joints2d"] = cliff.project_points(body["joints"], K=(fx, fy, cx, cy)).astype(np.float32)  # 4
        res["xyxy"] = p["xyxy"]
        res["center"] = p["center"]
        res["scale"] = p["scale"]
        results.append(res)
    return results


def compose_run(model, smpl, image, xyxy, focal=None, K=None, *, bgr=False, rescale=1.1):
    """All people of one image through four crossings into C (the pre-issue-9 Estimator.run)."""
    return compose_batch(model, smpl, [(image, xyxy, focal, K)], bgr=bgr, rescale=rescale)[0]
