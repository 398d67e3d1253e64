"""The streaming and listening benchmarks refuse what is not a shipped library in one line, exit 2, writing
nothing (the measurements themselves run in tests/test_firmware_tiling.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["bench_listen", "bench_stream_push"])
def test_not_a_library_is_one_line_and_exit_2(name, tmp_path, load_tool, capsys):
    tool = load_tool(name)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "firmware.json").write_text("{}")
    rc = tool.main([str(tmp_path / "lib"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not a library written by asc-firmware" in err[0]
    assert not (tmp_path / "out").exists()
