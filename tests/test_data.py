import numpy as np
import pytest
import torch

from difflab.data import FILES, DataError, fetch_mnist, load_mnist, read_idx, write_idx


def local_cfg(folder, sha):
    return {"sources": ["local"], "local_dir": str(folder), "sha256": sha, "timeout_s": 1}


def test_idx_round_trip_keeps_shape_and_values(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x", images)
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03" and int.from_bytes(raw[4:8], "big") == 2
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), images)
    labels = np.array([7, 2, 1], np.uint8)
    write_idx(tmp_path / "y", labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "y"), labels)


def test_truncated_file_is_rejected(tmp_path):
    write_idx(tmp_path / "x", np.zeros((4, 28, 28), np.uint8))
    (tmp_path / "x").write_bytes((tmp_path / "x").read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "x")


def test_wrong_magic_is_rejected(tmp_path):
    (tmp_path / "x").write_bytes(b"\x1f\x8b\x08\x00" + bytes(100))  # a gzip header, not IDX
    with pytest.raises(DataError, match="magic number 0x1f8b0800"):
        read_idx(tmp_path / "x")


def test_fetch_verifies_and_loads(tiny_mnist, tmp_path):
    folder, sha = tiny_mnist
    fetch_mnist(tmp_path / "out", local_cfg(folder, sha), log=lambda *_: None)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FILES)
    x, y = load_mnist(tmp_path / "out", "train")
    assert x.shape == (256, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.min() == 0 and x.max() == 1 and set(x.unique().tolist()) == {0.0, 1.0}
    assert load_mnist(tmp_path / "out", "test", limit=10)[0].shape == (10, 1, 28, 28)


def test_checksum_mismatch_stops_and_leaves_nothing(tiny_mnist, tmp_path):
    folder, sha = tiny_mnist
    bad = dict(sha, **{FILES[2]: "0" * 64})
    with pytest.raises(DataError, match=f"{FILES[2]}.*sha256 .* does not match"):
        fetch_mnist(tmp_path / "out", local_cfg(folder, bad), log=lambda *_: None)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["mnist-src"]  # no staging folder left behind


def test_corrupt_source_file_stops_the_fetch(tiny_mnist, tmp_path):
    folder, sha = tiny_mnist
    (folder / FILES[1]).write_bytes((folder / FILES[1]).read_bytes()[:-1])
    with pytest.raises(DataError, match="truncated"):
        fetch_mnist(tmp_path / "out", local_cfg(folder, sha), log=lambda *_: None)
    assert not (tmp_path / "out").exists()


def test_unknown_source_and_missing_file(tiny_mnist, tmp_path):
    folder, sha = tiny_mnist
    with pytest.raises(ValueError, match="data.sources=\\['ftp'\\]"):
        fetch_mnist(tmp_path / "out", dict(local_cfg(folder, sha), sources=["ftp"]))
    with pytest.raises(DataError, match="file not found"):
        load_mnist(tmp_path / "nowhere", "train")
