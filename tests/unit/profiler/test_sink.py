from __future__ import annotations

from gnocchiclient import exceptions as gexc

from watcher_adaptive.profiler import sink
from watcher_adaptive.profiler.spool import Spooled


def test_batch_body_groups_by_instance_and_metric():
    body = sink.batch_body([
        Spooled(1, "i1", 0.0, {"cpu.user": 0.1, "net.rx_bps": 5.0}),
        Spooled(2, "i1", 30.0, {"cpu.user": 0.2}),
        Spooled(3, "i2", 0.0, {"cpu.user": 0.3})], "pol")
    assert body["i1"]["adaptive.cpu.user"] == {
        "archive_policy_name": "pol",
        "measures": [{"timestamp": "1970-01-01T00:00:00+00:00",
                      "value": 0.1},
                     {"timestamp": "1970-01-01T00:00:30+00:00",
                      "value": 0.2}]}
    assert list(body["i2"]) == ["adaptive.cpu.user"]
    assert body["i1"]["adaptive.net.rx_bps"]["measures"][0]["value"] == 5.0


def test_unknown_resources_are_read_from_gnocchis_refusal():
    exc = gexc.BadRequest(code=400, message={
        "cause": "Unknown resources", "detail": [
            {"resource_id": "x", "original_resource_id": "i2"}]})
    assert sink._unknown_resources(exc) == {"i2"}
    assert sink._unknown_resources(gexc.BadRequest(
        code=400, message="Invalid input")) == set()
