"""Test-only PyTorch reference of the CLIFF networks (see docs/reference.md)."""
