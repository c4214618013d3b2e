"""Host power models: SPECpower tables interpolated per 10 % of CPU load.

CloudSim's ``PowerModelSpecPower`` gives the draw at 0, 10, …, 100 %
utilisation and interpolates linearly in between; the tables here are the
published SPECpower_ssj2008 figures CloudSim 3.0.3 ships for these servers.
"""
from __future__ import annotations

import numpy as np

#: HP ProLiant ML110 G4 (1 x Xeon 3040, 2 cores x 1860 MHz)
HP_ML110_G4_W = (86.0, 89.4, 92.6, 96.0, 99.5, 102.0, 106.0, 108.0, 112.0,
                 114.0, 117.0)
#: HP ProLiant ML110 G5 (1 x Xeon 3075, 2 cores x 2660 MHz)
HP_ML110_G5_W = (93.7, 97.0, 101.0, 105.0, 110.0, 116.0, 121.0, 125.0,
                 129.0, 133.0, 135.0)
#: IBM System x3550 M3 (2 x Xeon X5675, 12 cores x 3067 MHz)
IBM_X3550_X5675_W = (58.4, 98.0, 109.0, 118.0, 128.0, 140.0, 153.0, 170.0,
                     189.0, 205.0, 222.0)


def power_at(tables: np.ndarray, utilization: np.ndarray) -> np.ndarray:
    """Power draw (W) of each host at the given CPU utilisation.

    The arithmetic is CloudSim's ``PowerModelSpecPower.getPower`` step by
    step.  NOTE(wa): that matters: power-aware placement compares power
    differences of hosts in the same linear segment, which are equal but
    for rounding, and CloudSim's choice among them follows its rounding.

    :param tables: ``(n, 11)`` power at 0, 10, …, 100 % per host.
    :param utilization: ``(n,)`` fractions in ``[0, 1]``.
    :returns: ``(n,)`` watts, linearly interpolated between table points.
    """
    u = np.clip(np.asarray(utilization, dtype=np.float64), 0.0, 1.0)
    rows = np.arange(tables.shape[0])
    on_point = np.fmod(u, 0.1) == 0
    exact = tables[rows, (u * 10).astype(np.intp)]
    lower = np.floor(u * 10).astype(np.intp)
    upper = np.ceil(u * 10).astype(np.intp)
    p1 = tables[rows, lower]
    p2 = tables[rows, upper]
    delta = (p2 - p1) / 10
    between = p1 + delta * (u - lower / 10) * 100
    return np.where(on_point, exact, between)
