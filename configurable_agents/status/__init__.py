"""Service health probes, one status snapshot of the set, and system resources (psutil)."""
