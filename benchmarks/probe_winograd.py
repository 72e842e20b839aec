"""Which convolution algorithms the engine's oneDNN offers for HRNet's 3x3 layers.

    python benchmarks/probe_winograd.py

Compiles benchmarks/probe_winograd.c against the oneDNN library and headers the package uses
(onednn-cpu-gomp / onednn-devel-cpu-gomp 2023.2.0 = oneDNN 3.2) and prints, for HRNet-W48's four
basic-block shapes at batch 1 and 8, whether dnnl_convolution_winograd is implemented and what
dnnl_convolution_auto resolves to (docs/performance.md, "Fewer multiplications").
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    from cliff import _dnnl
    cc = shutil.which("gcc") or shutil.which("cc")
    lib = _dnnl.library_path()
    if cc is None or lib is None:
        raise SystemExit("needs a C compiler and the onednn-cpu-gomp library")
    include = os.path.join(os.path.dirname(os.path.dirname(lib)), "include")
    with tempfile.TemporaryDirectory(prefix="probe_winograd_") as d:
        exe = os.path.join(d, "probe")
        subprocess.run([cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-I", include,
                        str(HERE / "probe_winograd.c"), lib, "-Wl,-rpath," + os.path.dirname(lib),
                        "-o", exe], check=True)
        return subprocess.call([exe])


if __name__ == "__main__":
    sys.exit(main())
