"""The dashboard's pages, one module per kind of page (as datasette's views).

Each module holds one context function (session or snapshot and settings in, plain data
out) and the two routes that use it: the HTML page and its JSON twin under /api/v1. So
every page answers as JSON with the same data by construction. Commands (form posts and
their API twins) live in ``dashboard/routes/``; SQL lives in ``dashboard/queries.py``.

- home: key figures, running now, recent errors, system resources (/, /api/v1/status)
- runs: the filtered runs list, experiments' cells only on request (/runs, /api/v1/runs)
- run: one run with its steps and live progress (/runs/{id}, /api/v1/runs/{id})
- workflows: the workflows list (/workflows, /api/v1/workflows)
- workflow: one workflow, its versions and diffs (/workflows/{id}, /api/v1/workflows/{id})
- templates: the example gallery (/templates, /api/v1/templates)
- agents: workers and remote agents (/agents, /api/v1/agents)
- orchestrator: queue, runs per worker, limits, resources (/orchestrator, /api/v1/orchestrator)
- metrics: cost, tokens, latency over time (/metrics, /api/v1/metrics)
- optimization: experiments, their progress, comparison and rows (/optimization[/{id}[/rows]],
  /api/v1/experiments[/{id}[/results|/rows|/progress]], /api/v1/datasets)
- settings: the effective configuration, redacted (/settings, /api/v1/settings)
"""
