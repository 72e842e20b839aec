"""Independent PyTorch reference of the two CLIFF networks (test-only code).

Written from docs/official.md (#checkpoint, #arch-hr48, #arch-res50, #regressor, #bbox-info,
#camera): the HRNet-W48 classification encoder as CLIFF builds it, the torchvision-style
ResNet-50 encoder and the iterative regressor. Module names are chosen so that ``state_dict()``
keys, shapes and order equal the official checkpoints' (the lists
tests/data/official_keys_hr48.txt / official_keys_res50.txt), so a checkpoint's ``'model'`` entry,
with any ``module.`` prefix stripped, loads with ``strict=True``.

    model = build_cliff("hr48").eval()
    rotmat, betas, cam = model(x, bbox_info)   # x (N,3,256,192) f32, bbox_info (N,3) f32
    feat = model.encoder(x)                    # (N,2048)

All tensors are float32; this module only uses torch.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NJOINTS = 24
NPOSE = NJOINTS * 6
NSHAPE = 10
NCAM = 3
NBBOX = 3
FEAT = 2048

HR48_WIDTHS = (48, 96, 192, 384)
HR48_STAGES = ((2, 1), (3, 4), (4, 3))  # (stage number, number of modules); branches = stage
HR48_HEAD_PLANES = (32, 64, 128, 256)
RES50_LAYERS = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (planes, blocks, stride)


def _conv(cin, cout, k, stride=1, bias=False):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias)


def _conv_bn(cin, cout, k, stride=1, relu=True, bias=False):
    layers = [_conv(cin, cout, k, stride, bias), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + x); no downsample is ever needed in CLIFF."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = _conv(c, c, 3)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = _conv(c, c, 3)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + x)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride here) -> 1x1 (4*planes), residual added before the last ReLU."""

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        cout = 4 * planes
        self.conv1 = _conv(cin, planes, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv(planes, cout, 1)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = _conv_bn(cin, cout, 1, stride, relu=False)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        r = x if self.downsample is None else self.downsample(x)
        return F.relu(y + r)


class HRModule(nn.Module):
    """One module of an HRNet stage: 4 BasicBlocks per branch, then the all-to-all fuse."""

    def __init__(self, widths):
        super().__init__()
        n = len(widths)
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c) for _ in range(4)]) for c in widths)
        self.fuse_layers = nn.ModuleList()
        for i in range(n):
            row = nn.ModuleList()
            for j in range(n):
                if j == i:
                    row.append(None)
                elif j > i:  # 1x1 conv at low resolution, BN, nearest upsample
                    row.append(nn.Sequential(
                        _conv(widths[j], widths[i], 1), nn.BatchNorm2d(widths[i]),
                        nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                else:  # i-j stride-2 3x3 convs; the last changes width and has no ReLU
                    steps = i - j
                    row.append(nn.Sequential(*[
                        _conv_bn(widths[j], widths[i] if s == steps - 1 else widths[j], 3, 2,
                                 relu=s != steps - 1)
                        for s in range(steps)]))
            self.fuse_layers.append(row)

    def forward(self, xs):
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = xs[0] if i == 0 else row[0](xs[0])
            for j in range(1, len(xs)):
                y = y + (xs[j] if j == i else row[j](xs[j]))
            out.append(F.relu(y))
        return out


class HRNetW48Encoder(nn.Module):
    """HRNet-W48 classification network without its classifier: (N,3,256,192) -> (N,2048)."""

    def __init__(self):
        super().__init__()
        w = HR48_WIDTHS
        self.conv1 = _conv(3, 64, 3, 2)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = _conv(64, 64, 3, 2)
        self.bn2 = nn.BatchNorm2d(64)
        self.layer1 = nn.Sequential(*[Bottleneck(64 if k == 0 else 256, 64) for k in range(4)])
        self.transition1 = nn.ModuleList([
            _conv_bn(256, w[0], 3),
            nn.Sequential(_conv_bn(256, w[1], 3, 2))])
        for stage, nmod in HR48_STAGES:
            setattr(self, "stage%d" % stage,
                    nn.Sequential(*[HRModule(w[:stage]) for _ in range(nmod)]))
            if stage < 4:  # transition to the next stage: one new, half-resolution branch
                trans = nn.ModuleList([None] * stage)
                trans.append(nn.Sequential(_conv_bn(w[stage - 1], w[stage], 3, 2)))
                setattr(self, "transition%d" % stage, trans)
        p = HR48_HEAD_PLANES
        self.incre_modules = nn.ModuleList(
            nn.Sequential(Bottleneck(w[i], p[i])) for i in range(4))
        self.downsamp_modules = nn.ModuleList(
            _conv_bn(4 * p[i], 4 * p[i + 1], 3, 2, bias=True) for i in range(3))
        self.final_layer = _conv_bn(4 * p[3], FEAT, 1, bias=True)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)
        xs = [t(x) for t in self.transition1]
        for stage, _ in HR48_STAGES:
            xs = getattr(self, "stage%d" % stage)(xs)
            if stage < 4:
                trans = getattr(self, "transition%d" % stage)
                xs = xs + [trans[stage](xs[-1])]
        y = self.incre_modules[0](xs[0])
        for i, down in enumerate(self.downsamp_modules):
            y = self.incre_modules[i + 1](xs[i + 1]) + down(y)
        y = self.final_layer(y)
        return y.mean(dim=(2, 3))


class ResNet50Encoder(nn.Module):
    """torchvision-style ResNet-50 (stride on the 3x3) without fc: (N,3,256,192) -> (N,2048)."""

    def __init__(self):
        super().__init__()
        self.conv1 = _conv(3, 64, 7, 2)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for li, (planes, blocks, stride) in enumerate(RES50_LAYERS, 1):
            layer = []
            for k in range(blocks):
                layer.append(Bottleneck(cin, planes, stride if k == 0 else 1))
                cin = 4 * planes
            setattr(self, "layer%d" % li, nn.Sequential(*layer))
        self.avgpool = nn.AvgPool2d((8, 6), stride=1)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


class CLIFF(nn.Module):
    """Encoder + 3-iteration regressor (no nonlinearity; dropout is identity in eval)."""

    def __init__(self, backbone="hr48"):
        super().__init__()
        if backbone == "hr48":
            self.encoder = HRNetW48Encoder()
        elif backbone == "res50":
            self.encoder = ResNet50Encoder()
        else:
            raise ValueError("backbone: expected 'hr48' or 'res50', got %r" % (backbone,))
        self.backbone = backbone
        nin = FEAT + NBBOX + NPOSE + NSHAPE + NCAM
        self.fc1 = nn.Linear(nin, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.decpose = nn.Linear(1024, NPOSE)
        self.decshape = nn.Linear(1024, NSHAPE)
        self.deccam = nn.Linear(1024, NCAM)
        # Placeholders; the checkpoint's values are the ones used (docs/official.md#checkpoint).
        self.register_buffer("init_pose", torch.zeros(1, NPOSE))
        self.register_buffer("init_shape", torch.zeros(1, NSHAPE))
        self.register_buffer("init_cam", torch.zeros(1, NCAM))

    def regress(self, feat, bbox_info, n_iter=3):
        n = feat.shape[0]
        pose = self.init_pose.expand(n, -1)
        shape = self.init_shape.expand(n, -1)
        cam = self.init_cam.expand(n, -1)
        for _ in range(n_iter):
            xc = torch.cat([feat, bbox_info, pose, shape, cam], 1)
            h = self.drop2(self.fc2(self.drop1(self.fc1(xc))))
            pose = self.decpose(h) + pose
            shape = self.decshape(h) + shape
            cam = self.deccam(h) + cam
        return rot6d_to_rotmat(pose).view(n, NJOINTS, 3, 3), shape, cam

    def forward(self, x, bbox_info, n_iter=3):
        return self.regress(self.encoder(x), bbox_info, n_iter)


def build_cliff(backbone="hr48"):
    return CLIFF(backbone)


def strip_module_prefix(state_dict):
    """Remove 'module.' the way the official demo does (every occurrence, if any key has it)."""
    if any(k.startswith("module.") for k in state_dict):
        return {k.replace("module.", ""): v for k, v in state_dict.items()}
    return dict(state_dict)


def load_reference(path, backbone):
    """Official-layout checkpoint -> reference model in eval mode (strict key check)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = build_cliff(backbone)
    model.load_state_dict(strip_module_prefix(ckpt["model"]), strict=True)
    return model.eval()


# ---- geometry helpers (float32 torch, docs/official.md#rot6d, #bbox-info, #camera) --------------------------------------

def rot6d_to_rotmat(x):
    """(B,144) or (...,6) 6D -> (B*24,3,3): Gram-Schmidt on the two columns of a 3x2 matrix."""
    m = x.reshape(-1, 3, 2)
    a1, a2 = m[:, :, 0], m[:, :, 1]
    b1 = a1 / a1.norm(dim=1, keepdim=True).clamp_min(1e-12)
    u = a2 - (b1 * a2).sum(dim=1, keepdim=True) * b1
    b2 = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    b3 = torch.linalg.cross(b1, b2, dim=1)
    return torch.stack([b1, b2, b3], dim=-1)


def _f32(v, n):
    t = torch.as_tensor(v, dtype=torch.float32).reshape(-1)
    return t.expand(n) if t.numel() == 1 else t.reshape(n)


def default_focal(img_size):
    """sqrt(W^2+H^2) computed in float64, then rounded to float32. img_size (N,2) = (W,H)."""
    s = torch.as_tensor(img_size, dtype=torch.float64).reshape(-1, 2)
    return torch.sqrt(s[:, 0] ** 2 + s[:, 1] ** 2).float()


def bbox_info(boxes, img_size, focal):
    """Released-demo bbox_info, float32. boxes (N,3)=[cx,cy,b], img_size (N,2)=(W,H), focal (N,)."""
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 3)
    n = boxes.shape[0]
    size = torch.as_tensor(img_size, dtype=torch.float32).reshape(-1, 2).expand(n, 2)
    f = _f32(focal, n)
    cx, cy, b = boxes.unbind(1)
    w, h = size.unbind(1)
    i0 = (cx - w / 2) / f * 2.8
    i1 = (cy - h / 2) / f * 2.8
    i2 = (b - 0.24 * f) / (0.06 * f)
    return torch.stack([i0, i1, i2], 1)


def cam_crop2full(cam, boxes, img_size, focal):
    """Crop camera (s,tx,ty) -> full-frame SMPL translation (N,3), float32 (docs/official.md#camera)."""
    cam = torch.as_tensor(cam, dtype=torch.float32).reshape(-1, 3)
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 3)
    n = boxes.shape[0]
    size = torch.as_tensor(img_size, dtype=torch.float32).reshape(-1, 2).expand(n, 2)
    f = _f32(focal, n)
    cx, cy, b = boxes.unbind(1)
    w, h = size.unbind(1)
    bs = b * cam[:, 0] + 1e-9
    tz = 2 * f / bs
    tx = 2 * (cx - w / 2) / bs + cam[:, 1]
    ty = 2 * (cy - h / 2) / bs + cam[:, 2]
    return torch.stack([tx, ty, tz], 1)


def predict_full_frame(model, crops, center, scale, width, height):
    """The released demo's network step for one image's crops: centre and scale cast to float32,
    b = 200 * scale, bbox_info at the default focal, the network, then the crop camera turned
    into the full-frame translation. crops (N,3,256,192) float (the official crop's output),
    center (N,2), scale (N,) pixels / 200; width, height of the image. Returns rotmat
    (N,24,3,3), betas (N,10), t_full (N,3) as torch float32 and the boxes [cx, cy, b] (N,3)."""
    b = torch.from_numpy(np.column_stack([np.asarray(center).astype(np.float32),
                                          np.asarray(scale).astype(np.float32) * np.float32(200)]))
    size = torch.tensor([[width, height]], dtype=torch.float32).expand(len(b), 2)
    focal = default_focal(size.double())
    with torch.no_grad():
        rotmat, betas, cam = model(torch.from_numpy(np.asarray(crops, np.float32)),
                                   bbox_info(b, size, focal))
        return rotmat, betas, cam_crop2full(cam, b, size, focal), b


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_crops(crops_u8):
    """(N,256,192,3) uint8 RGB -> (N,3,256,192) float32: (p/255 - mean_c)/std_c (docs/official.md#crop)."""
    x = torch.as_tensor(crops_u8).to(torch.float32) / 255.0
    x = (x - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    return x.permute(0, 3, 1, 2).contiguous()


def rotmat_to_axis_angle(R):
    """(...,3,3) -> (...,3) via the quaternion route of torchgeometry 0.1.2 (docs/official.md#axis-angle)."""
    shape = R.shape[:-2]
    R = R.reshape(-1, 3, 3)
    r = [[R[:, i, j] for j in range(3)] for i in range(3)]
    eps = 1e-6
    t0 = 1 + r[0][0] - r[1][1] - r[2][2]
    q0 = torch.stack([r[2][1] - r[1][2], t0, r[1][0] + r[0][1], r[0][2] + r[2][0]], -1)
    t1 = 1 - r[0][0] + r[1][1] - r[2][2]
    q1 = torch.stack([r[0][2] - r[2][0], r[1][0] + r[0][1], t1, r[2][1] + r[1][2]], -1)
    t2 = 1 - r[0][0] - r[1][1] + r[2][2]
    q2 = torch.stack([r[1][0] - r[0][1], r[0][2] + r[2][0], r[2][1] + r[1][2], t2], -1)
    t3 = 1 + r[0][0] + r[1][1] + r[2][2]
    q3 = torch.stack([t3, r[2][1] - r[1][2], r[0][2] - r[2][0], r[1][0] - r[0][1]], -1)
    low = r[2][2] < eps
    c0 = low & (r[0][0] > r[1][1])
    c1 = low & ~(r[0][0] > r[1][1])
    c2 = ~low & (r[0][0] < -r[1][1])
    t = torch.where(c0, t0, torch.where(c1, t1, torch.where(c2, t2, t3)))
    q = torch.where(c0[:, None], q0, torch.where(c1[:, None], q1, torch.where(c2[:, None], q2, q3)))
    q = q / torch.sqrt(t)[:, None] * 0.5
    w, v = q[:, 0], q[:, 1:]
    s2 = v[:, 0] * v[:, 0] + v[:, 1] * v[:, 1] + v[:, 2] * v[:, 2]
    s = torch.sqrt(s2)
    theta2 = torch.where(w < 0, 2 * torch.atan2(-s, -w), 2 * torch.atan2(s, w))
    k = torch.where(s2 > 0, theta2 / torch.where(s2 > 0, s, torch.ones_like(s)),
                    torch.full_like(s, 2.0))
    return (v * k[:, None]).reshape(*shape, 3)


def num_params(model):
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "CLIFF", "HRNetW48Encoder", "ResNet50Encoder", "build_cliff", "load_reference",
    "strip_module_prefix", "rot6d_to_rotmat", "rotmat_to_axis_angle", "bbox_info",
    "cam_crop2full", "default_focal", "normalize_crops", "num_params",
]
