"""Measurement tooling kept out of the product package: extraction quality, synthetic corpora."""
