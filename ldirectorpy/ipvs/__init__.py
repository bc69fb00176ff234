"""The kernel IPVS table: value types, planner, netlink and in-memory backends."""
