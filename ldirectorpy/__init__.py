"""ldirectorpy: keeps the kernel's IPVS table true to ldirectord.cf and to the
health of the real servers behind it."""

__version__ = "0.1.0"
