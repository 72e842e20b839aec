"""Feed every file of the corpus to its reader and report, per file, the outcome and the time
it took: ``python fuzz/refuse.py [CORPUS_DIR] [--limit-gib 3]``.

Runs under an address-space limit (RLIMIT_AS, default 3 GiB) so that a reader which tries to
materialise gigabytes fails loudly instead of swapping. Exit status 1 if a hostile file is
accepted, raises anything but the documented exceptions, or takes 1 s or more; or if a valid
file is refused. The hostile corpus also runs as regular tests (tests/test_security.py).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DOCUMENTED = (ValueError, OSError)  # UnsafePickleError and BudgetError are ValueErrors


def check(corpus: str) -> int:
    import corpus as c  # noqa: F401 - the readers table
    failures = 0
    for group in ("valid", "hostile"):
        for kind in c.READERS:
            d = os.path.join(corpus, group, kind)
            if not os.path.isdir(d):
                continue
            read = c.reader(kind)
            for name in sorted(os.listdir(d)):
                path = os.path.join(d, name)
                t0 = time.perf_counter()
                try:
                    read(path)
                    outcome, exc = "accepted", None
                except DOCUMENTED as e:
                    outcome, exc = f"refused {type(e).__name__}", e
                except BaseException as e:  # noqa: BLE001 - report anything else
                    outcome, exc = f"UNDOCUMENTED {type(e).__name__}", e
                dt = time.perf_counter() - t0
                bad = (group == "valid" and outcome != "accepted") or (
                    group == "hostile" and (not outcome.startswith("refused") or dt >= 1.0))
                failures += bad
                msg = "" if exc is None else str(exc).replace("\n", " ")[:110]
                print(f"{'FAIL' if bad else 'ok  '} {dt * 1000:8.1f} ms  {group}/{kind}/{name}: "
                      f"{outcome} {msg}")
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?", default=os.path.join(os.path.dirname(__file__), "corpus"))
    ap.add_argument("--limit-gib", type=float, default=3.0)
    args = ap.parse_args()
    import cliff  # noqa: F401 - import (and map oneDNN) before the limit
    lim = int(args.limit_gib * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    failures = check(args.corpus)
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
