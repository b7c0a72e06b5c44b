"""`python -m chat [--reload]`: the Procfile's chat process."""

from chat.server import main

raise SystemExit(main())
