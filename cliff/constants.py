"""The model facts cliff relies on, each defined once (docs/official.md says where each comes from).

Numbers the C core also uses (crop size, ImageNet statistics, the vertex joints) are read from
the core, so Python and C cannot disagree; the rest are the official release's values.
"""
from __future__ import annotations

import numpy as np

from . import _core

_facts = _core.facts()

_net = _core.net_facts()

#: The two CLIFF networks the core builds (HRNet-W48 and ResNet-50 encoders), read from the core.
BACKBONES: tuple = tuple(_net["backbones"])
#: Encoder feature size and the regressor state s = [pose6d (24 joints x 6) | betas | cam
#: (s, tx, ty)], read from the core (csrc/cliff.h, CLIFF_NET_*).
NUM_FEATURES: int = _net["features"]
NUM_POSE6D: int = _net["pose6d"]
NUM_BETAS: int = _net["betas"]
NUM_CAM: int = _net["cam"]
NUM_STATE: int = _net["state"]

#: The official mean parameters (the release's smpl_mean_params.npz), the values a CLIFF
#: checkpoint's init_pose (root joint), init_shape and init_cam start from.
MEAN_ROOT_6D: tuple = (1.0, 0.0, 0.0, -1.0000004768371582, 0.0, 1.5099581673894136e-07)
MEAN_SHAPE: tuple = (0.20560974, 0.33556297, -0.35068282, 0.35612896, 0.41754073,
                     0.030887909, 0.30475676, 0.23613405, 0.20912662, 0.31212646)
MEAN_CAM: tuple = (0.9, 0.0, 0.0)

#: Network input crop, pixels (height, width): the official 256x192 (4:3) crop.
CROP_HEIGHT: int = _facts["crop_height"]
CROP_WIDTH: int = _facts["crop_width"]
#: ImageNet normalisation of the crops, RGB order: (v / 255 - mean) / std, float32.
IMAGENET_MEAN = np.array(_facts["imagenet_mean"], dtype=np.float32)
IMAGENET_STD = np.array(_facts["imagenet_std"], dtype=np.float32)
IMAGENET_MEAN.flags.writeable = False
IMAGENET_STD.flags.writeable = False

#: The crop camera of HMR-style models: focal 5000 crop pixels over a 256-pixel crop (the
#: official constants.FOCAL_LENGTH and IMG_RES); in full-image pixels its focal is 5000 * b / 256.
CROP_FOCAL: float = 5000.0
CROP_SIZE: float = 256.0

#: Official box padding: the detector box is enlarged by 1.1 before the 4:3 crop (read from the core).
BOX_RESCALE: float = _facts["box_rescale"]

#: SMPL's kinematic tree (parent of each of the 24 joints; the root has -1).
SMPL_PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18,
                         19, 20, 21], dtype=np.int64)
SMPL_PARENTS.flags.writeable = False

#: SMPL vertex of each vertex joint 24..44 (smplx's 'smplh' vertex ids), read from the core.
VERTEX_JOINT_IDS: tuple = tuple(int(i) for i in _core.smpl_vertex_joint_ids())

#: The 45 output joints (smplx's SMPL without a joint mapper): the 24 SMPL joints, then the 21
#: vertex joints, named as smplx names them.
JOINT_NAMES: tuple = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
    "nose", "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
    "right_heel", "left_thumb", "left_index", "left_middle", "left_ring", "left_pinky",
    "right_thumb", "right_index", "right_middle", "right_ring", "right_pinky",
)

__all__ = ["BACKBONES", "NUM_FEATURES", "NUM_POSE6D", "NUM_BETAS", "NUM_CAM", "NUM_STATE",
           "MEAN_ROOT_6D", "MEAN_SHAPE", "MEAN_CAM", "CROP_HEIGHT", "CROP_WIDTH", "IMAGENET_MEAN", "IMAGENET_STD", "CROP_FOCAL", "CROP_SIZE",
           "BOX_RESCALE", "SMPL_PARENTS", "VERTEX_JOINT_IDS", "JOINT_NAMES"]
