"""`python -m dashboard [--reload]`: the Procfile's dashboard process."""

from dashboard.server import main

raise SystemExit(main())
