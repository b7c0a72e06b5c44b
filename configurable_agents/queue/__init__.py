"""The task queue binding: Huey on SQLite (default) or Redis, and everything around runs
that workers execute.

- dispatch: start, enqueue, cancel, retry, approve (every entry point goes through it)
- huey_app, tasks, worker: the queue, its tasks, the worker process (an agent)
- leases: claim within the concurrency limits, renew, reap runs of dead workers
- limits: the queue depth limit (429)
- triggers, schedules: webhooks and cron schedules, each delivery or tick once
- remote: remote agents as run targets (registration, forms, dispatch)
"""
