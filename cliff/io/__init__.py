"""Readers and writers for the files CLIFF users have, in pure Python + NumPy: PyTorch
checkpoints, safetensors/npz weights, SMPL model files and ``smpl_mean_params.npz``.

No PyTorch, chumpy or SciPy is imported, and no code from a file is ever run: pickles are read
with an allowlist (see :mod:`cliff.io.unpickle` and docs/io.md).
"""
from .unpickle import UnsafePickleError, restricted_load
from .checkpoint import load_checkpoint, save_checkpoint, save_safetensors
from .smpl import load_smpl, save_smpl_npz, save_smpl_pkl
from .smplx import load_smplx, load_smplx2smpl, save_smplx_npz, save_smplx_pkl
from .mean_params import load_mean_params
from .pose_prior import PosePrior, load_pose_prior, save_pose_prior

__all__ = [
    "UnsafePickleError",
    "restricted_load",
    "load_checkpoint",
    "save_checkpoint",
    "save_safetensors",
    "load_smpl",
    "save_smpl_pkl",
    "save_smpl_npz",
    "load_smplx",
    "load_smplx2smpl",
    "save_smplx_npz",
    "save_smplx_pkl",
    "load_mean_params",
    "PosePrior",
    "load_pose_prior",
    "save_pose_prior",
]
