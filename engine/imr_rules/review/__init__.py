"""Stage 4, review: what a reviewer reads, rendered from evaluation results (text and JSON reports, what-if,
determination documents, batches).
"""
