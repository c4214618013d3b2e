"""Host rows from a given membership: the predictor's rows need no
replay, only where the VMs were (``dataset.Membership``)."""
import numpy as np

from watcher_adaptive.predict import dataset
from watcher_adaptive.traces.model import LoadReport
from watcher_adaptive.traces.model import TraceSet

INTERVAL = 300.0


def _trace(cpu):
    cpu = np.asarray(cpu, dtype=np.float32)
    return TraceSet(name="hand-made", interval_s=INTERVAL,
                    vm_ids=tuple(f"v{i}" for i in range(cpu.shape[0])),
                    cpu=cpu, report=LoadReport(source="test"))


def test_host_rows_read_the_membership_they_are_given():
    t = 40
    ramp = np.linspace(0.1, 0.9, t)
    trace = _trace([ramp, np.full(t, 0.5), np.full(t, 0.2)])
    frames = np.arange(1, t)
    # VMs 0 and 1 share host 0, VM 2 is alone on host 1; all stay put
    members = dataset.Membership(
        times_s=0.1 + frames * INTERVAL,
        vm_host=np.tile([0, 0, 1], (frames.size, 1)),
        vm_mips=np.array([1000.0, 1000.0, 500.0]),
        host_mips=np.array([2000.0, 1000.0]),
        start_offset_s=0.1)
    horizon = 3
    rows = dataset.host_rows(trace, horizon, members)
    assert rows.X.shape[1] == len(dataset.host_feature_names())
    # one row per host at every frame with a whole horizon after it
    assert set(rows.series) == {0, 1}
    # host 0's target: the peak of its two VMs' demand over its capacity
    # in the samples after each frame
    host0 = (ramp * 1000.0 + 0.5 * 1000.0) / 2000.0
    on0 = rows.series == 0
    expected = [host0[s + 1:s + 1 + horizon].max()
                for s in rows.origins[on0]]
    np.testing.assert_allclose(rows.y[on0], expected, rtol=1e-6)
    np.testing.assert_allclose(rows.y[~on0], 0.1, rtol=1e-6)
    assert not rows.event.any()


def test_memory_of_a_vm_of_unknown_size_is_no_fraction():
    # 0 or NaN provisioned memory is "unknown": its MBs divided by a
    # stand-in size would be a "fraction" of thousands and swamp every
    # score; the VM has no memory fraction instead
    trace = TraceSet(
        name="mem", interval_s=300.0, vm_ids=("a", "b", "c"),
        cpu=np.full((3, 2), 0.2),
        memory_mb=np.array([[512.0, 1024.0], [700.0, 800.0], [5.0, 6.0]]),
        vm_memory_mb=np.array([2048.0, 0.0, np.nan]))
    fraction = dataset.resource_series(trace)["memory"]
    np.testing.assert_allclose(fraction[0], [0.25, 0.5])
    assert np.isnan(fraction[1:]).all()
    assert dataset.memory_fraction(
        TraceSet(name="cpu only", interval_s=300.0, vm_ids=("a",),
                 cpu=np.zeros((1, 2)))) is None
