"""Benchmarks (speed goals live here, never in timed tests). Run: `nox -s bench` or `python -m bench`."""
