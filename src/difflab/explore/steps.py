"""What the tabs do at each step of a reverse process, free of the page: keep a bounded film of it (Frames: the
noise, every k-th step and the result, at most MAX_FRAMES pictures whatever the step count or the batching), run the
page's own
per-step observers (progress) in the one callback the library's samplers take, and stop the loop when the page's
Cancel was pressed (a flag per page and tab, Cancels, read after every step: Gradio's own `cancels=` drops the
answer of a running function but cannot stop the function itself, which would go on holding the CPU)."""

import contextlib
import itertools
import math
import threading
from collections.abc import Callable, Iterator

import numpy as np
import torch

from difflab.reporting.figures import tile

MAX_FRAMES = 50  # pictures kept per reverse process: a 1000-step run keeps every 21st step, not 1000 grids
SCALE = 2  # each 28 x 28 digit shown 56 x 56

Step = Callable[[int, float, torch.Tensor], None]  # on_step(i, t, x) of ddpm.sample and flow.euler_sample


def picture(x: torch.Tensor, ncols: int) -> np.ndarray:
    """The uint8 mosaic the page shows (reporting.figures.tile, SCALE times the pixels)."""
    return tile(x.clamp(0, 1), ncols, scale=SCALE)


def when(t: float) -> str:
    """Where a step leaves x: a DDPM's timestep (-1 = clean, the result) or a flow model's time in [0, 1]."""
    if isinstance(t, float):
        return f"t = {t:.3g}" + (" (the result)" if t >= 1 else "")
    return "the result" if t < 0 else f"t = {t}"


class Frames:
    """The reverse process of a grid as the pictures the page shows: the noise, every `every`-th step and the last
    step (whose picture is the result's), at most `limit` of them. Kept as uint8 mosaics (a 10 x 10 grid's is
    561 x 561 bytes), not as tensors, so that a long run's memory stays bounded and small. The sampler may take the
    grid's images in batches, one after another through every step (generate()'s batch_size): a step's picture is
    made once the last batch has passed that step, from each batch's pixels at it (uint8, kept until then)."""

    def __init__(self, ncols: int, limit: int = MAX_FRAMES):
        if limit < 2:
            raise ValueError(f"limit={limit}; allowed: 2 or more (the noise and the result)")
        self.ncols, self.limit = ncols, limit
        self.total, self.every, self.n = 0, 1, 0
        self.pictures: list[np.ndarray] = []
        self.labels: list[str] = []
        self._parts: dict[int, list[torch.Tensor]] = {}  # step -> the pixels of the batches that passed it

    def start(self, x_T: torch.Tensor, total: int) -> None:
        """The noise, before `total` steps: every k-th step is kept from here on, k chosen so that the noise, the
        kept steps and the last one fit in the limit."""
        self.total, self.every, self.n = total, max(1, math.ceil(total / (self.limit - 1))), len(x_T)
        self.pictures, self.labels, self._parts = [picture(x_T, self.ncols)], ["the noise (step 0)"], {}

    def __call__(self, i: int, t: float, x: torch.Tensor) -> None:
        """on_step(i, t, x): keep x (all the images, or the batch under way) after step i if it is every-th or the
        last."""
        if (i + 1) % self.every != 0 and i + 1 != self.total:
            return
        if len(x) < self.n:  # one batch: its pixels, as picture() rounds them, until every batch has passed step i
            parts = self._parts.setdefault(i, [])
            parts.append((x.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8))
            if sum(map(len, parts)) < self.n:
                return
            x = torch.cat(self._parts.pop(i)).float() / 255
        self.pictures.append(picture(x, self.ncols))
        self.labels.append(f"step {i + 1} of {self.total}: {when(t)}")


class Cancelled(Exception):
    """The work was cancelled from the page: raised from the per-step callback, so the sampling loop stops after
    step `done` of `total` (of batch `batch` of `batches`, where the images go through in batches) and nothing after
    it runs."""

    def __init__(self, done: int, total: int, batch: int = 1, batches: int = 1):
        super().__init__(f"cancelled at step {done} of {total}" + (f" of batch {batch} of {batches}"
                                                                    if batches > 1 else ""))
        self.done, self.total, self.batch, self.batches = done, total, batch, batches


def stop_if(cancel: threading.Event | None, total: int, batches: int = 1) -> Step | None:
    """An on_step that raises Cancelled once `cancel` is set (None: no flag, nothing to check); the loop runs
    `total` steps for each of `batches` batches, one batch after another."""
    if cancel is None:
        return None
    calls = itertools.count()

    def check(i: int, _t: float, _x: torch.Tensor) -> None:
        batch = next(calls) // total + 1
        if cancel.is_set():
            raise Cancelled(i + 1, total, batch, batches)
    return check


def watched(*observers: Step | None) -> Step:
    """One on_step callback that runs each observer given (None: skipped) in turn; it returns None, so the sampler
    keeps its own x. Put stop_if last: the step's other observers (its frame, its progress) still see it."""
    chosen = [f for f in observers if f is not None]

    def on_step(i: int, t: float, x: torch.Tensor) -> None:
        for f in chosen:
            f(i, t, x)
    return on_step


class Cancels:
    """The cancel flags of the work now running, one per key (the page's session and its tab): the work holds its
    flag while it runs (running) and the page's Cancel sets it (cancel). A flag lives only as long as its work, so a
    Cancel pressed when nothing runs cannot stop the next piece of work."""

    def __init__(self):
        self._flags: dict[tuple[str, str], threading.Event] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def running(self, key: tuple[str, str]) -> Iterator[threading.Event]:
        """A fresh flag for the work of `key` while it runs."""
        flag = threading.Event()
        with self._lock:
            self._flags[key] = flag
        try:
            yield flag
        finally:
            with self._lock:
                if self._flags.get(key) is flag:
                    del self._flags[key]

    def cancel(self, key: tuple[str, str]) -> bool:
        """Set the flag of the work running for `key`; False when none runs."""
        with self._lock:
            flag = self._flags.get(key)
        if flag is not None:
            flag.set()
        return flag is not None
