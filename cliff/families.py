"""CLIFF network families: every released CLIFF checkpoint the core runs, as data.

The table lives in the C core (``csrc/nn/arch.c``, ``cliff_family_get``); this module reads it
and recognises a checkpoint's family from its keys (docs/models.md):

==================  ==========  ===========  ==========  ============  ===============
family              trunk       crop (HxW)   bbox_info   body          file layout
==================  ==========  ===========  ==========  ============  ===============
cliff-hr48          hr48        256 x 192    released    SMPL 24/10    official CLIFF
cliff-res50         res50       256 x 192    released    SMPL 24/10    official CLIFF
mmhuman3d-res50     res50       256 x 192    released    SMPL 24/10    mmcv ``.pth``
bedlam-cliff        hr48_720    224 x 224    paper (/f)  SMPL 24/10    Lightning ``.ckpt``
bedlam-cliff-x      hr48_720    224 x 224    paper (/f)  SMPL-X 22/11  Lightning ``.ckpt``
==================  ==========  ===========  ==========  ============  ===============

Nothing here computes: crops, bbox_info and decoding run in the core, chosen by the family.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Tuple

import numpy as np

from . import _core

__all__ = ["Family", "FAMILIES", "family", "detect_family", "select_state"]


@dataclass(frozen=True)
class Family:
    """One row of the core's family table (see the module docstring)."""

    name: str          #: "bedlam-cliff", ...
    backbone: str      #: the name the core builds it by ("hr48", "res50", or the family name)
    trunk: str         #: "hr48" (2048 neck) | "res50" | "hr48_720" (720-channel conv neck)
    key_prefix: str    #: prefix of the network's keys in the file ("model." for Lightning)
    ignored: Tuple[str, ...]  #: key prefixes (after key_prefix) present in the file, not read
    release: str       #: where the weights are published
    crop: Tuple[int, int]  #: network input (height, width) pixels
    bbox_info: str     #: "released" (CLIFF's scaled form) | "paper" (BEDLAM: [cx', cy', b] / f)
    features: int      #: width of the pooled trunk output
    joints: int        #: joints regressed as 6D rotations (24 SMPL, 22 SMPL-X body)
    betas: int         #: shape coefficients (10 | 11)
    body: str          #: "smpl" | "smplx"
    lightning: bool    #: a PyTorch Lightning file: keys outside the network's are not read
    crop_window: str = "cliff"  #: "cliff" (4:3, rounded corners) | "square" (BEDLAM's SPIN-style) | "affine" (mmhuman3d's warp)
    box_rescale: float = 1.1    #: box enlargement of the release's demo crop

    @property
    def official(self) -> bool:
        """One of the two official CLIFF checkpoints (their historical loading path)."""
        return not self.key_prefix and not self.ignored


FAMILIES: Tuple[Family, ...] = tuple(
    Family(name=f["name"], backbone=f["backbone"], trunk=f["trunk"], key_prefix=f["key_prefix"],
           ignored=tuple(p for p in f["ignored"].split(";") if p), release=f["release"],
           crop=tuple(f["crop"]), bbox_info=f["bbox_info"], features=f["features"],
           joints=f["joints"], betas=f["betas"], body=f["body"], lightning=f["lightning"],
           crop_window=f["crop_window"], box_rescale=f["box_rescale"])
    for f in _core.families())

_BY_NAME: Dict[str, Family] = {**{f.name: f for f in FAMILIES}, **{f.backbone: f for f in FAMILIES}}
_NET_PREFIXES = ("backbone.", "head.")  # the network keys of the non-official layouts


def family(name: str) -> Family:
    """The family called ``name`` (a family name or a backbone name: 'hr48' is cliff-hr48)."""
    if not isinstance(name, str):
        raise TypeError(f"family: expected a str, got {type(name).__name__}")
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"family: expected one of {tuple(f.name for f in FAMILIES)}, got {name!r}") from None


def _expected(fam: Family) -> Dict[str, Tuple[int, ...]]:
    from .model import expected_keys
    return expected_keys(fam.backbone)


def select_state(state: Mapping[str, np.ndarray], fam: Family) -> Tuple[Dict[str, np.ndarray], List[str], List[str], List[str]]:
    """The entries of ``state`` the family's network reads, keys as the core names them
    (``key_prefix`` removed, ignored entries dropped, absent BatchNorm ``num_batches_tracked``
    counters filled with 0: they are unused at inference).

    Returns (selected, missing, unexpected, wrong_shape) - the last three as key lists.
    """
    exp = _expected(fam)
    sel: Dict[str, np.ndarray] = {}
    unexpected: List[str] = []
    p = fam.key_prefix
    for k, v in state.items():
        if p:
            if not k.startswith(p):
                if fam.lightning:
                    continue  # trainer buffers, body models, losses: outside the network
                unexpected.append(k)
                continue
            k = k[len(p):]
        if any(k.startswith(i) for i in fam.ignored):
            continue
        if fam.lightning and not k.startswith(_NET_PREFIXES):
            continue
        if k in exp:
            sel[k] = v
        else:
            unexpected.append(k)
    missing = []
    for k in exp:
        if k not in sel:
            if k.endswith(".num_batches_tracked") and not fam.official:
                sel[k] = np.zeros((), dtype=np.int64)
            else:
                missing.append(k)
    wrong = [k for k, v in sel.items() if tuple(np.shape(v)) != tuple(exp[k])]
    return {k: sel[k] for k in exp if k in sel}, missing, unexpected, wrong


def detect_family(keys_shapes: Mapping[str, np.ndarray]) -> Family:
    """The non-official family whose network the state dict holds exactly (names and shapes).

    Raises ValueError naming the candidates and, for the closest one, the first missing,
    unexpected and misshapen keys.
    """
    best = None
    for fam in FAMILIES:
        if fam.official:
            continue
        sel, missing, unexpected, wrong = select_state(keys_shapes, fam)
        if not missing and not unexpected and not wrong:
            return fam
        score = len(sel) - len(wrong) - len(missing)
        if best is None or score > best[0]:
            best = (score, fam, missing, unexpected, wrong)
    names = ", ".join(f.name for f in FAMILIES)
    _, fam, missing, unexpected, wrong = best
    from .focal import is_fov_checkpoint
    if is_fov_checkpoint(keys_shapes):
        raise ValueError("this is CameraHMR's HumanFoV camera model (cam_model_cleaned.ckpt), not a CLIFF "
                         "network: pass it as fov_ckpt= / --fov-ckpt with focal=\"learned\" / --focal learned")

    def first(lst: Iterable[str]) -> str:
        lst = list(lst)
        return "none" if not lst else ", ".join(lst[:4]) + (f", ... ({len(lst)} in all)" if len(lst) > 4 else "")
    raise ValueError(
        f"not a known CLIFF network (families: {names}; {len(keys_shapes)} keys, e.g. "
        f"{list(keys_shapes)[:3]}). Closest: {fam.name} - missing: {first(missing)}; "
        f"unexpected: {first(unexpected)}; wrong shape: {first(wrong)}")
