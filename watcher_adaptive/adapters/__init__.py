"""Thin I/O adapters around the pure core (Gnocchi, …)."""
