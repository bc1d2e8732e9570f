"""Independent DVC stages side by side: DVC's own `dvc repro` for each stage, several at a time.

    python -m difflab.workflow.parallel --jobs 2           # the whole DAG, two stages at a time
    python -m difflab.workflow.parallel --jobs 4 report    # what `report` needs

Why this module exists: DVC runs a pipeline's stages one after another (`dvc repro` has no --jobs; its experiment
queue runs whole experiments side by side, not the stages of one). Its documented way to run independent stages in
parallel is one `dvc repro --single-item <stage>` per stage: DVC releases the repository lock while a stage's command
runs, and `--wait-for-lock` makes the other calls queue for it (it is held while each call checks its stage and
writes dvc.lock) instead of failing. This module schedules those calls over DVC's own graph of the stages
(`repo.index.graph`, loaded as workflow/reruns.py loads it) with `graphlib.TopologicalSorter`: a stage starts once
every stage it depends on has finished, at most `jobs` at once, the one with the longest chain of work still behind
it first; each call is timed by the runner's own clock. Each call is DVC's own, so the result is plain `dvc repro`'s:
an unchanged stage is skipped, one that ran before is restored from the run cache, outputs are removed before a stage
runs, its outputs are cached and dvc.lock records them (tests/test_pipeline.py compares the two on tiny data, byte
for byte). What DVC's own `dvc status` finds up to date, with nothing changed upstream of it, is skipped without a
call (out_of_date): after a change of one knob a run of the 39 stages makes a call for the few it touches, not 39
calls of 3-5 s each that find nothing to do.

On a CPU, run stages side by side only with a thread count pinned so that jobs x threads <= cores (params.yaml
`threads`; two 2-thread stages on 2 cores ran 15x slower than one after the other, as their threads spin waiting for
each other); on a GPU the stages share the device. Each stage's output goes to its own log file (shown whole when
the stage fails); the terminal gets a line per stage and a status line of what runs, or, one stage at a time on a
terminal, the stage's own output as it comes (its progress bars live, on a pseudo-terminal of its own).
"""

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path

import networkx as nx

from difflab.workflow.reruns import stage_reads, with_downstream

# DVC's one word on whether it ran a stage's command; the stage's time is the runner's own clock's, not DVC's
SKIPPED = re.compile(r"Stage '[^']+' (?:didn't change|is cached)")


def stage_graph(root: Path | str = ".", targets: list[str] | None = None) -> dict[str, set[str]]:
    """Every pipeline stage of the repository at `root` (a foreach stage's items as `name@key`), or those `targets`
    need, each with the stages whose outputs it depends on: the graph `dvc repro` walks, as graphlib takes it."""
    graph, _ = stage_reads(root)
    if targets:
        unknown = sorted(set(targets) - set(graph))
        if unknown:
            raise ValueError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(sorted(graph))}")
        graph = graph.subgraph(set(targets).union(*(nx.descendants(graph, t) for t in targets)))
    return {name: set(graph.successors(name)) for name in graph}


def out_of_date(upstream: dict[str, set[str]], root: Path | str = ".") -> set[str]:
    """The stages of `upstream` (stage_graph) that `dvc repro` may run: those DVC's own status finds changed (a dep,
    a param, the command or an output: missing ones too, as in a fresh clone) and every stage downstream of one of
    them (its deps change when they rerun; DVC decides then whether it is up to date)."""
    from dvc.repo import Repo

    with contextlib.chdir(root), Repo(".") as repo:
        changed = set(repo.status()) & set(upstream)
    return set(with_downstream(nx.DiGraph(upstream), changed))


def chain_lengths(upstream: dict[str, set[str]], cost: dict[str, float] | None = None) -> dict[str, float]:
    """Each stage's own cost plus the longest chain of costs of the stages that wait for it (1 per stage where no
    cost is known): started longest first, the stages on the critical path never wait for a slot."""
    graph, length = nx.DiGraph(upstream), {}
    for name in nx.topological_sort(graph):  # the stages waiting for a stage come before it
        waiting = (length[w] for w in graph.predecessors(name))
        length[name] = (cost or {}).get(name, 1.0) + max(waiting, default=0.0)
    return length


@dataclass
class Outcome:
    """What became of one stage: ran (DVC ran its command), skipped (unchanged or from the run cache), failed (the
    call's exit status) or not started (an upstream stage failed, or the run was stopped)."""
    status: str
    seconds: float = 0.0
    code: int = 0


@dataclass
class Run:
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(o.status in ("ran", "skipped") for o in self.outcomes.values())

    def times(self) -> dict[str, float]:
        return {n: o.seconds for n, o in self.outcomes.items() if o.status == "ran"}

    def skipped(self) -> set[str]:
        return {n for n, o in self.outcomes.items() if o.status == "skipped"}


def _timed(run_stage: Callable[[str], tuple[int, bool]], name: str, clock: Callable[[], float]) -> Outcome:
    """One call of run_stage, as an Outcome timed by the runner's clock around it."""
    start = clock()
    code, skipped = run_stage(name)
    return Outcome("failed" if code else "skipped" if skipped else "ran", clock() - start, code)


