"""One module per section of the dashboard."""
