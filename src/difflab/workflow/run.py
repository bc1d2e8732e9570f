"""`make run`: a profile's run through DVC, with its cost said before and each stage's wall time after.

    python -m difflab.workflow.run quick             # what make run does without CUDA
    python -m difflab.workflow.run paper             # params.yaml as committed
    python -m difflab.workflow.run quick --estimate  # only say what it would cost here
    python -m difflab.workflow.run quick --record    # after the run, keep its stage times as the profile's reference
    python -m difflab.workflow.run paper --jobs 4    # four stages at a time (threads auto: each gets cores // 4)

It checks the params the run would get (config/profiles.py's pre-flight), prints the cost estimate (workflow/cost.py),
then runs `dvc exp run -S key=value ...` (the arguments as a list: no value is split by a shell) in a terminal of
its own where it has one, so the stages' progress bars stay live, and writes everything DVC printed, then the table
of stage times, to logs/run-<UTC time>-<profile>.log. The log is git-ignored and no DVC output: a rerun with
nothing changed stays a no-op and seeded outputs stay byte-identical.

With --jobs N > 1 (by default on a CPU when the run's `threads` param is pinned: as many as fit in the cores, so
2 for the quick profile on 2 cores; on a GPU up to 8 at threads=2, the measured case: plan_jobs) the overrides are written into params.yaml as `-S` writes them, the stages run
side by side (workflow/parallel.py: DVC's own `dvc repro` per stage, each stage's output in
logs/run-<UTC time>-<profile>/<stage>.log), and then `dvc exp run -S ...`, finding every stage up to date, records
the experiment as before. The outputs are those of a run one stage at a time with the same params.
"""

import argparse
import datetime
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

from difflab.config.profiles import PROFILES, preflight, set_args, with_overrides
from difflab.config.params import check
from difflab.config.runtime import from_params
from difflab.workflow import cost
from difflab.workflow.cost import machine
from difflab.workflow.parallel import run_side_by_side
from difflab.workflow.stage_times import StageClock, table

LOGS = Path("logs")


class NotBuiltWarnings:
    """DVC's "No file hash info found for '<output>'. It won't be created." lines, one per output that was never
    built, are the first screen of every fresh clone's run (50 of them): shown as one line saying what they mean;
    the log keeps them all. Everything else passes through as it comes; a line is held back only until its end
    arrives, and a progress bar's redraw (a carriage return) is never held."""

    MARK = b"No file hash info found for"

    def __init__(self):
        self.held, self.count = b"", 0

    def _summary(self) -> bytes:
        if not self.count:
            return b""
        line = (f"DVC: {self.count} outputs have no hash in dvc.lock yet (never built in this clone; the warnings "
                f"are in the log); the stages build them now.\n").encode()
        self.count = 0
        return line

    def feed(self, chunk: bytes) -> bytes:
        data, shown = self.held + chunk, b""
        *lines, self.held = data.split(b"\n")
        for line in lines:
            if self.MARK in line:
                self.count += 1
            else:
                shown += self._summary() + line + b"\n"
        if b"\r" in self.held.rstrip(b"\r"):  # a progress bar drawing itself: show it now
            shown += self._summary() + self.held
            self.held = b""
        return shown

    def flush(self) -> bytes:
        shown = self._summary() + self.held
        self.held = b""
        return shown


def stream(command: list[str], log, clock: StageClock) -> int:
    """Run `command`, echoing its output and copying it to `log`, each line fed to `clock`. Where this process has a
    terminal the command gets one too (a pseudo-terminal), so progress bars behave as if it ran alone."""
    if sys.stdout.isatty():
        import pty
        master, slave = pty.openpty()
        try:
            import fcntl
            import termios
            fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8))
        except OSError:
            pass
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        read = owned = master
    else:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        read, owned = proc.stdout.fileno(), None
    pending, shown = b"", NotBuiltWarnings()
    try:
        while True:
            try:
                chunk = os.read(read, 65536)
            except OSError:  # EIO: the pseudo-terminal's other side closed
                chunk = b""
            if not chunk:
                sys.stdout.buffer.write(shown.flush())
                sys.stdout.flush()
                break
            sys.stdout.buffer.write(shown.feed(chunk))
            sys.stdout.flush()
            log.write(chunk.replace(b"\r\n", b"\n").decode(errors="replace"))
            pending += chunk
            *lines, pending = pending.replace(b"\r", b"\n").split(b"\n")
            for line in lines:
                clock.feed(line.decode(errors="replace"))
        return proc.wait()
    except KeyboardInterrupt:
        proc.wait()
        raise
    finally:
        clock.stop()
        if owned is not None:
            os.close(owned)


