"""The checks of output and input paths made before a command works."""
from __future__ import annotations

import pytest

from watcher_adaptive.cmd import paths
from watcher_adaptive.exceptions import UsageError


def test_output_dir(tmp_path):
    paths.output_dir(tmp_path)                      # exists
    paths.output_dir(tmp_path / "new" / "deeper")   # can be made
    assert not (tmp_path / "new").exists()          # but is not made
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        paths.output_dir(tmp_path / "f")
    with pytest.raises(UsageError, match="is a file"):
        paths.output_dir(tmp_path / "f" / "sub" / "dir")


def test_output_file(tmp_path):
    paths.output_file(tmp_path / "new.json")
    (tmp_path / "f").write_text("x")
    paths.output_file(tmp_path / "f")               # overwritten
    with pytest.raises(UsageError, match="is a directory"):
        paths.output_file(tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        paths.output_file(tmp_path / "missing" / "a.pyz")
    with pytest.raises(UsageError, match="is a file"):
        paths.output_file(tmp_path / "f" / "a.pyz")
    paths.output_file(tmp_path / "missing" / "h.npz", make_parents=True)
    with pytest.raises(UsageError, match="is a file"):
        paths.output_file(tmp_path / "f" / "h.npz", make_parents=True)


def test_inputs(tmp_path):
    (tmp_path / "f").write_text("x")
    paths.input_file(tmp_path / "f", "--run")
    with pytest.raises(UsageError, match="--run .*no such file"):
        paths.input_file(tmp_path / "nope", "--run")
    with pytest.raises(UsageError, match="not a file"):
        paths.input_file(tmp_path, "--run")
    paths.input_dir(None, "--traces-root")
    paths.input_dir(str(tmp_path), "--traces-root")
    with pytest.raises(UsageError, match="no such directory"):
        paths.input_dir(str(tmp_path / "f"), "--traces-root")
