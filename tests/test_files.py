"""aae_core.files.write_atomic: the whole new file or the old one, with ordinary permissions, no temp files left."""

import os

import pytest

from aae_core.files import write_atomic


def test_replaces_the_file_with_umask_permissions(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    old = os.umask(0o027)
    try:
        assert write_atomic(path, b"new") == path
    finally:
        os.umask(old)
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_failed_write_keeps_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_folder_in_the_way_is_an_error_and_leaves_nothing(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        write_atomic(tmp_path / "d", b"x")
    assert os.listdir(tmp_path) == ["d"]
