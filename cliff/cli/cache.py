"""`cliff cache`: list (or with --clear remove) the stand-in files cliff writes.

Stand-in checkpoints and the stand-in SMPL pickle are written once per cliff version into
``$XDG_CACHE_HOME/cliff/standin-<version>/`` (``~/.cache/cliff/...`` without XDG_CACHE_HOME)
and reused (cliff/_standin.py). Nothing else is cached.
"""
from __future__ import annotations

import argparse
import os
import shutil


def add_parser(sub) -> None:
    p = sub.add_parser("cache", help="list or remove the cached stand-in files")
    p.add_argument("--clear", action="store_true", help="remove the cache folder")
    p.add_argument("--quiet", action="store_true", help="print nothing")


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def run(args: argparse.Namespace) -> int:
    from .._standin import cache_dir

    root = cache_dir()
    say = (lambda m: None) if args.quiet else print
    if not os.path.isdir(root):
        say(f"cliff cache: {root}: empty (nothing cached)")
        return 0
    total = _size(root)
    if args.clear:
        shutil.rmtree(root)
        say(f"cliff cache: removed {root} ({_mb(total)})")
        return 0
    say(f"cliff cache: {root} ({_mb(total)})")
    for d, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            p = os.path.join(d, f)
            say(f"  {_mb(os.path.getsize(p)):>10}  {os.path.relpath(p, root)}")
    say("remove with: cliff cache --clear")
    return 0

