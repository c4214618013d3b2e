"""Where a trace comes from, in one line for a report's footer.

The full provenance of the embedded samples is
``watcher_adaptive/data/TRACES_ATTRIBUTION.rst``; a report that shows a
replay of a public trace names its source and the work to cite with it.
Pure: a lookup on the loader's ``LoadReport.source``.
"""
from __future__ import annotations

_ATTRIBUTIONS = {
    "planetlab": (
        "PlanetLab CPU utilisation measured by the CoMon project "
        "(March-April 2011), as distributed with CloudSim's power-aware "
        "examples. Cite: A. Beloglazov and R. Buyya, CCPE 24(13), 2012; "
        "K. Park and V. S. Pai, \"CoMon\", ACM SIGOPS OSR 40(1), 2006."),
    "bitbrains": (
        "Bitbrains Rnd VM resource usage (July 2013), Grid Workloads "
        "Archive trace GWA-T-12, TU Delft. Cite: S. Shen, V. van Beek "
        "and A. Iosup, \"Statistical Characterization of "
        "Business-Critical Workloads Hosted in Cloud Datacenters\", "
        "CCGrid 2015."),
    "csv": "a user-supplied CSV trace; its source is the user's to cite.",
}


def attribution(source: str) -> str:
    """The attribution of a trace whose loader reported ``source``
    (``planetlab``, ``bitbrains``, ``csv``); an unknown source says
    so rather than guess."""
    return _ATTRIBUTIONS.get(
        source, f"source {source!r}: no attribution recorded.")
