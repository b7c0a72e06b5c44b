"""The dashboard process: FastAPI + Jinja2 + HTMX, live status over SSE."""
