"""Where the shared traces are, when this checkout has them beside it."""
from pathlib import Path

import pytest

SHARED_TRACES = Path(__file__).resolve().parents[3].parent / "shared" / \
    "traces"


@pytest.fixture
def shared_traces() -> Path:
    if not SHARED_TRACES.is_dir():
        pytest.skip(f"shared traces not available at {SHARED_TRACES}")
    return SHARED_TRACES
