"""Experiments: a workflow's variants compared over a dataset, scored, with intervals.

definition (YAML), datasets (CSV/JSONL import), overrides (a variant's config), scorers,
statistics (the one module of figures), gates (CI thresholds), creation (a draft from a
definition), launch (start, cancel), progress, report (the comparison), row_comparison
(two variants row by row), promotion (a variant to a workflow version), stored_datasets
(import, add a run, list), cells (scoring a finished cell run), local (in-process).
"""
