"""Benchmarks: streamdash against a real Prometheus and a real terminal.

Run everything with ``/work/venv/bin/python -m benchmarks.run`` from the repository
root (see BENCHMARKS.md). Nothing in streamdash or its tests imports this package.
"""
