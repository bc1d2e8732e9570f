"""Independent DVC stages side by side: DVC's own `dvc repro` for each stage, several at a time.

    python -m difflab.workflow.parallel --jobs 2           # the whole DAG, two stages at a time
    python -m difflab.workflow.parallel --jobs 4 report    # what `report` needs

DVC runs a pipeline's stages one after another. Its documented way to run independent ones in parallel is one
`dvc repro --single-item <stage>` per stage: DVC releases the repository lock while a stage's command runs, and
`--wait-for-lock` makes the other calls queue for it (it is held while each call checks its stage and writes
dvc.lock) instead of failing. This module schedules those calls over the DAG: a stage starts once every stage it
depends on has finished, at most `jobs` at once, the one with the longest chain of work still behind it first. Each
call is DVC's own, so the result is plain `dvc repro`'s: an unchanged stage is skipped, one that ran before is
restored from the run cache, outputs are removed before a stage runs, its outputs are cached and dvc.lock records
them (tests/test_pipeline.py compares the two on tiny data, byte for byte). What DVC's own `dvc status` finds up to
date, with nothing changed upstream of it, is skipped without a call (out_of_date): after a change of one knob a
run of the 39 stages makes a call for the few it touches, not 39 calls of 3-5 s each that find nothing to do.

On a CPU, run stages side by side only with a thread count pinned so that jobs x threads <= cores (params.yaml
`threads`; two 2-thread stages on 2 cores ran 15x slower than one after the other, as their threads spin waiting for
each other); on a GPU the stages share the device. Each stage's output goes to its own log file (shown whole when
the stage fails); the terminal gets a line per stage and a status line of what runs.
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
from pathlib import Path

SKIPPED = re.compile(r"Stage '[^']+' (?:didn't change|is cached)")


def stage_graph(root: Path | str = ".", targets: list[str] | None = None) -> dict[str, set[str]]:
    """Every pipeline stage of the repository at `root` (a foreach stage's items as `name@key`), or those `targets`
    need, each with the stages whose outputs it depends on: the graph `dvc repro` walks."""
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    with contextlib.chdir(root), Repo(".") as repo:  # a stage's address is relative to the working directory
        graph = repo.index.graph  # an edge runs from a stage to a stage that makes one of its deps
        stages = {stage: stage.addressing for stage in graph if isinstance(stage, PipelineStage)}
        upstream = {stages[s]: {stages[d] for d in graph.successors(s) if d in stages} for s in stages}
    if targets:
        unknown = sorted(set(targets) - set(upstream))
        if unknown:
            raise ValueError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(sorted(upstream))}")
        needed = _reachable(targets, upstream)
        upstream = {name: deps for name, deps in upstream.items() if name in needed}
    return upstream


def _reachable(start, edges: dict[str, set[str]]) -> set[str]:
    """The stages in `start` and every stage reached from them along `edges`."""
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += edges[name]
    return seen


def _downstream(upstream: dict[str, set[str]]) -> dict[str, set[str]]:
    """Each stage with the stages that depend on it: stage_graph's edges turned round."""
    downstream: dict[str, set[str]] = {name: set() for name in upstream}
    for name, deps in upstream.items():
        for dep in deps:
            downstream[dep].add(name)
    return downstream


def out_of_date(upstream: dict[str, set[str]], root: Path | str = ".") -> set[str]:
    """The stages of `upstream` (stage_graph) that `dvc repro` may run: those DVC's own status finds changed (a dep,
    a param, the command or an output: missing ones too, as in a fresh clone) and every stage downstream of one of
    them (its deps change when they rerun; DVC decides then whether it is up to date)."""
    from dvc.repo import Repo

    with contextlib.chdir(root), Repo(".") as repo:
        changed = set(repo.status()) & set(upstream)
    return _reachable(changed, _downstream(upstream))


def chain_lengths(upstream: dict[str, set[str]], cost: dict[str, float] | None = None) -> dict[str, float]:
    """Each stage's own cost plus the longest chain of costs of the stages that wait for it (1 per stage where no
    cost is known): started longest first, the stages on the critical path never wait for a slot."""
    downstream = _downstream(upstream)
    length: dict[str, float] = {}

    def visit(name: str) -> float:
        if name not in length:
            own = (cost or {}).get(name, 1.0)
            length[name] = own + max((visit(d) for d in downstream[name]), default=0.0)
        return length[name]

    for name in upstream:
        visit(name)
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
    priority = priority or chain_lengths(upstream)
    result, running, started = Run(), {}, {}
    waiting = set(upstream)
    failed = False
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while waiting or running:
                finished = {n for n, o in result.outcomes.items() if o.status in ("ran", "skipped")}
                ready = sorted((n for n in waiting if upstream[n] <= finished), key=lambda n: (-priority.get(n, 0.0), n))
                while ready and len(running) < jobs and not failed:
                    name = ready.pop(0)
                    waiting.discard(name)
                    started[name] = clock()
                    running[pool.submit(run_stage, name)] = name
                    if on_event:
                        on_event("start", name, result)
                if not running:
                    break  # what still waits depends on a failed stage
                done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                if on_event and not done:
                    on_event("tick", "", result)
                for future in done:
                    name = running.pop(future)
                    code, skipped = future.result()
                    result.outcomes[name] = Outcome("failed" if code else "skipped" if skipped else "ran",
                                                    clock() - started[name], code)
                    failed = failed or (bool(code) and not keep_going)
                    if on_event:
                        on_event("end", name, result)
        except KeyboardInterrupt:
            if interrupt:
                interrupt()
            _wait_for(running)
            raise
    for name in waiting:
        result.outcomes[name] = Outcome("not started")
    return result


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
    """run_stage for schedule(): `dvc --wait-for-lock repro --single-item <stage>`, its output in logs/<stage>.log.
    Each call runs in a process group of its own, so a terminal's Ctrl+C reaches only the runner, and stop() sends
    the groups still running SIGINT (what Ctrl+C would have sent them: the stage's command stops, a training keeps
    its checkpoint, DVC leaves the lock file as it was), then kills what has not ended after `grace` seconds."""

    def __init__(self, logs: Path, env: dict[str, str] | None = None, grace: float = 20.0):
        logs.mkdir(parents=True, exist_ok=True)
        self.logs, self.env, self.grace = logs, env, grace
        self.live: set[subprocess.Popen] = set()
        self.lock = threading.Lock()

    def __call__(self, name: str) -> tuple[int, bool]:
        path = log_file(self.logs, name)
        with path.open("w") as log, self.lock:
            proc = subprocess.Popen(["dvc", "--wait-for-lock", "repro", "--single-item", name],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                    start_new_session=True)  # its own group: stop() signals DVC and the command
            self.live.add(proc)
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


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:  # it ended meanwhile
        pass


class Console:
    """A line per stage's start and end; where stdout is a terminal also a status line, redrawn each second, of the
    stages running and for how long."""

    def __init__(self, total: int, jobs: int, logs: Path, out=sys.stdout, clock=time.monotonic):
        self.total, self.jobs, self.logs, self.out, self.clock = total, jobs, logs, out, clock
        self.since: dict[str, float] = {}
        self.live = out.isatty()

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
    run stopped at a deadline keeps what it did)."""
    upstream = stage_graph(".", targets)
    stale = out_of_date(upstream)
    print(f"{len(upstream)} stages, {len(upstream) - len(stale)} of them up to date (dvc status), up to {jobs} at a "
          f"time (each stage's output: {logs}/<stage>.log)", file=out, flush=True)
    console, repro, start = Console(len(upstream), jobs, logs, out), DvcRepro(logs), time.monotonic()

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
        parser.exit(130, f"{parser.prog}: stopped; the stages that finished are recorded in dvc.lock, an "
                         f"interrupted training resumes from its checkpoint on the next run\n")
    if not result.ok:
        failed = [n for n, o in result.outcomes.items() if o.status == "failed"]
        parser.exit(1, f"{parser.prog}: failed: {', '.join(failed)}\n")


if __name__ == "__main__":
    main()
