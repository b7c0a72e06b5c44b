"""Service health probes, one status snapshot of the set, one broadcaster for SSE."""
