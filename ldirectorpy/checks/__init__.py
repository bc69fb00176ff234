"""Health probes, one module per protocol; each returns a result and never raises."""
