"""Hardware instruction-mix counters through ``perf_event_open(2)``.

System-wide counting needs ``perf_event_paranoid <= 0`` or
CAP_PERFMON, and a guest only has counters when its hypervisor exposes
a virtual PMU; :meth:`PerfCounters.open` returns ``None`` with the
reason otherwise, and the agent records the ``cpu_mix`` source as
``"none"``.
"""
import ctypes
import os
import struct

_NR_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}
_TYPE_HARDWARE = 0
#: our name -> PERF_COUNT_HW_* config
EVENTS = {"cycles": 0, "instructions": 1, "cache_misses": 3,
          "branch_misses": 5}
_ATTR_SIZE = 64          # PERF_ATTR_SIZE_VER0
_EXCLUDE_HV = 1 << 6


def _attr(config):
    # type, size, config, sample_period, sample_type, read_format, flags
    head = struct.pack("IIQQQQQ", _TYPE_HARDWARE, _ATTR_SIZE, config, 0, 0,
                       0, _EXCLUDE_HV)
    return head + b"\0" * (_ATTR_SIZE - len(head))


class PerfCounters:
    """One counting fd per (event, CPU); :meth:`read` sums over CPUs."""

    def __init__(self, fds):
        self._fds = fds

    @classmethod
    def open(cls):
        """``(PerfCounters, None)`` or ``(None, why not)``."""
        nr = _NR_PERF_EVENT_OPEN.get(os.uname().machine)
        if nr is None:
            return None, "no perf_event_open number for this machine"
        libc = ctypes.CDLL(None, use_errno=True)
        fds = {}
        try:
            for name, config in EVENTS.items():
                buf = ctypes.create_string_buffer(_attr(config), _ATTR_SIZE)
                for cpu in range(os.cpu_count() or 1):
                    fd = libc.syscall(nr, buf, -1, cpu, -1, 0)
                    if fd < 0:
                        err = ctypes.get_errno()
                        raise OSError(err, os.strerror(err))
                    fds.setdefault(name, []).append(fd)
        except OSError as exc:
            for fd in (f for group in fds.values() for f in group):
                os.close(fd)
            return None, f"perf_event_open: {exc.strerror}"
        return cls(fds), None

    def read(self):
        out = {}
        for name, group in self._fds.items():
            out[name] = sum(struct.unpack("Q", os.read(fd, 8))[0]
                            for fd in group)
        return out

    def close(self):
        for group in self._fds.values():
            for fd in group:
                os.close(fd)
        self._fds = {}
