import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from difflab.data.mnist import FILES, write_idx


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
