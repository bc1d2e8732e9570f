"""`make run`: a profile's run through DVC, with its cost said before and each stage's wall time after.

    python -m difflab.workflow.run quick             # what make run does without CUDA
    python -m difflab.workflow.run paper             # params.yaml as committed
    python -m difflab.workflow.run quick --estimate  # only say what it would cost here
    python -m difflab.workflow.run quick --record    # after the run, keep its stage times as the profile's reference

It checks the params the run would get (config/profiles.py's pre-flight), prints the cost estimate (workflow/cost.py),
then runs `dvc exp run -S key=value ...` (the arguments as a list: no value is split by a shell) in a terminal of
its own where it has one, so the stages' progress bars stay live, and writes everything DVC printed, then the table
of stage times, to logs/run-<UTC time>-<profile>.log. The log is git-ignored and no DVC output: a rerun with
nothing changed stays a no-op and seeded outputs stay byte-identical.
"""

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

from difflab.config.profiles import PROFILES, preflight, set_args, with_overrides
from difflab.config.runtime import from_params
from difflab.workflow import cost
from difflab.workflow.stage_times import StageClock, table

LOGS = Path("logs")


def machine() -> str:
    """The CPU by name, its core count and vector extensions (what every timing here is quoted with)."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{os.cpu_count()} cores, {name}, {torch.backends.cpu.get_cpu_capability()}"


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m difflab.workflow.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", choices=PROFILES)
    parser.add_argument("--quick-file", type=Path, default=Path("profiles/quick.txt"))
    parser.add_argument("--estimate", action="store_true", help="only print the expected cost here")
    parser.add_argument("--record", action="store_true",
                        help="keep this run's stage times as the profile's reference (profiles/<profile>.cost.json)")
    args = parser.parse_args(argv)
    set_arguments = set_args(args.profile, args.quick_file)
    problem = preflight(set_arguments)
    if problem:
        parser.exit(2, f"{parser.prog}: error: {problem}\n")

    params = with_overrides(yaml.safe_load(Path("params.yaml").read_text()), set_arguments)
    reference = cost.read_reference(args.profile)
    probe = cost.probe(params) if reference or args.record else None
    print(cost.describe(args.profile, reference, probe), flush=True)
    if args.estimate:
        return

    command = ["dvc", "exp", "run", *set_arguments]
    print("+ " + shlex.join(command), flush=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    LOGS.mkdir(exist_ok=True)
    path = LOGS / f"run-{started:%Y%m%dT%H%M%SZ}-{args.profile}.log"
    clock = StageClock()
    with path.open("w") as log:
        log.write(f"+ {shlex.join(command)}\n")
        start = time.monotonic()
        status = stream(command, log, clock)
        wall = time.monotonic() - start
        title = (f"Stage wall times of this run ({args.profile} profile, {machine()}, "
                 f"{from_params(params).precision}, {started:%Y-%m-%d}):")
        summary = (table(clock.times, title, wall) if clock.times
                   else "No stage ran: everything was up to date.")
        log.write("\n" + summary + "\n")
    print("\n" + summary + f"\n(kept in {path})", flush=True)
    if status != 0:
        sys.exit(status)
    if args.record:
        if clock.skipped:
            parser.exit(2, f"{parser.prog}: not recorded: DVC skipped {len(clock.skipped)} stages (unchanged or from "
                           f"the run cache); record a run in which every stage runs (a fresh clone)\n")
        kept = cost.record(args.profile, clock.times, wall, probe, machine(), from_params(params).precision,
                           started.strftime("%Y-%m-%d"))
        print(f"recorded {kept}")


if __name__ == "__main__":
    main()
