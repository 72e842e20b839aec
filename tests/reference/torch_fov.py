"""Independent PyTorch reference of CameraHMR's HumanFoV camera model (test-only code).

Written from docs/official.md ("CameraHMR HumanFoV"): the trunk is BEDLAM-CLIFF's (``torch_families.HRNet720``): the pose HRNet-W48 (stem, layer1, stages
2-4 with every branch kept), its unused 1x1 heatmap layer ``final_layer``, the conv neck (branches
0, 1, 2 brought to branch 3's resolution by 3, 2, 1 stride-2 3x3 conv/BN/ReLU steps, then
concatenated with branch 3: 48 + 96 + 192 + 384 = 720 channels), the global average pool and the
head, which applies fc1 then fc3 (fc2 exists in the file but the forward pass never calls it; the
dropouts are identity in eval). Module names are chosen so that ``state_dict()`` keys, shapes
and order are the release's ``cam_model_cleaned.ckpt`` ``'state_dict'`` entry.

    net = HumanFoV().eval()
    raw = net(x)                 # x (N, 3, 256, 256) float32 -> (N, 2); raw[:, 1] = vfov (rad)
    focal = H / (2 * tan(raw[:, 1] / 2))

``letterbox`` and ``preprocess`` are the release's image preparation written with OpenCV and
NumPy (resize_image + /255 + ImageNet normalisation).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .torch_families import HRNet720

SIZE = 256
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class HumanFoV(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = HRNet720()  # the same trunk as BEDLAM-CLIFF's
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(720, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.fc3 = nn.Linear(1024, 2)

    def features(self, x):
        return self.avgpool(self.backbone(x)).flatten(1)

    def forward(self, x):
        return self.fc3(self.drop2(self.fc1(self.features(x))))


def letterbox(img: np.ndarray, size: int = SIZE) -> np.ndarray:
    """The release's resize_image: fit inside size x size with INTER_AREA, centred on white."""
    import cv2
    h, w = img.shape[:2]
    aspect = w / h
    if aspect > 1:
        nw, nh = size, int(size / aspect)
    else:
        nw, nh = int(size * aspect), size
    small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.full((size, size, 3), 255, np.uint8)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out


def preprocess(img_rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (3, 256, 256) float32 network input, as the release computes it."""
    x = np.transpose(letterbox(img_rgb).astype("float32"), (2, 0, 1)) / 255.0
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return ((torch.from_numpy(x) - mean) / std).numpy()


def focal_from_vfov(vfov: torch.Tensor, img_h: int) -> torch.Tensor:
    """The release's conversion: img_h / (2 tan(vfov / 2)) (float32)."""
    return img_h / (2 * torch.tan(vfov / 2))
