"""Workflow execution: compiles a config to a LangGraph graph and runs it; safe prompt templates."""
