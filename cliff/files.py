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


def home_ckpt(name: str) -> str | None:
    """$CLIFF_HOME/ckpt/<name> when CLIFF_HOME is set and that file exists, else None (where the
    optional weights are looked for: yolov3.weights, cam_model_cleaned.ckpt)."""
    home = os.environ.get("CLIFF_HOME")
    if home:
        p = os.path.join(home, "ckpt", name)
        if os.path.isfile(p):
            return p
    return None


def home_paths(backbone: str) -> dict[str, str]:
    """Every path looked for under $CLIFF_HOME (empty without it): the official `data/` layout,
    the CLIFF checkpoint of `backbone` and the SMPL model."""
    home = os.environ.get("CLIFF_HOME")
    if not home:
        return {}
    return {"--ckpt": os.path.join(home, "ckpt", OFFICIAL_CKPT[backbone]),
            "--smpl": os.path.join(home, "smpl", "SMPL_NEUTRAL.pkl")}


def _check_home(ckpt: str | None, smpl: str | None, backbone: str) -> None:
    """CLIFF_HOME set: every file not given explicitly must be there. Raises FileNotFoundError
    listing every path looked for and which are missing (never a fall-back to stand-ins)."""
    looked = home_paths(backbone)
    needed = {flag: p for flag, p in looked.items() if (ckpt if flag == "--ckpt" else smpl) is None}
    missing = [p for p in needed.values() if not os.path.isfile(p)]
    if not missing:
        return
    lines = [f"  {p}  ({'MISSING' if p in missing else 'found'})" for p in needed.values()]
    raise FileNotFoundError(
        f"CLIFF_HOME={os.environ['CLIFF_HOME']} is set but {len(missing)} of the files looked for "
        f"{'is' if len(missing) == 1 else 'are'} missing:\n" + "\n".join(lines) +
        "\nput them there (the official CLIFF data/ layout, see README), pass --ckpt/--smpl, or "
        "unset CLIFF_HOME to run on stand-in files")


def resolve(ckpt: str | None, smpl: str | None, backbone: str, *, allow_standin: bool) -> tuple[str, str, bool]:
    """(checkpoint, smpl, is_standin): explicit paths win, then CLIFF_HOME, then stand-ins
    (only when allowed, and never while CLIFF_HOME is set). Raises FileNotFoundError saying
    where the real files come from; with CLIFF_HOME set and files missing there, listing every
    path looked for and which are missing; IsADirectoryError naming the flag for a folder."""
    if backbone not in OFFICIAL_CKPT:
        raise ValueError(f"backbone: expected 'hr48' or 'res50', got {backbone!r}")
    for flag, p in (("--ckpt", ckpt), ("--smpl", smpl)):
        if p is not None and os.path.isdir(p):
            what = "a CLIFF checkpoint file, e.g. " + OFFICIAL_CKPT[backbone] if flag == "--ckpt" \
                else "the SMPL model file SMPL_NEUTRAL.pkl"
            raise IsADirectoryError(f"{flag}: {p} is a folder; expected {what} (for the official "
                                    "data/ folder set CLIFF_HOME instead)")
    _check_home(ckpt, smpl, backbone)
    home_ckpt, home_smpl = from_home(backbone)
    ckpt = ckpt or home_ckpt
    smpl = smpl or home_smpl
    for flag, p in (("--ckpt", ckpt), ("--smpl", smpl)):
        if p is not None and not os.path.exists(p):
            raise FileNotFoundError(f"{flag}: {p}: no such file")
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
