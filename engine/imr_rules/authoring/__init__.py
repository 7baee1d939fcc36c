"""Stage 5, authoring checks: rule example cases and the rule catalogue."""
