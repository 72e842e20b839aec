"""Independent PyTorch references of the other CLIFF releases (test-only code).

Written from docs/official.md (#hrnet720, #bedlam-cliff, #mmhuman3d-cliff):

* :class:`HRNet720` - HRNet-W48 with BEDLAM's 720-channel conv neck (the trunk BEDLAM-CLIFF and
  CameraHMR's HumanFoV share): stem, layer1, transitions and stages 2-4 as in the classification
  HRNet, an unused 1x1 ``final_layer`` (48 -> 24, with bias), then ``downsample_stage_1/2/3``
  (3, 2, 1 strided 3x3 convs without bias, each with BN and ReLU) taking branches 0, 1, 2 to
  branch 3's resolution, and the concatenation [b0 | b1 | b2 | b3] (720 channels).
* :class:`BedlamHead` - the CLIFF regressor as BEDLAM writes it (buffers init_*, fc1, fc2,
  decpose, decshape, deccam, and an unused ``downsample_module``); average pool of the trunk's
  map first. ``joints``/``betas`` = 24/10 (cliff.ckpt, SMPL) or 22/11 (bedlam_cliff.ckpt, SMPL-X).
* :class:`BedlamHMR` - ``backbone`` + ``head``: the Lightning module's ``model`` attribute, so
  ``{'model.' + k: v}`` is the layout of the released files' ``state_dict``.
* :class:`MMHCliff` - mmhuman3d's estimator: ``backbone`` (mmcv ResNet-50, torchvision layout)
  and ``head`` (CliffHead: buffers init_*, fc1, fc2, decpose, decshape, deccam).

All float32; rot6d, bbox_info and the camera helpers of :mod:`reference.torch_cliff` are reused
(BEDLAM and mmhuman3d use the same 6D convention and camera as CLIFF; BEDLAM's bbox_info is
the plain form, see :func:`bbox_info_plain`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import torch_cliff as tc

WIDTHS = tc.HR48_WIDTHS  # 48, 96, 192, 384
NECK = sum(WIDTHS)       # 720


def _down_stage(c, steps):
    layers = []
    for _ in range(steps):
        layers += [nn.Conv2d(c, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
    return nn.Sequential(*layers)


class HRNet720(nn.Module):
    """(N, 3, H, W) -> (N, 720, H/32, W/32): BEDLAM's PoseHighResolutionNet(DOWNSAMPLE, USE_CONV)."""

    def __init__(self):
        super().__init__()
        base = tc.HRNetW48Encoder()  # same stem, layer1, transitions and stages
        for name in ("conv1", "bn1", "conv2", "bn2", "layer1", "transition1", "stage2",
                     "transition2", "stage3", "transition3", "stage4"):
            setattr(self, name, getattr(base, name))
        self.final_layer = nn.Conv2d(WIDTHS[0], 24, 1, bias=True)  # heatmaps; never used
        self.downsample_stage_1 = _down_stage(WIDTHS[0], 3)
        self.downsample_stage_2 = _down_stage(WIDTHS[1], 2)
        self.downsample_stage_3 = _down_stage(WIDTHS[2], 1)

    def branches(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)
        xs = [t(x) for t in self.transition1]
        for stage in (2, 3, 4):
            xs = getattr(self, "stage%d" % stage)(xs)
            if stage < 4:
                xs = xs + [getattr(self, "transition%d" % stage)[stage](xs[-1])]
        return xs

    def forward(self, x):
        xs = self.branches(x)
        return torch.cat([self.downsample_stage_1(xs[0]), self.downsample_stage_2(xs[1]),
                          self.downsample_stage_3(xs[2]), xs[3]], 1)


