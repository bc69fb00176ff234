"""Fixtures for the end-to-end farm tests (they run inside the QEMU guest); see farm.py."""

from farm import farm, topology

__all__ = ["farm", "topology"]
