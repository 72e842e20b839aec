"""The machine a benchmark ran on, for its report: CPU model and the vector ISA that matters."""
from __future__ import annotations

import os


def _cpuinfo() -> tuple[str, set]:
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return model, flags


def cpu_model() -> str:
    """'model name' from /proc/cpuinfo ("unknown CPU" elsewhere)."""
    return _cpuinfo()[0]


def cpu_description() -> str:
    """CPU model, logical CPU count and the vector ISA extensions that matter here."""
    model, flags = _cpuinfo()
    isa = [n for n in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
                       "amx_bf16") if n in flags]
    return "%s; %d logical CPUs; %s" % (model, os.cpu_count() or 0, " ".join(isa) or "no AVX2")
