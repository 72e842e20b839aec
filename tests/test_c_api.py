"""The core is usable from C without Python: a small program that includes only csrc/cliff.h,
linked with the core's sources and oneDNN, must build warning-free and pass its checks."""
import glob
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_c_program_uses_the_core_through_cliff_h(c_program):
    c_program("smoke.c", sorted(glob.glob("csrc/*.c", root_dir=REPO) + glob.glob("csrc/nn/*.c", root_dir=REPO)))
