"""Shared plumbing for every stage: located diagnostics, YAML reading with line numbers, model error mapping."""
