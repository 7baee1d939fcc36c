"""Stage 2, rule base: the rule format, loading, validation and lint, the condition language, and compilation to
durable_rules rulesets.
"""
