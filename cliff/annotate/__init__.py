"""The CLIFF annotator (the paper's third idea): SMPL pseudo ground truth from 2D keypoints.

    annotator.py     annotate(): predict -> refine against the keypoints -> pseudo-GT .npz
    fit.py           per-person Levenberg-Marquardt refinement (C core: csrc/fit.c)
    finetune.py      the paper's step 3: fine-tune the regressor with the full-frame loss
    losses.py        full-frame and crop-based supervision (NumPy)
    losses_torch.py  the same losses, differentiable in PyTorch (optional)
    keypoints.py     2D keypoint formats, their mapping to the 45 body joints, file readers

docs/annotate.md describes the method, its options and its measured accuracy.
"""
from .annotator import (
    annotate,
    center_scale,
    check_focal,
    clean_keypoints,
    default_predictor,
    load_keypoints,
    model_joints,
    pseudo_gt_record,
    read_image,
    refine,
    save_npz_atomic,
)
from .fit import FitBody, fit_jacobian, fit_people

__all__ = ["annotate", "refine", "center_scale", "check_focal", "clean_keypoints",
           "default_predictor", "load_keypoints", "model_joints", "pseudo_gt_record",
           "read_image", "save_npz_atomic", "FitBody", "fit_people", "fit_jacobian"]
