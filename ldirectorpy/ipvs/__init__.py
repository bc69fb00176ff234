"""The kernel IPVS table: value types, planner, netlink and in-memory backends.

    types.py      Service / Destination values, typed keys, `Table`; normalisation
    normalize.py  our Service <-> the kernel's flags word (HASHED masked)
    planner.py    plan(desired, actual, owned) -> ordered ops (pure)
    backend.py    the IPVSBackend protocol, ApplyReport, shared idempotency rules
    memory.py     MemoryBackend: the kernel's answers, in memory (a test double)
    nlcodec.py    the IPVS generic-netlink wire format: encode requests, decode dumps (pure)
    netlink.py    NetlinkBackend: generic netlink; the only module importing pyroute2
    errors.py     the error hierarchy

A reconcile is `await backend.apply(plan(desired, await backend.dump(owned), owned))`.
"""
