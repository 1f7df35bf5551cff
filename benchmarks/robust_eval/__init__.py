"""Helpers for ``benchmarks/bench_robust.py``: images, transformations, methods, metrics."""
