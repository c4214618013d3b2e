"""Hours of usage into a Prometheus at once, for tests, benchmarks and
demos (the counterpart of :class:`.gnocchi.GnocchiWriter`).

Scraping only records the present, so history goes in through the
remote-write receiver (``--web.enable-remote-write-receiver``; a
``out_of_order_time_window`` in the server's ``storage.tsdb`` lets it
take samples older than its newest).  The protocol is Prometheus's
``WriteRequest`` protobuf, snappy-compressed; the message classes are
built from a descriptor with the protobuf library (no generated code),
the compression is cramjam's.  Both are test requirements, imported
only here.
"""
from __future__ import annotations

import functools
from typing import Any
from typing import Mapping
from typing import Optional
from typing import Sequence

import numpy as np

from watcher_adaptive.exceptions import MetricSourceError


@functools.lru_cache(maxsize=1)
def _write_request_class() -> Any:
    """``prometheus.WriteRequest`` of prompb/remote.proto and types.proto
    (the fields remote write 1.0 needs, with their numbers)."""
    from google.protobuf import descriptor_pb2
    from google.protobuf import descriptor_pool
    from google.protobuf import message_factory

    fdp = descriptor_pb2.FileDescriptorProto(
        name="watcher_adaptive_remote_write.proto", package="prometheus",
        syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto

    def message(name: str, *fields: tuple[str, int, int, str]) -> None:
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype, type_name in fields:
            field = msg.field.add(name=fname, number=number, type=ftype,
                                  label=F.LABEL_REPEATED if type_name
                                  else F.LABEL_OPTIONAL)
            if type_name:
                field.type_name = type_name

    message("Label", ("name", 1, F.TYPE_STRING, ""),
            ("value", 2, F.TYPE_STRING, ""))
    message("Sample", ("value", 1, F.TYPE_DOUBLE, ""),
            ("timestamp", 2, F.TYPE_INT64, ""))
    message("TimeSeries", ("labels", 1, F.TYPE_MESSAGE, ".prometheus.Label"),
            ("samples", 2, F.TYPE_MESSAGE, ".prometheus.Sample"))
    message("WriteRequest",
            ("timeseries", 1, F.TYPE_MESSAGE, ".prometheus.TimeSeries"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("prometheus.WriteRequest"))


class PrometheusWriter:
    """Remote-writes series to the Prometheus at ``endpoint``.

    :param series_per_request: time series per write request.
    """

    def __init__(self, endpoint: str, series_per_request: int = 1000,
                 timeout_s: float = 120.0) -> None:
        import requests

        self.url = endpoint.rstrip("/") + "/api/v1/write"
        self.series_per_request = series_per_request
        self.timeout_s = timeout_s
        self.http = requests.Session()

    def push_series(self, metric: str,
                    labels: Sequence[Mapping[str, str]],
                    times: np.ndarray, values: np.ndarray) -> int:
        """Write ``values[i]`` (``(n, t)``, NaN skipped) as the series
        ``metric{labels[i]}`` at ``times``; returns requests made.

        :raises MetricSourceError: the server refused or did not answer.
        """
        stamps = times.astype("datetime64[ms]").astype(np.int64)
        request_class = _write_request_class()
        requests = 0
        for lo in range(0, len(labels), self.series_per_request):
            req = request_class()
            for i in range(lo, min(len(labels), lo + self.series_per_request)):
                series = req.timeseries.add()
                series.labels.add(name="__name__", value=metric)
                for name in sorted(labels[i]):
                    series.labels.add(name=name, value=str(labels[i][name]))
                keep = np.isfinite(values[i])
                for t, v in zip(stamps[keep].tolist(),
                                values[i][keep].tolist(), strict=True):
                    series.samples.add(value=v, timestamp=t)
            self._send(req.SerializeToString())
            requests += 1
        return requests

    def push_usage(self, resource_ids: Sequence[str], times: np.ndarray,
                   cpu_cores: np.ndarray,
                   memory_mb: Optional[np.ndarray] = None,
                   label: str = "resource",
                   extra: Optional[Mapping[str, str]] = None) -> int:
        """Write instances' ``(n, t)`` usage as Ceilometer's Prometheus
        publisher would: ``ceilometer_cpu`` the cumulative ns of CPU
        time (integrated from ``cpu_cores``), ``ceilometer_memory_usage``
        in MB, the uuid in ``label``.  Returns requests made."""
        seconds = np.diff(times.astype("datetime64[s]").astype(np.int64),
                          prepend=times[0].astype("datetime64[s]")
                          .astype(np.int64))
        cum = np.cumsum(np.nan_to_num(cpu_cores) * seconds[None, :] * 1e9,
                        axis=1)
        cum[~np.isfinite(cpu_cores)] = np.nan
        labels = [{label: r, **(extra or {})} for r in resource_ids]
        requests = self.push_series("ceilometer_cpu", labels, times, cum)
        if memory_mb is not None:
            requests += self.push_series("ceilometer_memory_usage", labels,
                                         times, memory_mb)
        return requests

    def _send(self, payload: bytes) -> None:
        import cramjam
        import requests

        try:
            response = self.http.post(
                self.url, data=bytes(cramjam.snappy.compress_raw(payload)),
                timeout=self.timeout_s, headers={
                    "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf",
                    "X-Prometheus-Remote-Write-Version": "0.1.0"})
        except requests.RequestException as exc:
            raise MetricSourceError(f"{self.url}: {exc}") from exc
        if response.status_code >= 300:
            raise MetricSourceError(f"{self.url} refused the write "
                                    f"({response.status_code}): "
                                    f"{response.text[:300]}")
