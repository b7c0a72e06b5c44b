"""The task queue binding: Huey on SQLite (default) or Redis, enqueue and the worker."""