def schedule(upstream: dict[str, set[str]], run_stage: Callable[[str], tuple[int, bool]], jobs: int,
             priority: dict[str, float] | None = None, on_event: Callable[[str, str, Run], None] | None = None,
             clock: Callable[[], float] = time.monotonic, interrupt: Callable[[], None] | None = None,
             keep_going: bool = False) -> Run:
    """Run every stage once all it depends on finished well, at most `jobs` at a time, the highest `priority` first
    (chain_lengths by default). `run_stage(name)` returns (exit status, whether DVC skipped it). After a failure no
    new stage starts and those running finish, or with `keep_going` (dvc repro --keep-going) every stage that does
    not depend on a failed one still runs. `on_event(kind, name, run)` hears of each start and end. On Ctrl+C (or
    SIGTERM, made one by main) `interrupt()` tells the running stages to stop, and they are waited for."""
    if jobs < 1:
        raise ValueError(f"jobs={jobs}; allowed: an integer >= 1")
    order, rank = TopologicalSorter(upstream), priority or chain_lengths(upstream)
    order.prepare()
    result, ready, running = Run(), [], {}
    tell = on_event or (lambda kind, name, run: None)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while True:
                ready = sorted([*ready, *order.get_ready()], key=lambda n: (-rank.get(n, 0.0), n))
                while ready and len(running) < jobs and (keep_going or result.ok):
                    name = ready.pop(0)
                    running[pool.submit(_timed, run_stage, name, clock)] = name
                    tell("start", name, result)
                if not running:
                    break  # what still waits depends on a failed stage
                _collect(running, order, result, tell)
        except KeyboardInterrupt:
            if interrupt:
                interrupt()
            _wait_for(running)
            raise
    return Run({**result.outcomes, **{n: Outcome("not started") for n in upstream if n not in result.outcomes}})


def _collect(running: dict[Future, str], order: TopologicalSorter, result: Run, tell: Callable) -> None:
    """Wait up to a second for running stages to end; record each that did (a stage that failed is never done, so
    nothing that depends on it becomes ready)."""
    done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
    if not done:
        tell("tick", "", result)
    for future in done:
        name = running.pop(future)
        result.outcomes[name] = future.result()
        if not result.outcomes[name].code:
            order.done(name)
        tell("end", name, result)


def _wait_for(running: dict[Future, str]) -> None:
    """Let the stopped stages' `dvc repro` calls end and tidy up (a training stage keeps its checkpoint)."""
    for future in running:
        try:
            future.result()
        except BaseException:  # noqa: BLE001 - the run is being stopped; each call's end is its own business
            pass


def log_file(logs: Path, name: str) -> Path:
    """Where a stage's output goes: logs/<stage>.log (a stage in a sub-folder's dvc.yaml with its path flattened)."""
    return logs / f"{name.replace('/', '_')}.log"


class DvcRepro:
    """run_stage for schedule(): `dvc --wait-for-lock repro --single-item <stage>`, its output in logs/<stage>.log
    (with `echo`, also on this terminal as it comes: see _copy). Each call runs in a process group of its own, so a
    terminal's Ctrl+C reaches only the runner, and stop() sends the groups still running SIGINT (what Ctrl+C would
    have sent them: the stage's command stops, a training keeps its checkpoint, DVC leaves the lock file as it was),
    then kills what has not ended after `grace` seconds."""

    def __init__(self, logs: Path, env: dict[str, str] | None = None, grace: float = 20.0, echo: bool = False):
        logs.mkdir(parents=True, exist_ok=True)
        self.logs, self.env, self.grace, self.echo = logs, env, grace, echo
        self.live: set[subprocess.Popen] = set()
        self.lock = threading.Lock()

    def __call__(self, name: str) -> tuple[int, bool]:
        path = log_file(self.logs, name)
        with path.open("wb") as log:
            master, out = _terminal() if self.echo else (None, log)
            with self.lock:
                proc = subprocess.Popen(["dvc", "--wait-for-lock", "repro", "--single-item", name],
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                        start_new_session=True)  # its own group: stop() signals DVC and the command
                self.live.add(proc)
            if master is not None:
                os.close(out)
                _copy(master, log)
            code = proc.wait()
        with self.lock:
            self.live.discard(proc)
        return code, bool(SKIPPED.search(path.read_text(errors="replace")))

    def stop(self) -> None:
        with self.lock:
            procs = list(self.live)
        for proc in procs:
            _signal_group(proc, signal.SIGINT)
        deadline = time.monotonic() + self.grace
        for proc in procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)


def _terminal() -> tuple[int, int]:
    """A pseudo-terminal the size of this one: (its master, its slave) for a call's output."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    with contextlib.suppress(OSError):
        fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8))
    return master, slave


def _copy(master: int, log) -> None:
    """A call's output from its pseudo-terminal to this terminal and its log as it comes, until it closes: on a
    terminal the stage's progress bars stay live (tqdm draws them only on one)."""
    try:
        while chunk := os.read(master, 65536):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            log.write(chunk.replace(b"\r\n", b"\n"))
    except OSError:  # EIO: the pseudo-terminal's other side closed
        pass
    finally:
        os.close(master)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:  # it ended meanwhile
        pass


