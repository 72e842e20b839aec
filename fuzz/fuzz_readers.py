"""Coverage-guided fuzzing of cliff's file readers with atheris (libFuzzer for Python).

    python fuzz/fuzz_readers.py TARGET [libFuzzer options] [NEW_INPUTS_DIR SEED_DIR...]
    make fuzz            # every target, FUZZ_SECONDS (120) each
    make fuzz-ci         # every target, 12 s each, after fuzz/refuse.py

TARGET is one of unpickle, checkpoint, smpl, mean_params, keypoints, boxes (see
fuzz/corpus.py). Each input is written to a file and read with the target's reader. The
properties checked, any violation being a crash that libFuzzer reports and saves:

* only documented exceptions leave the reader (ValueError, including UnsafePickleError and
  BudgetError, and OSError); anything else (TypeError, AttributeError, RecursionError,
  MemoryError, ...) is re-raised;
* bounded time and memory: run with ``-timeout=2 -rss_limit_mb=3072`` (the Makefile does);
* purity: every 256 inputs, the state of every allowlisted class and function is compared
  with the state before fuzzing started.

Without atheris (no wheel for this Python), ``--hypothesis N`` runs N random and mutated
inputs through the same checks (not coverage-guided).
"""
from __future__ import annotations

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def process_state() -> dict:
    """Every piece of process state a pickle could reach: the attributes of each allowlisted
    class and function (and of the storage types and stand-in classes), by identity. Loading
    a file must leave it unchanged (tests/test_security.py uses it too)."""
    import types

    from cliff.io import unpickle
    snap = {}
    objs = [v for g in unpickle.ALLOWLIST.values() for v in g.values()]
    objs += list(unpickle.TORCH_STORAGES.values()) + [unpickle.ChArray, unpickle.SparseMatrix,
                                                      unpickle.InertObject, unpickle._InertClass]
    for obj in objs:
        state = {k: id(v) for k, v in vars(obj).items()} if hasattr(obj, "__dict__") else {}
        if isinstance(obj, types.FunctionType):
            state["__defaults__"] = obj.__defaults__
            state["__kwdefaults__"] = obj.__kwdefaults__
        snap[id(obj)] = state
    return snap


def make_target(kind: str):
    """The one-input test function for ``kind``."""
    import corpus

    read = corpus.reader(kind)
    fd, path = tempfile.mkstemp(prefix=f"cliff-fuzz-{kind}-")
    os.close(fd)
    start = process_state()
    count = [0]

    def test_one_input(data: bytes) -> None:
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            read(path)
        except (ValueError, OSError):
            pass
        count[0] += 1
        if count[0] % 256 == 0 and process_state() != start:
            raise AssertionError("a file changed process state (an allowlisted object)")

    return test_one_input


def _hypothesis_loop(kind: str, n: int) -> None:
    import random

    import corpus
    seeds = list(corpus.valid_files()[kind].values()) + list(corpus.hostile_files()[kind].values())
    test = make_target(kind)
    rng = random.Random(0)
    for i in range(n):
        if i % 4 == 0:
            data = rng.randbytes(rng.randrange(0, 512))
        else:
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 9)):
                if data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
            if data and rng.random() < 0.3:
                data = data[: rng.randrange(len(data))]
            data = bytes(data)
        test(data)
    print(f"{kind}: {n} inputs, only documented exceptions")


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    kind = sys.argv.pop(1)
    import corpus
    if kind not in corpus.READERS:
        sys.exit(f"unknown target {kind!r}; expected one of {corpus.READERS}")
    if "--hypothesis" in sys.argv:
        _hypothesis_loop(kind, int(sys.argv[sys.argv.index("--hypothesis") + 1]))
        return
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed (pip install atheris, Linux x86-64 wheels for "
                 "CPython 3.8-3.11); use --hypothesis N for an uninstrumented loop")
    with atheris.instrument_imports(include=["cliff"]):
        import cliff.io  # noqa: F401 - instrumented for coverage
        import cliff.io.budget  # noqa: F401
        import cliff.io.checkpoint  # noqa: F401
        import cliff.io.npz  # noqa: F401
        import cliff.io.smpl  # noqa: F401
        import cliff.io.unpickle  # noqa: F401
        import cliff.annotate.keypoints  # noqa: F401
        import cliff.io.boxes  # noqa: F401
    atheris.Setup(sys.argv, make_target(kind))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
