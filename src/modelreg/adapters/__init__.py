"""Adapters: everything that runs a process, reads a remote or parses a foreign format.

git, DVC, the verified artifact loader, tables (CSV, JSON Lines, Parquet) and Prometheus.
Nothing here knows what a model, stage or policy is.
"""
