"""Keypoint formats: tables are consistent with each other and with the model joint names."""
import numpy as np
import pytest

from cliff.annotate import keypoints as K


# ---- format tables and their mapping to the 45 model joints -------------------------------

def test_coco_maps_to_same_named_model_joints():
    # every COCO name exists in the 45 model joint names and the table points at it
    for name, j in zip(K.COCO17_NAMES, K.COCO17_TO_SMPLX):
        assert K.SMPLX45_NAMES[j] == name


def test_openpose_maps_to_same_named_model_joints():
    alias = {"neck": "neck", "mid_hip": "pelvis"}
    for name, j in zip(K.OPENPOSE25_NAMES, K.OPENPOSE25_TO_SMPLX):
        assert K.SMPLX45_NAMES[j] == alias.get(name, name)


def test_part24_mapped_joints_match_names():
    alias = {"neck_lsp": "neck", "pelvis_mpii": "pelvis", "head_h36m": "head"}
    for name, j in zip(K.PART24_NAMES, K.PART24_TO_SMPLX):
        if j >= 0:
            assert K.SMPLX45_NAMES[j] == alias.get(name, name)
    # unmapped: the joints SMPL has no counterpart for
    unmapped = {K.PART24_NAMES[i] for i in np.flatnonzero(K.PART24_TO_SMPLX < 0)}
    assert unmapped == {"head_top_lsp", "thorax_mpii", "spine_h36m", "jaw_h36m"}


def test_coco_to_part24_moves_each_keypoint_to_its_named_slot():
    kp = np.zeros((2, 17, 3))
    kp[..., 0] = np.arange(17)
    kp[..., 2] = 1
    part = K.to_part24(kp)
    for i, name in enumerate(K.COCO17_NAMES):
        slot = K.PART24_NAMES.index(name)
        assert part[0, slot, 0] == i and part[0, slot, 2] == 1
    assert (part[:, K.PART24_TO_SMPLX < 0, 2] == 0).all()
    assert part[:, :, 2].sum() == 2 * 17


def test_openpose_to_part24_slots():
    kp = np.ones((1, 25, 3))
    kp[..., 0] = np.arange(25)
    part = K.to_part24(kp)
    for i, name in enumerate(K.OPENPOSE25_NAMES):
        alias = {"neck": "neck_lsp"}.get(name, name)
        if alias in K.PART24_NAMES:
            assert part[0, K.PART24_NAMES.index(alias), 0] == i


def test_vertex_joint_ids_are_smplx_smplh_table():
    # docs/official.md#joints: joints 24..44 = face 5, feet 6, fingertips (left hand first)
    assert tuple(K.VERTEX_JOINT_IDS) == (332, 6260, 2800, 4071, 583,
                                         3216, 3226, 3387, 6617, 6624, 6787,
                                         2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133)
    assert len(K.SMPLX45_NAMES) == 45


# ---- helpers: boxes from keypoints, input checks -----------------------------------------

def test_boxes_from_keypoints_ignore_zero_confidence():
    kp = np.array([[[10, 20, 1], [110, 220, 1], [1000, 1000, 0]]], float)
    kp = np.concatenate([kp, np.zeros((1, 14, 3))], 1)
    box = K.boxes_from_keypoints(kp, pad=0.0)
    np.testing.assert_allclose(box[0], [10, 20, 110, 220])
    kp[0, 1, 2] = 0  # one visible keypoint: no box
    assert (K.boxes_from_keypoints(kp) == 0).all()


@pytest.mark.parametrize("bad, msg", [
    (np.zeros((1, 18, 3)), "17 \\(COCO\\)"),
    (np.zeros((1, 17, 2)), "shape"),
    (np.full((1, 17, 3), np.nan), "NaN"),
    (-np.ones((1, 17, 3)), "confidences"),
])
def test_check_keypoints_errors(bad, msg):
    with pytest.raises(ValueError, match=msg):
        K.check_keypoints(bad)


# ---- agreement with cliff.SMPL -------------------------------------------------------------

def test_vertex_joint_ids_and_names_agree_with_cliff_smpl():
    # the fitter's default vertex joints are the ones cliff.SMPL outputs as joints 24..44
    from cliff import _core
    from cliff.constants import JOINT_NAMES
    assert tuple(int(v) for v in _core.smpl_vertex_joint_ids()) == K.VERTEX_JOINT_IDS
    assert len(JOINT_NAMES) == 45 and list(JOINT_NAMES[:24]) == list(K.SMPLX45_NAMES[:24])
