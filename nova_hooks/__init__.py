"""Destination-host agent: acts on a guest while its live migration runs."""
