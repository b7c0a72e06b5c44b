"""The live status of the set, produced once per tick and streamed to every open page.

- ``snapshot``: the types a tick produces (LiveSnapshot, RunProgress, AgentLine, ...).
- ``watches``: slow readings on their own loops (service probes, system resources).
- ``tick``: the one loop that takes a snapshot every STATUS_TICK_SECONDS and fans it out;
  the app's lifespan (dashboard/app.py) starts it.
- ``topics``: each topic of the stream rendered once per snapshot.
- ``stream``: GET /events/status, the SSE endpoint pages subscribe to.
"""
