"""Shared pytest fixtures. The network fixtures (random official-layout checkpoints and the
PyTorch reference, see docs/reference.md) live in fixtures_nets.py; they need torch."""
try:
    import torch  # noqa: F401
except ImportError:  # torch is a test extra; without it the network tests skip themselves
    pass
else:
    from fixtures_nets import *  # noqa: F401,F403
