"""Type stub of the C extension cliff._core (thin bindings over csrc/cliff.h)."""
from typing import Any

import numpy as np
import numpy.typing as npt

def set_num_threads(n: int, /) -> None: ...
def get_num_threads() -> int: ...
def dnnl_info() -> dict[str, Any]: ...
def facts() -> dict[str, Any]: ...  # crop_height, crop_width, imagenet_mean, imagenet_std, box_rescale

# ---- architecture facts (csrc/nn/arch.c, csrc/py/arch.c) ----
def net_arch_keys(backbone: str, /) -> list[tuple[str, tuple[int, ...], str]]: ...  # (key, shape, dtype)
def net_facts() -> dict[str, Any]: ...  # backbones, features, pose6d, betas, cam, state, regressor_input
def families() -> tuple[dict[str, Any], ...]: ...  # the core's CLIFF family table (cliff.families)
def regressor_collapse(
    names: list[str], arrays: list[npt.ArrayLike], /
) -> dict[str, npt.NDArray[np.float64]]: ...  # Mx (157, 2051), Ms (157, 157), c, init (157,)

# ---- geometry (csrc/py/geometry.c); precision follows the first argument ----
_F = npt.NDArray[np.floating[Any]]
def rot6d_to_rotmat(x: npt.ArrayLike, /) -> _F: ...  # (..., 6) -> (..., 3, 3)
def rotmat_to_axis_angle(R: npt.ArrayLike, /) -> _F: ...  # (..., 3, 3) -> (..., 3)
def axis_angle_to_rotmat(aa: npt.ArrayLike, /) -> _F: ...  # (..., 3) -> (..., 3, 3)
def boxes_to_center_scale(
    xyxy: npt.ArrayLike, rescale: float, /
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def bbox_info(
    center: npt.ArrayLike, b: npt.ArrayLike, principal_point: npt.ArrayLike,
    focal: npt.ArrayLike, form: int, /
) -> _F: ...  # all with the same leading dims; form 0 = released, 1 = paper
def cam_crop_to_full(
    cam_crop: npt.ArrayLike, center: npt.ArrayLike, b: npt.ArrayLike,
    principal_point: npt.ArrayLike, focal: npt.ArrayLike, /
) -> _F: ...
def project_points(
    points: npt.ArrayLike, fxfy: npt.ArrayLike, principal_point: npt.ArrayLike, /
) -> _F: ...  # fxfy, principal_point: (2,) shared or (..., 2) per point
def estimate_focal_length(
    img_w: npt.ArrayLike, img_h: npt.ArrayLike, /
) -> npt.NDArray[np.float64]: ...

# ---- SMPL (csrc/smpl.c, csrc/py/smpl.c) ----
class SMPL:
    """SMPL or SMPL-X body model in C (cliff_body). Arrays are copied (float64 in; float32
    compute). kind="smplx": SMPL-X sizes; num_pose_joints: rotations forward reads (0 = all);
    rest_rotmats (J,3,3) for the other joints (None = identity); landmark_vertices /
    landmark_weights (L,3); faces (F,3) kept for the caller."""
    def __init__(self, v_template: npt.ArrayLike, shapedirs: npt.ArrayLike,
                 posedirs: npt.ArrayLike, J_regressor: npt.ArrayLike, weights: npt.ArrayLike,
                 parents: npt.ArrayLike, *, kind: str = "smpl", num_pose_joints: int = 0,
                 rest_rotmats: npt.ArrayLike | None = None,
                 landmark_vertices: npt.ArrayLike | None = None,
                 landmark_weights: npt.ArrayLike | None = None,
                 faces: npt.ArrayLike | None = None) -> None: ...
    @property
    def num_betas(self) -> int: ...
    @property
    def kind(self) -> str: ...  # "smpl" or "smplx"
    @property
    def num_vertices(self) -> int: ...
    @property
    def num_joints(self) -> int: ...
    @property
    def num_pose_joints(self) -> int: ...
    @property
    def num_output_joints(self) -> int: ...
    @property
    def num_landmarks(self) -> int: ...
    @property
    def faces(self) -> np.ndarray: ...
    @property
    def vertex_joint_ids(self) -> np.ndarray: ...
    threads: int  # this model's thread count; 0 assigned = follow set_num_threads
    def forward(self, rotmat: npt.ArrayLike | None = None, pose: npt.ArrayLike | None = None,
                betas: npt.ArrayLike | None = None, transl: npt.ArrayLike | None = None, *,
                vertices: bool = True) -> dict[str, np.ndarray]: ...
    def fit_body(self, k: int, /) -> dict[str, np.ndarray]: ...  # J0, Jdirs, parents, vt, vdirs, vpose, vweights

def smpl_vertex_joint_ids() -> np.ndarray: ...
def smplx_vertex_joint_ids() -> np.ndarray: ...
def crop(
    image: npt.ArrayLike,
    xyxy: npt.ArrayLike,
    rescale: float = 1.1,
    *,
    bgr: bool = False,
    nhwc: bool = False,
    ipp: bool = False,
    square: int = 0,  # 0: CLIFF's 256x192 crop; n: BEDLAM's square n x n crop
) -> dict[str, npt.NDArray[Any]]: ...
def render(image: npt.ArrayLike, vertices: npt.ArrayLike, faces: npt.ArrayLike,
           fxfy: tuple[float, float], pp: tuple[float, float], colors: npt.ArrayLike,
           alpha: float, side_view: bool) -> npt.NDArray[np.uint8]: ...

class Model:
    """cliff_net handle (use cliff.load_model / cliff.Model)."""
    def __new__(cls, backbone: str, precision: str, names: list[str], arrays: list[npt.ArrayLike],
                consume: bool = False, conv: str | None = None) -> Model: ...
    def predict(self, crops: npt.ArrayLike, boxes: npt.ArrayLike, principal_point: npt.ArrayLike,
                focal: npt.ArrayLike, n_iter: int, /) -> dict[str, np.ndarray]: ...
    def features(self, crops: npt.ArrayLike, /) -> np.ndarray: ...
    def layers(self) -> list[tuple[str, str, str]]: ...
    def profile(self, n: int, reps: int, /) -> list[float]: ...
    def close(self) -> None: ...
    def regressor(self) -> dict[str, npt.NDArray[np.float64]]: ...  # Mx, Ms, c, init
    @property
    def closed(self) -> bool: ...
    @property
    def weight_bytes(self) -> int: ...
    @property
    def work_bytes(self) -> int: ...
    threads: int  # this network's thread count; 0 assigned = follow set_num_threads
# ---- the whole pipeline (csrc/estimate.c, csrc/py/estimate.c); see cliff.Estimator ----
class Estimator:
    """cliff_estimator over a Model and an SMPL (both kept alive): one C call per batch."""
    def __new__(cls, model: Model, smpl: SMPL, rescale: float = 1.1, *, ipp: bool = True,
                n_iter: int = 3) -> Estimator: ...
    def run(self, images: list[npt.ArrayLike], boxes: list[npt.ArrayLike],
            cameras: npt.ArrayLike, bgr: bool = False, *,
            vertices: bool = True) -> dict[str, np.ndarray]: ...
# ---- fitting (csrc/fit.c, csrc/py/fit.c); see cliff.annotate.fit ----
def fit_people_ex(body: tuple, R0: npt.ArrayLike, betas0: npt.ArrayLike, t0: npt.ArrayLike,
                  cam: npt.ArrayLike, kp: npt.ArrayLike, kp_joint: npt.ArrayLike,
                  norm: npt.ArrayLike, x0: npt.ArrayLike | None = None, *, max_iter: int = 30,
                  tol: float = 1e-6, robust: int = 1, robust_scale: float = 3.0,
                  sigma_rel: float = 0.01, w_root: float = 0.0, w_pose: float = 0.0,
                  w_betas_init: float = 0.0, w_shape: float = 0.0, w_transl: float = 0.0,
                  w_gmm: float = 0.0, pose_prior: tuple | None = None, w_up: float = 0.0,
                  up_sigma: float = 0.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                             np.ndarray]: ...
def fit_evaluate(body: tuple, R0: npt.ArrayLike, betas0: npt.ArrayLike, t0: npt.ArrayLike,
                 cam: npt.ArrayLike, kp: npt.ArrayLike, kp_joint: npt.ArrayLike,
                 norm: npt.ArrayLike, R: npt.ArrayLike, betas: npt.ArrayLike, t: npt.ArrayLike,
                 *, max_iter: int = 30, tol: float = 1e-6, robust: int = 1,
                 robust_scale: float = 3.0, sigma_rel: float = 0.01, w_root: float = 0.0,
                 w_pose: float = 0.0, w_betas_init: float = 0.0, w_shape: float = 0.0,
                 w_transl: float = 0.0, w_gmm: float = 0.0,
                 pose_prior: tuple | None = None, w_up: float = 0.0,
                 up_sigma: float = 0.0) -> tuple[np.ndarray, np.ndarray]: ...
def fit_pose_prior(R0: npt.ArrayLike, phi: npt.ArrayLike, w_gmm: float,
                   pose_prior: tuple) -> tuple[np.ndarray, np.ndarray]: ...
def fit_upright_prior(R0: npt.ArrayLike, phi: npt.ArrayLike, w_up: float,
                      up_sigma: float) -> tuple[np.ndarray, np.ndarray]: ...
def fit_jacobian(body: tuple, R0: npt.ArrayLike, phi: npt.ArrayLike, betas: npt.ArrayLike,
                 t: npt.ArrayLike, cam: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray, np.ndarray]: ...
# ---- detector (csrc/nn/yolo.c, csrc/py/detect.c); see cliff.detect.yolo ----
def yolo_open(path: str, precision: str, /) -> object: ...
def yolo_close(detector: object, /) -> None: ...
def yolo_weight_bytes(detector: object, /) -> int: ...
def yolo_detect(detector: object, images: list[npt.ArrayLike], confidence: float, nms_iou: float,
                all_classes: bool, max_per_image: int, /) -> np.ndarray: ...
def yolo_heads(detector: object, input: npt.ArrayLike, /) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def yolo_letterbox(image: npt.ArrayLike, size: int, /) -> npt.NDArray[np.uint8]: ...
def yolo_postprocess(head13: npt.ArrayLike, head26: npt.ArrayLike, head52: npt.ArrayLike,
                     sizes: npt.ArrayLike, confidence: float, nms_iou: float, all_classes: bool,
                     max_per_image: int, /) -> np.ndarray: ...

# HumanFoV (csrc/fov.c, csrc/py/fov.c): the capsule is wrapped by cliff.focal.FocalEstimator
def fov_arch_keys() -> list[tuple[str, tuple[int, ...], str]]: ...  # (key, shape, dtype)
def fov_open(precision: str, names: list[str], arrays: list[npt.ArrayLike], /) -> object: ...
def fov_close(fov: object, /) -> None: ...
def fov_threads(fov: object, n: int | None = ..., /) -> int: ...
def fov_weight_bytes(fov: object, /) -> int: ...
def fov_predict(fov: object, images: list[npt.ArrayLike], bgr: bool, /) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
def fov_run(fov: object, inputs: npt.ArrayLike, /) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
def fov_preprocess(images: list[npt.ArrayLike], bgr: bool, /) -> npt.NDArray[np.float32]: ...
def fov_letterbox(image: npt.ArrayLike, /) -> npt.NDArray[np.uint8]: ...
