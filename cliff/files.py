"""Where the model files come from: explicit paths, CLIFF_HOME, or deterministic stand-ins.

The real files cannot be bundled:
- CLIFF checkpoints (`hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt`, `res50-PA45.7_MJE72.0_MVE85.3_3dpw.pt`,
  `hr48-PA53.7_MJE91.4_MVE110.0_agora_val.pt`) come from the official CLIFF release
  (huawei-noah/noah-research, folder CLIFF, README "Pretrained models").
- SMPL (`SMPL_NEUTRAL.pkl`) comes from the SMPL / SMPLify websites after registration
  (licensed; e.g. `basicModel_neutral_lbs_10_207_0_v1.0.0.pkl` renamed).

CLIFF_HOME may point to a folder laid out like the official `data/`:
    $CLIFF_HOME/ckpt/hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt
    $CLIFF_HOME/ckpt/res50-PA45.7_MJE72.0_MVE85.3_3dpw.pt
    $CLIFF_HOME/smpl/SMPL_NEUTRAL.pkl

Stand-ins are files in the same formats (a PyTorch-style checkpoint with random weights, an
SMPL-structured pickle of a procedural blob body) so every code path runs without the licensed
files; their outputs are geometrically meaningless.
"""
from __future__ import annotations

import os

from ._standin import cache_dir, standin_files  # noqa: F401  (cache_dir: public here)

OFFICIAL_CKPT = {
    "hr48": "hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt",
    "res50": "res50-PA45.7_MJE72.0_MVE85.3_3dpw.pt",
}
STANDIN_NOTE = ("cliff: using STAND-IN files (random network weights, a procedural blob instead of "
                "SMPL): the pipeline runs, but the bodies are meaningless; pass --ckpt/--smpl or set "
                "CLIFF_HOME for real results")


def from_home(backbone: str) -> tuple[str | None, str | None]:
    """(checkpoint, smpl) found under $CLIFF_HOME, each None when absent."""
    home = os.environ.get("CLIFF_HOME")
    if not home:
        return None, None
    ckpt = os.path.join(home, "ckpt", OFFICIAL_CKPT[backbone])
    smpl = os.path.join(home, "smpl", "SMPL_NEUTRAL.pkl")
    return (ckpt if os.path.exists(ckpt) else None), (smpl if os.path.exists(smpl) else None)


def resolve(ckpt: str | None, smpl: str | None, backbone: str, *, allow_standin: bool) -> tuple[str, str, bool]:
    """(checkpoint, smpl, is_standin): explicit paths win, then CLIFF_HOME, then stand-ins
    (only when allowed). Raises FileNotFoundError saying where the real files come from."""
    if backbone not in OFFICIAL_CKPT:
        raise ValueError(f"backbone: expected 'hr48' or 'res50', got {backbone!r}")
    home_ckpt, home_smpl = from_home(backbone)
    ckpt = ckpt or home_ckpt
    smpl = smpl or home_smpl
    for p in (ckpt, smpl):
        if p is not None and not os.path.exists(p):
            raise FileNotFoundError(f"{p}: no such file")
    if ckpt and smpl:
        return ckpt, smpl, False
    if not allow_standin:
        missing = " and ".join(n for n, p in (("a checkpoint (--ckpt)", ckpt), ("an SMPL model (--smpl)", smpl)) if not p)
        raise FileNotFoundError(
            f"cliff needs {missing}: get the CLIFF checkpoints from the official CLIFF release and "
            "SMPL_NEUTRAL.pkl from the SMPL website, then pass them or set CLIFF_HOME "
            "(see README); or use --standin to run on stand-in files")
    s_ckpt, s_smpl = standin_files(backbone)
    return ckpt or s_ckpt, smpl or s_smpl, not (ckpt and smpl)
