"""Each stage's wall time, read from what `dvc repro` / `dvc exp run` prints as it goes: a stage runs from its
"Running stage 'name':" line until DVC updates the lock file after it (its outputs hashed), or the next stage starts,
or the run ends. Stages DVC skips (unchanged, or restored from the run cache) are not listed; what DVC does between
stages (checking which changed) is in the run's total but in no stage's."""

import re
import time

RUNNING = re.compile(r"Running stage '([^']+)'")
SKIPPED = re.compile(r"Stage '([^']+)' (?:didn't change|is cached)")
DONE = re.compile(r"Updating lock file")


class StageClock:
    """Feed it the run's output line by line (with the time each arrived); `times` holds each stage's seconds."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.times: dict[str, float] = {}
        self.skipped: set[str] = set()
        self._current: tuple[str, float] | None = None

    def feed(self, line: str) -> None:
        skipped = SKIPPED.search(line)
        if skipped:
            self.skipped.add(skipped[1])
        if skipped or DONE.search(line):
            self.stop()
        found = RUNNING.search(line)
        if found:
            self.stop()
            self._current = (found[1], self.clock())

    def stop(self) -> None:
        """The end of the current stage (the run ended, or failed)."""
        if self._current:
            name, start = self._current
            self.times[name] = self.times.get(name, 0.0) + self.clock() - start
            self._current = None


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s" if seconds >= 60 else f"{seconds:.0f} s"


def table(times: dict[str, float], title: str, wall: float | None = None, jobs: int = 1) -> str:
    """The stages slowest first, with their share of the stages' total (the place to look for where the time goes),
    then the whole run's wall time where given (with `jobs` stages at a time the stages' total exceeds it)."""
    total = sum(times.values())
    width = max([len("stage"), *map(len, times)])
    lines = [title, f"{'stage':<{width}}  {'seconds':>8}  {'share':>5}"]
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        lines.append(f"{name:<{width}}  {seconds:8.1f}  {seconds / total if total else 0:5.0%}")
    lines.append(f"{'all ' + str(len(times)) + ' stages':<{width}}  {total:8.1f}  ({_minutes(total)})")
    if wall is not None and jobs > 1:
        lines.append(f"{'whole run':<{width}}  {wall:8.1f}  ({_minutes(wall)}; up to {jobs} stages at a time)")
    elif wall is not None:
        lines.append(f"{'whole run':<{width}}  {wall:8.1f}  ({_minutes(wall)}; DVC between stages "
                     f"{_minutes(max(wall - total, 0))})")
    return "\n".join(lines)
