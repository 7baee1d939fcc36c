"""Stage 3, evaluation: the durable_rules adapter (the only module importing durable), the knowledge base and item
sessions, results.
"""
