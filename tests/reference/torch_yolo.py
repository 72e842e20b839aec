"""Test-only PyTorch reference of the official detector: darknet's yolov3.cfg read as a block
list (convolutional / shortcut / route / upsample / yolo, with darknet's relative layer
indices), weights from a darknet binary file, and NumPy references of the PyTorch port's
preprocessing (letterbox with cv2) and post-processing (predict_transform + write_results +
CLIFF's mapping back). Written from the cfg and the port's documented behaviour, independently
of the C core's layer table. Never imported by the package."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def yolov3_cfg() -> str:
    """The yolov3.cfg network section (416x416, 80 classes) as darknet text."""
    out = ["[net]\nwidth=416\nheight=416\nchannels=3\n"]

    def conv(filters, size, stride, bn=True, act="leaky"):
        s = "[convolutional]\n"
        if bn:
            s += "batch_normalize=1\n"
        out.append(s + f"filters={filters}\nsize={size}\nstride={stride}\npad=1\nactivation={act}\n")

    conv(32, 3, 1)
    for stage, reps in enumerate((1, 2, 8, 8, 4)):
        c = 64 << stage
        conv(c, 3, 2)
        for _ in range(reps):
            conv(c // 2, 1, 1)
            conv(c, 3, 1)
            out.append("[shortcut]\nfrom=-3\nactivation=linear\n")
    anchors = "10,13,  16,30,  33,23,  30,61,  62,45,  59,119,  116,90,  156,198,  373,326"
    for head, (mask, route) in enumerate((("6,7,8", None), ("3,4,5", 61), ("0,1,2", 36))):
        c = 512 >> head
        if route is not None:
            out.append("[route]\nlayers=-4\n")
            conv(c, 1, 1)
            out.append("[upsample]\nstride=2\n")
            out.append(f"[route]\nlayers=-1, {route}\n")
        for _ in range(3):
            conv(c, 1, 1)
            conv(2 * c, 3, 1)
        conv(255, 1, 1, bn=False, act="linear")
        out.append(f"[yolo]\nmask={mask}\nanchors={anchors}\nclasses=80\nnum=9\n")
    return "\n".join(out)


def parse_cfg(text: str) -> list[dict]:
    blocks: list[dict] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            blocks.append({"type": line[1:-1]})
        else:
            k, v = line.split("=")
            blocks[-1][k.strip()] = v.strip()
    return blocks


class Darknet(torch.nn.Module):
    """Conv + BatchNorm2d (eps 1e-5) + LeakyReLU(0.1) as the port builds them; forward returns
    the raw outputs of the conv before each [yolo] block, NCHW."""

    def __init__(self, cfg: str):
        super().__init__()
        self.blocks = parse_cfg(cfg)[1:]
        self.convs = torch.nn.ModuleList()
        self.bns = torch.nn.ModuleList()
        channels, prev = [], 3
        for b in self.blocks:
            t = b["type"]
            if t == "convolutional":
                bn = int(b.get("batch_normalize", 0))
                k = int(b["size"])
                conv = torch.nn.Conv2d(prev, int(b["filters"]), k, int(b["stride"]), (k - 1) // 2, bias=not bn)
                self.convs.append(conv)
                self.bns.append(torch.nn.BatchNorm2d(int(b["filters"])) if bn else torch.nn.Identity())
                prev = int(b["filters"])
            elif t == "route":
                idx = [int(v) for v in b["layers"].split(",")]
                i = len(channels)
                prev = sum(channels[j if j >= 0 else i + j] for j in idx)
            channels.append(prev)
        self.eval()

    def load_darknet(self, path: str) -> None:
        with open(path, "rb") as f:
            major, minor, _ = np.fromfile(f, np.int32, 3)
            np.fromfile(f, np.int64 if major * 10 + minor >= 2 else np.int32, 1)
            w = np.fromfile(f, np.float32)
        p = 0

        def take(t):
            nonlocal p
            n = t.numel()
            t.data.copy_(torch.from_numpy(w[p:p + n].copy()).view_as(t))
            p += n

        with torch.no_grad():
            for conv, bn in zip(self.convs, self.bns):
                if isinstance(bn, torch.nn.BatchNorm2d):
                    take(bn.bias), take(bn.weight), take(bn.running_mean), take(bn.running_var)
                else:
                    take(conv.bias)
                take(conv.weight)
        assert p == w.size, (p, w.size)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs, heads, ci = [], [], 0
        for i, b in enumerate(self.blocks):
            t = b["type"]
            if t == "convolutional":
                x = self.bns[ci](self.convs[ci](x))
                if b["activation"] == "leaky":
                    x = F.leaky_relu(x, 0.1)
                ci += 1
            elif t == "shortcut":
                x = outs[-1] + outs[i + int(b["from"])]
            elif t == "route":
                idx = [int(v) for v in b["layers"].split(",")]
                x = torch.cat([outs[j if j >= 0 else i + j] for j in idx], 1)
            elif t == "upsample":
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            elif t == "yolo":
                heads.append(x)
            outs.append(x)
        return heads


# ---- NumPy references of the demo's pre- and post-processing ---------------------------------

ANCHORS = [(10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198), (373, 326)]


def letterbox_cv2(img: np.ndarray, size: int = 416) -> np.ndarray:
    """The port's letterbox_image with cv2: int() sizes, INTER_CUBIC, centred on 128."""
    import cv2
    h, w = img.shape[:2]
    s = min(size / w, size / h)
    nw, nh = int(w * s), int(h * s)
    r = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((size, size, 3), 128, np.uint8)
    canvas[(size - nh) // 2:(size - nh) // 2 + nh, (size - nw) // 2:(size - nw) // 2 + nw] = r
    return canvas


def _sigmoid(x):
    return (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32)


def decode(head: np.ndarray, grid: int) -> np.ndarray:
    """predict_transform for one image's head (grid, grid, 255) NHWC -> (grid*grid*3, 85)
    rows in the port's order (cell-major, x fastest, then anchor), float32."""
    stride = 416 // grid
    anchors = ANCHORS[{13: 6, 26: 3, 52: 0}[grid]:][:3]
    p = head.reshape(grid * grid * 3, 85).astype(np.float32).copy()
    cell = np.repeat(np.arange(grid * grid), 3)
    a = np.tile(np.arange(3), grid * grid)
    aw = np.array([np.float32(an[0] / stride) for an in anchors], np.float32)[a]
    ah = np.array([np.float32(an[1] / stride) for an in anchors], np.float32)[a]
    out = np.empty_like(p)
    out[:, 0] = (_sigmoid(p[:, 0]) + (cell % grid).astype(np.float32)) * np.float32(stride)
    out[:, 1] = (_sigmoid(p[:, 1]) + (cell // grid).astype(np.float32)) * np.float32(stride)
    out[:, 2] = (np.exp(p[:, 2]) * aw) * np.float32(stride)
    out[:, 3] = (np.exp(p[:, 3]) * ah) * np.float32(stride)
    out[:, 4] = _sigmoid(p[:, 4])
    out[:, 5:] = _sigmoid(p[:, 5:])
    return out


def iou_plus1(b1: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """bbox_iou of the port: widths and heights are (x2 - x1 + 1), float32."""
    ix1, iy1 = np.maximum(b1[0], b2[:, 0]), np.maximum(b1[1], b2[:, 1])
    ix2, iy2 = np.minimum(b1[2], b2[:, 2]), np.minimum(b1[3], b2[:, 3])
    one = np.float32(1)
    inter = np.maximum(ix2 - ix1 + one, 0) * np.maximum(iy2 - iy1 + one, 0)
    a1 = (b1[2] - b1[0] + one) * (b1[3] - b1[1] + one)
    a2 = (b2[:, 2] - b2[:, 0] + one) * (b2[:, 3] - b2[:, 1] + one)
    return (inter / (a1 + a2 - inter)).astype(np.float32)


def write_results(pred: np.ndarray, image: int, confidence: float = 0.5, nms: float = 0.4) -> np.ndarray:
    """write_results for one image: pred (rows, 85) decoded -> (N, 8) [image, x1, y1, x2, y2,
    objectness, class score, class], classes ascending, each sorted by objectness after NMS."""
    keep = pred[pred[:, 4] > np.float32(confidence)]
    half_w, half_h = keep[:, 2] / np.float32(2), keep[:, 3] / np.float32(2)
    box = np.stack([keep[:, 0] - half_w, keep[:, 1] - half_h, keep[:, 0] + half_w, keep[:, 1] + half_h], 1)
    cls = np.argmax(keep[:, 5:], 1)
    score = keep[:, 5:].max(1) if len(keep) else np.zeros(0, np.float32)
    rows = []
    for c in np.unique(cls):
        sel = np.nonzero(cls == c)[0]
        sel = sel[np.argsort(-keep[sel, 4], kind="stable")]
        b, o, s = box[sel], keep[sel, 4], score[sel]
        i = 0
        while i < len(b):  # the port's loop: zero the later rows with IoU >= nms, compact
            ious = iou_plus1(b[i], b[i + 1:])
            mask = np.concatenate([np.ones(i + 1, bool), ious < np.float32(nms)])
            b, o, s = b[mask], o[mask], s[mask]
            i += 1
        for k in range(len(b)):
            rows.append([image, *b[k], o[k], s[k], c])
    return np.array(rows, np.float32).reshape(-1, 8)


def map_back(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    """CLIFF's detect_batch mapping: undo the letterbox in float32, clamp to the image."""
    out = rows.copy()
    W, H = np.float32(width), np.float32(height)
    s = min(np.float32(416) / W, np.float32(416) / H)
    out[:, [1, 3]] -= (np.float32(416) - s * W) / np.float32(2)
    out[:, [2, 4]] -= (np.float32(416) - s * H) / np.float32(2)
    out[:, 1:5] /= s
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, W)
    out[:, [2, 4]] = np.clip(out[:, [2, 4]], 0, H)
    return out


def detection_all(heads: list[np.ndarray], sizes: list[tuple[int, int]], persons_only: bool = True,
                  confidence: float = 0.5, nms: float = 0.4) -> np.ndarray:
    """The demo's detection_all from head outputs [(n,13,13,255), (n,26,26,255), (n,52,52,255)]
    for images of sizes [(height, width)]."""
    out = []
    for i, (h, w) in enumerate(sizes):
        pred = np.concatenate([decode(heads[k][i], 13 << k) for k in range(3)])
        rows = map_back(write_results(pred, i, confidence, nms), w, h)
        out.append(rows[rows[:, 7] == 0] if persons_only else rows)
    return np.concatenate(out) if out else np.zeros((0, 8), np.float32)