# Stages side by side on one GPU: the measured case, 8 at threads=2 on 16 cores and one H200 (the paper run of
# 2026-12-04, results/paper-h200-2026-12-04: 41 stages in 7 min 21 s). More at once was never tried on one GPU.
GPU_JOBS = 8
GPU_THREADS = 2


def plan_jobs(device: str, cores: int, threads: str | int, jobs: int | None = None) -> tuple[int, str | int]:
    """(stages at a time, CPU threads per stage) for a run whose stages use `device` ("cpu" or "cuda") on a machine
    of `cores` cores, with the run's `threads` param; `jobs` where the user chose it (--jobs).

    On a CPU the pinned thread count decides: as many stages as fit in the cores (threads 1 on 2 cores: 2), one at a
    time where threads is auto (each stage takes every core). On a GPU the stages share the device and the CPU only
    feeds it: up to GPU_JOBS, as many as the cores hold at GPU_THREADS threads each. Wherever more than one stage runs
    with threads auto, the threads are pinned to the cores' share (cores // jobs; 2 for 8 stages on 16 cores):
    stages that each take every core spin waiting for each other."""
    if jobs is None:
        if device == "cpu":
            jobs = 1 if threads == "auto" else max(1, cores // threads)
        else:
            jobs = max(1, min(GPU_JOBS, cores // (GPU_THREADS if threads == "auto" else threads)))
    if jobs > 1 and threads == "auto":
        threads = max(1, cores // jobs)
    return jobs, threads


class Tee:
    """What the stage runner prints, on the screen and in the run's log."""

    def __init__(self, screen, log):
        self.screen, self.log = screen, log

    def write(self, text: str) -> None:
        self.screen.write(text)
        if not text.startswith("\r"):  # the status line, redrawn in place, stays off the log
            self.log.write(text)

    def flush(self) -> None:
        self.screen.flush()

    def isatty(self) -> bool:
        return self.screen.isatty()


def side_by_side(set_arguments: list[str], jobs: int, folder: Path, log, reference: dict | None,
                 scale: float | None) -> tuple[int, dict[str, float], set[str]]:
    """The overrides written into params.yaml (DVC's own -S code), the outputs in the cache checked out (as `dvc exp
    run` does first), the stages side by side, then `dvc exp run -S` to record the experiment (every stage up to
    date by then). Returns (exit status, stage times, skipped stages)."""
    from dvc.utils.hydra import apply_overrides

    apply_overrides("params.yaml", set_arguments[1::2])
    # as `dvc exp run` does before it reproduces: every output the cache holds checked out (a fresh clone sharing a
    # cache gets what matches from there instead of rerunning it)
    subprocess.run(["dvc", "checkout", "--force", "--allow-missing", "--quiet"], stdin=subprocess.DEVNULL,
                   stdout=log, stderr=subprocess.STDOUT)
    expected = {n: t * (scale or 1.0) for n, t in reference["stages"].items()} if reference else None
    result = run_side_by_side(jobs, folder, cost=expected, out=Tee(sys.stdout, log))
    if not result.ok:
        failed = [n for n, o in result.outcomes.items() if o.status == "failed"]
        return 1, result.times(), result.skipped() | set(failed)
    command = ["dvc", "exp", "run", *set_arguments]
    print("+ " + shlex.join(command) + "   (records the experiment; every stage is up to date)", flush=True)
    log.write(f"+ {shlex.join(command)}\n")
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    log.write(done.stdout + done.stderr)
    named = re.search(r"Ran experiment\(s\): (\S+)", done.stdout)
    print(f"recorded as experiment {named[1]}" if done.returncode == 0 and named else done.stdout + done.stderr,
          flush=True)
    return done.returncode, result.times(), result.skipped()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m difflab.workflow.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", choices=PROFILES)
    parser.add_argument("--quick-file", type=Path, default=Path("profiles/quick.txt"))
    parser.add_argument("--estimate", action="store_true", help="only print the expected cost here")
    parser.add_argument("--record", action="store_true",
                        help="keep this run's stage times as the profile's reference (profiles/<profile>.cost.json)")
    parser.add_argument("--jobs", default="auto",
                        help="stages at a time (default auto: on a CPU with params' threads pinned, cores // threads, "
                             f"else 1; on a GPU up to {GPU_JOBS} at threads={GPU_THREADS}, as the cores allow)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a param to override beyond the profile's (as dvc exp run -S; repeatable)")
    args = parser.parse_args(argv)
    if args.jobs != "auto" and not (args.jobs.isdigit() and int(args.jobs) >= 1):
        parser.error(f"--jobs {args.jobs!r}: allowed: auto or an integer >= 1")
    bad = [kv for kv in args.set if "=" not in kv]
    if bad:
        parser.error(f"--set {bad[0]!r}: allowed: KEY=VALUE")
    set_arguments = set_args(args.profile, args.quick_file) + [a for kv in args.set for a in ("-S", kv)]
    problem = preflight(set_arguments)
    if problem:
        parser.exit(2, f"{parser.prog}: error: {problem}\n")

    params = check(with_overrides(yaml.safe_load(Path("params.yaml").read_text()), set_arguments))
    device = from_params(params).device.type
    jobs, threads = plan_jobs(device, os.cpu_count() or 1, params.threads,
                              None if args.jobs == "auto" else int(args.jobs))
    if threads != params.threads:  # more than one stage at a time: each its share of the cores
        set_arguments += ["-S", f"threads={threads}"]
        params = check(with_overrides(yaml.safe_load(Path("params.yaml").read_text()), set_arguments))
        print(f"{jobs} stages at a time on {os.cpu_count()} cores: threads={threads} each (--set threads=N to choose; "
              f"--jobs N for another number of stages)", flush=True)
    reference = cost.read_reference(args.profile)
    probe = cost.probe(params) if (reference and reference.get("probe_seconds")) or args.record else None
    print(cost.describe(args.profile, reference, probe, jobs, device), flush=True)
    if args.estimate:
        return

    started = datetime.datetime.now(datetime.timezone.utc)
    LOGS.mkdir(exist_ok=True)
    path = LOGS / f"run-{started:%Y%m%dT%H%M%SZ}-{args.profile}.log"
    with path.open("w") as log:
        start = time.monotonic()
        if jobs > 1:
            scale = cost.estimate(reference, probe)["scale"] if reference and probe else None
            try:
                status, times, skipped = side_by_side(set_arguments, jobs, path.with_suffix(""), log, reference,
                                                      scale)
            except KeyboardInterrupt:
                parser.exit(130, f"\n{parser.prog}: stopped; the stages that finished are recorded in dvc.lock, an "
                                 f"interrupted training resumes from its checkpoint: run it again to go on\n")
        else:
            command = ["dvc", "exp", "run", *set_arguments]
            print("+ " + shlex.join(command), flush=True)
            log.write(f"+ {shlex.join(command)}\n")
            clock = StageClock()
            status = stream(command, log, clock)
            times, skipped = clock.times, clock.skipped
        wall = time.monotonic() - start
        title = (f"Stage wall times of this run ({args.profile} profile, {machine()}, "
                 f"{from_params(params).precision}, {jobs} stage{'s' if jobs > 1 else ''} at a time, "
                 f"{started:%Y-%m-%d}):")
        summary = table(times, title, wall, jobs) if times else "No stage ran: everything was up to date."
        log.write("\n" + summary + "\n")
    print("\n" + summary + f"\n(kept in {path})", flush=True)
    if status != 0:
        sys.exit(status)
    if args.record:
        if skipped:
            parser.exit(2, f"{parser.prog}: not recorded: DVC skipped {len(skipped)} stages (unchanged or from "
                           f"the run cache); record a run in which every stage runs (a fresh clone)\n")
        kept = cost.record(args.profile, times, wall, probe, machine(), from_params(params).precision,
                           started.strftime("%Y-%m-%d"), jobs, device=device)
        print(f"recorded {kept}")


if __name__ == "__main__":
    main()
