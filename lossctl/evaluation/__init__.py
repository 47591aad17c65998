"""Evaluating a declared loss: validation, the block engine, reductions, activations.

See docs/architecture.md for the pipeline (prepare → evaluate blocks → reduce).
"""
