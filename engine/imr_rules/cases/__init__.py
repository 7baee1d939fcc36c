"""Stage 1, cases: the case format, reading and validating case files, the vocabulary, and the projection of a case
onto the base facts rules read.
"""
