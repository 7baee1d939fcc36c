"""Stage 5, regression: historical determinations compared with the rule base (runner, metrics, reports)."""
