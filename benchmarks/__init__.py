"""Benchmarks at 10,000 rules: `python -m benchmarks` (see README, Performance)."""
