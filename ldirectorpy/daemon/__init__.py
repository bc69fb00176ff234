"""The daemon's edges: pid file, detaching, signals, sd_notify, logging, status socket."""
