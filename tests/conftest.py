import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from difflab.data.mnist import FILES, write_idx


def pytest_configure(config):
    """Under pytest-xdist each worker's torch, and each process it starts, takes its share of the cores: two
    workers of two threads each on two cores spin against each other (a sampling test ran 4x slower, a test running
    stage scripts 7x)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import torch

        share = max(1, (os.cpu_count() or 1) // int(workers))
        torch.set_num_threads(share)
        os.environ.setdefault("OMP_NUM_THREADS", str(share))  # and the stages and tools the tests start


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 images of a bright bar whose angle encodes the label 0-9, with some jitter."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    yy, xx = np.mgrid[0:28, 0:28] - 13.5
    images = np.zeros((n, 28, 28), np.uint8)
    for i, k in enumerate(labels):
        angle = np.pi * k / 10 + rng.normal(0, 0.05)
        dist = np.abs(-np.sin(angle) * xx + np.cos(angle) * yy)  # distance to a line through the centre
        along = np.abs(np.cos(angle) * xx + np.sin(angle) * yy)
        images[i] = np.where((dist < 1.6) & (along < 10), 255, 0)
    return images, labels


def write_mnist_like(folder: Path, n_train: int = 256, n_test: int = 64) -> dict[str, str]:
    """Write the four IDX files of a tiny MNIST look-alike and return their sha256 values."""
    folder.mkdir(parents=True, exist_ok=True)
    train, test = synthetic_digits(n_train, 0), synthetic_digits(n_test, 1)
    arrays = dict(zip(FILES, (train[0], train[1], test[0], test[1])))
    for name, array in arrays.items():
        write_idx(folder / name, array)
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


@pytest.fixture(scope="module")
def digits():
    """96 synthetic digits as the training loop takes them (helpers.digit_tensors), built once per test module."""
    from helpers import digit_tensors

    return digit_tensors()


@pytest.fixture
def tiny_mnist(tmp_path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "mnist-src"
    return folder, write_mnist_like(folder)


def in_a_terminal(cmd: list[str], cwd: Path, columns: int, env: dict[str, str]) -> str:
    """What `cmd` prints in a terminal `columns` wide (a pseudo-terminal; COLUMNS and LINES taken out of `env`, so
    the command learns the width from the terminal); fails the test if it exits non-zero."""
    import fcntl
    import pty
    import struct
    import termios

    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=300) == 0, b"".join(chunks).decode()
    return b"".join(chunks).decode().replace("\r\n", "\n")


# The tiny DAG (tests/tiny_dag.py): built once per test run, in the background from the moment the suite is
# collected, so that the unit tests run beside it; under pytest-xdist every worker shares the one build.
_BUILD: dict = {}  # the build process this process started, if any


def _shared_root(config) -> Path:
    """The run's temporary folder that every pytest-xdist worker shares (the parent of a worker's own)."""
    base = config._tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def pytest_collection_modifyitems(config, items):
    """The tests on the tiny DAG last, the longest module first, so that the unit tests run while it is built and,
    under pytest-xdist (--dist loadfile --no-loadscope-reorder), each of its modules goes to a worker of its own as
    the unit tests free them."""
    def order(item) -> int:
        name = item.path.name
        return DAG_MODULES.index(name) if name in DAG_MODULES else len(DAG_MODULES)
    dag = sorted((item for item in items if "dag" in item.fixturenames), key=order)
    items[:] = [item for item in items if "dag" not in item.fixturenames] + dag


DAG_MODULES = ("test_pipeline.py", "test_pipeline_experiments.py")  # the modules on the tiny DAG, longest first


def pytest_collection_finish(session):
    """Start building the tiny DAG (once per run, whichever process gets here first) if a selected test needs it."""
    if session.config.option.collectonly or not any("dag" in item.fixturenames for item in session.items):
        return
    from filelock import FileLock

    root = _shared_root(session.config)
    with FileLock(str(root / "tiny-dag.lock")):
        started = root / "tiny-dag.started"
        if started.exists():
            return
        started.touch()
        tests = Path(__file__).resolve().parent
        _BUILD["process"] = subprocess.Popen(
            [sys.executable, str(tests / "tiny_dag.py"), str(root / "tiny-dag" / "pipeline")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def pytest_sessionfinish(session, exitstatus):
    """A build still running when the run is interrupted is stopped with it. (A pytest-xdist worker done with its
    share leaves it running: another worker's tests may be waiting for it.)"""
    process = _BUILD.pop("process", None)
    stop = exitstatus == pytest.ExitCode.INTERRUPTED or not os.environ.get("PYTEST_XDIST_WORKER")
    if process is not None and process.poll() is None and stop:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


@dataclass(frozen=True)
class Dag:
    repo: Path  # the built repository: read it, never change it (tests that change one take a copy: tiny_dag.copy)
    log: str  # what `dvc repro` printed building it


@pytest.fixture(scope="session")
def dag(request) -> Dag:
    """The built tiny DAG, waited for (it builds in the background: pytest_collection_finish)."""
    import tiny_dag

    root = _shared_root(request.config)
    repo = root / "tiny-dag" / "pipeline"
    status, deadline = repo.parent / tiny_dag.STATUS, time.monotonic() + 900
    while not status.exists():
        if time.monotonic() > deadline:
            pytest.fail("the tiny DAG was not built within 15 minutes")
        time.sleep(1)
    log = (repo.parent / tiny_dag.LOG).read_text() if (repo.parent / tiny_dag.LOG).exists() else ""
    if status.read_text() != "0":
        pytest.fail(f"the tiny DAG's build failed:\n{log[-5000:]}")
    return Dag(repo, log)


@pytest.fixture(scope="module")
def repo(dag, tmp_path_factory) -> Path:
    """The module's own copy of the built tiny DAG, which its tests change in turn (the modules on the tiny DAG run
    side by side under pytest-xdist, each on its copy)."""
    import tiny_dag

    return tiny_dag.copy(dag.repo, tmp_path_factory.mktemp("pipeline") / "repo")
