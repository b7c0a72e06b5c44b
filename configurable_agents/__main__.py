"""`python -m configurable_agents` is the same as the `configurable-agents` command."""

from configurable_agents.cli import main

raise SystemExit(main())
