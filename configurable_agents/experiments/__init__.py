"""Experiments: a workflow's variants compared over a dataset, scored, with intervals.

definition (YAML), datasets (CSV/JSONL import), overrides (a variant's config), scorers,
statistics (the one module of figures), gates (CI thresholds), service (create, start,
cancel, progress, report, promote), cells (scoring a finished cell run), local (in-process).
"""