class Console:
    """A line per stage's start and end; where stdout is a terminal (and no stage's output is shown there, `live`)
    also a status line, redrawn each second, of the stages running and for how long."""

    def __init__(self, total: int, jobs: int, logs: Path, out=sys.stdout, clock=time.monotonic, live: bool = True):
        self.total, self.jobs, self.logs, self.out, self.clock = total, jobs, logs, out, clock
        self.since: dict[str, float] = {}
        self.live = live and out.isatty()

    def __call__(self, kind: str, name: str, run: Run) -> None:
        if kind == "start":
            self.since[name] = self.clock()
            return self._status(run)
        if kind == "tick":
            return self._status(run)
        self.since.pop(name, None)
        o = run.outcomes[name]
        self._clear()
        word = {"ran": "done", "skipped": "unchanged", "failed": f"FAILED (exit {o.code})"}[o.status]
        print(f"[{len(run.outcomes):>{len(str(self.total))}}/{self.total}] {name}: {word}"
              + (f" in {o.seconds:.1f} s" if o.status == "ran" else ""), file=self.out, flush=True)
        if o.status == "failed":
            log = log_file(self.logs, name)
            print(f"--- {log} ---\n{log.read_text(errors='replace')[-6000:]}---", file=self.out, flush=True)
        self._status(run)

    def _status(self, run: Run) -> None:
        if self.live and self.since:
            now = self.clock()
            text = ", ".join(f"{n} {now - s:.0f} s" for n, s in self.since.items())
            self.out.write(f"\r\x1b[K  running ({len(self.since)} of {self.jobs} slots): {text}"[:200])
            self.out.flush()

    def _clear(self) -> None:
        if self.live:
            self.out.write("\r\x1b[K")


def run_side_by_side(jobs: int, logs: Path, targets: list[str] | None = None,
                     cost: dict[str, float] | None = None, out=sys.stdout, times: Path | None = None,
                     keep_going: bool = False) -> Run:
    """The DAG (or what `targets` need) through schedule() and DvcRepro, reported on `out`; with `times`, each
    stage's outcome and seconds and the wall time so far are written there as JSON after every stage (so that a
    run stopped at a deadline keeps what it did). One stage at a time on a terminal, each stage's output is shown."""
    upstream = stage_graph(".", targets)
    stale = out_of_date(upstream)
    print(f"{len(upstream)} stages, {len(upstream) - len(stale)} of them up to date (dvc status), up to {jobs} at a "
          f"time (each stage's output: {logs}/<stage>.log)", file=out, flush=True)
    echo = jobs == 1 and out.isatty()
    console, repro = Console(len(upstream), jobs, logs, out, live=not echo), DvcRepro(logs, echo=echo)
    start = time.monotonic()

    def run_stage(name: str) -> tuple[int, bool]:
        return repro(name) if name in stale else (0, True)  # up to date: skipped, as DVC would

    def on_event(kind: str, name: str, run: Run) -> None:
        console(kind, name, run)
        if times and kind == "end":
            times.write_text(json.dumps({"jobs": jobs, "wall": round(time.monotonic() - start, 1), "stages": {
                n: {"status": o.status, "seconds": round(o.seconds, 1)} for n, o in run.outcomes.items()}},
                indent=1) + "\n")
    return schedule(upstream, run_stage, jobs, chain_lengths(upstream, cost), on_event, interrupt=repro.stop,
                    keep_going=keep_going)


STOPPED = ("stopped; the stages that finished are recorded in dvc.lock, an interrupted training resumes from its "
           "checkpoint: run it again to go on")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m difflab.workflow.parallel", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="stages to reproduce with what they need (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="stages at a time (default: the cores here, %(default)s)")
    parser.add_argument("--logs", type=Path, default=Path("logs") / time.strftime("stages-%Y%m%dT%H%M%S"),
                        help="folder for each stage's output (default: logs/stages-<time>)")
    parser.add_argument("--times", type=Path, help="also write each stage's outcome and seconds here (JSON)")
    parser.add_argument("--keep-going", action="store_true",
                        help="after a failure, still run every stage that does not depend on it (as dvc repro -k)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: allowed: an integer >= 1")
    signal.signal(signal.SIGTERM, _interrupt)  # a deadline (timeout) stops the stages as Ctrl+C does
    try:
        result = run_side_by_side(args.jobs, args.logs, args.targets or None, times=args.times,
                                  keep_going=args.keep_going)
    except ValueError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"{parser.prog}: {STOPPED}\n")
    if not result.ok:
        failed = [n for n, o in result.outcomes.items() if o.status == "failed"]
        parser.exit(1, f"{parser.prog}: failed: {', '.join(failed)}\n")


if __name__ == "__main__":
    main()
