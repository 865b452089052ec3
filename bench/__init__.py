"""Benchmarks (docs/benchmarks.md): `python -m bench.<name>`; `make bench` runs them all at a quick scale."""