class _Regressor(nn.Module):
    """The CLIFF iterative regressor over pooled features (dropout is identity in eval)."""

    def __init__(self, feat, joints, betas):
        super().__init__()
        self.joints, self.npose, self.nbetas = joints, 6 * joints, betas
        self.fc1 = nn.Linear(feat + 3 + self.npose + betas + 3, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.decpose = nn.Linear(1024, self.npose)
        self.decshape = nn.Linear(1024, betas)
        self.deccam = nn.Linear(1024, 3)
        self.register_buffer("init_pose", torch.zeros(1, self.npose))
        self.register_buffer("init_shape", torch.zeros(1, betas))
        self.register_buffer("init_cam", torch.zeros(1, 3))

    def regress(self, xf, bbox_info, n_iter=3):
        n = xf.shape[0]
        pose = self.init_pose.expand(n, -1)
        shape = self.init_shape.expand(n, -1)
        cam = self.init_cam.expand(n, -1)
        for _ in range(n_iter):
            h = self.drop2(self.fc2(self.drop1(self.fc1(torch.cat([xf, bbox_info, pose, shape, cam], 1)))))
            pose = self.decpose(h) + pose
            shape = self.decshape(h) + shape
            cam = self.deccam(h) + cam
        return tc.rot6d_to_rotmat(pose).view(n, self.joints, 3, 3), shape, cam, pose


class BedlamHead(_Regressor):
    def __init__(self, joints=24, betas=10, feat=NECK):
        super().__init__(feat, joints, betas)
        self.downsample_module = nn.Sequential(*[nn.Sequential(
            nn.Conv2d(feat, feat, 3, 2, 1), nn.BatchNorm2d(feat), nn.ReLU()) for _ in range(3)])

    def forward(self, features, bbox_info, n_iter=3):
        return self.regress(features.mean(dim=(2, 3)), bbox_info, n_iter)


class BedlamHMR(nn.Module):
    """BEDLAM's HMR with the CLIFF head: crops (N,3,224,224) + bbox_info -> rotmat, betas, cam, pose6d."""

    def __init__(self, joints=24, betas=10):
        super().__init__()
        self.backbone = HRNet720()
        self.head = BedlamHead(joints, betas)

    def forward(self, x, bbox_info, n_iter=3):
        return self.head(self.backbone(x), bbox_info, n_iter)


class MMHCliff(nn.Module):
    """mmhuman3d's CliffImageBodyModelEstimator at inference: ResNet-50 -> mean -> CliffHead."""

    def __init__(self):
        super().__init__()
        enc = tc.ResNet50Encoder()
        del enc.avgpool  # mmcv's ResNet has no pooling; the head averages the map
        self.backbone = enc
        self.head = _Regressor(2048, 24, 10)

    def forward(self, x, bbox_info, n_iter=3):
        b = self.backbone
        y = b.maxpool(F.relu(b.bn1(b.conv1(x))))
        y = b.layer4(b.layer3(b.layer2(b.layer1(y))))
        return self.head.regress(y.mean(dim=(2, 3)), bbox_info, n_iter)


def bbox_info_plain(boxes, img_size, focal):
    """BEDLAM's bbox_info (HMR.forward): [cx - W/2, cy - H/2, b] / f, float32."""
    boxes = torch.as_tensor(boxes, dtype=torch.float32)
    size = torch.as_tensor(img_size, dtype=torch.float32).reshape(-1, 2).expand(boxes.shape[0], 2)
    f = torch.as_tensor(focal, dtype=torch.float32).reshape(-1).expand(boxes.shape[0])
    info = torch.stack([boxes[:, 0] - size[:, 0] / 2.0, boxes[:, 1] - size[:, 1] / 2.0, boxes[:, 2]], -1)
    return info / f[:, None]


def cam_full_bedlam(cam, boxes, img_size, focal, crop_res=224):
    """BEDLAM's crop camera -> full-frame translation (SMPLCamHead): with r = b / res,
    tz = 2 f / (r res s), tx' = tx + 2 (cx - W/2) / (s b), ty' = ty + 2 (cy - H/2) / (s b)."""
    cam = torch.as_tensor(cam, dtype=torch.float32)
    boxes = torch.as_tensor(boxes, dtype=torch.float32)
    n = boxes.shape[0]
    size = torch.as_tensor(img_size, dtype=torch.float32).reshape(-1, 2).expand(n, 2)
    f = torch.as_tensor(focal, dtype=torch.float32).reshape(-1).expand(n)
    s, tx, ty = cam.unbind(1)
    b = boxes[:, 2]
    r = b / crop_res
    tz = 2 * f / (r * crop_res * s)
    cx = 2 * (boxes[:, 0] - size[:, 0] / 2.0) / (s * b)
    cy = 2 * (boxes[:, 1] - size[:, 1] / 2.0) / (s * b)
    return torch.stack([tx + cx, ty + cy, tz], -1)


def load_release(path, lightning, joints=24, betas=10):
    """The release's module built from its file with strict key checks: mmhuman3d ->
    :class:`MMHCliff` from ``state_dict`` minus the body-model buffers; BEDLAM (Lightning) ->
    :class:`BedlamHMR` from the ``state_dict`` entries under ``model.backbone.`` / ``model.head.``
    (everything else: trainer buffers and body models). Eval mode."""
    ck = torch.load(str(path), map_location="cpu", weights_only=True)
    sd = ck["state_dict"]
    if lightning:
        model = BedlamHMR(joints, betas)
        sub = {k[len("model."):]: v for k, v in sd.items() if k.startswith(("model.backbone.", "model.head."))}
    else:
        model = MMHCliff()
        sub = {k: v for k, v in sd.items() if k.startswith(("backbone.", "head."))}
    model.load_state_dict(sub, strict=True)
    return model.eval()
