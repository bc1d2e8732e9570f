"""The published reference runs: a whole run kept in git under results/<name>/ (its README says what it is), so
that every clone can hold its own runs against it without the run's models. `make compare` shows each as a row
marked as a reference, and marks a run against the reference of its profile where its baseline has no numbers of
that profile; its page shows the reference beside the two runs; the docs quote its numbers through `quoted`
(tests/test_reference.py holds them to the file).

A reference folder holds the run's params.yaml and its metric files at their paths under reports/
(reports/summary.json first among them), its dvc.lock and stage times, and the figures a reader wants.
"""

from dataclasses import dataclass
from pathlib import Path

import yaml

from difflab.config.metric_files import Summary
from difflab.reporting.summary import HEADLINE, goal_rows, interval

RESULTS = Path("results")


@dataclass(frozen=True)
class Reference:
    name: str  # the folder's name: <profile>-<machine>-<date>
    folder: Path
    summary: dict  # its reports/summary.json
    params: dict  # its params.yaml

    @property
    def profile(self) -> str:
        return self.summary.get("profile", self.params.get("profile", "?"))


def published(root: Path = RESULTS) -> list[Reference]:
    """Every reference run under `root` (a folder with params.yaml and reports/summary.json), by name."""
    out = []
    for folder in sorted(root.glob("*/")) if root.is_dir() else []:
        summary, params = folder / "reports" / "summary.json", folder / "params.yaml"
        if summary.is_file() and params.is_file():
            out.append(Reference(folder.name, folder,
                                 Summary.read(summary, restore=f"git checkout -- {summary}").model_dump(),
                                 yaml.safe_load(params.read_text())))
    return out


def of_profile(profile: str, references: list[Reference]) -> Reference | None:
    """The latest reference run of `profile` (names end in their date), None where none is published."""
    matching = [r for r in references if r.profile == profile]
    return matching[-1] if matching else None


def quoted(summary: dict, key: str) -> str:
    """A headline number as the docs quote it: value and 95 % interval, a rate in percent ("100 % [99.6, 100]"),
    anything else in the summary's own rounding ("54.4 [40.8, 68.1]")."""
    value, bounds = summary[key], interval(summary, key)
    if HEADLINE[key][1] == 3:  # rates
        def pct(x: float) -> str:
            return f"{100 * x:.1f}".removesuffix(".0")

        return f"{pct(value)} %" + (f" [{pct(bounds[0])}, {pct(bounds[1])}]" if bounds else "")
    return f"{value:g}" + (f" [{bounds[0]:g}, {bounds[1]:g}]" if bounds else "")


def goal_table(summary: dict) -> str:
    """The run's headline against its profile's goals as a Markdown table (the report page's verdicts: met, missed
    or within noise), every number as summary.json holds it: the table docs/results.md shows for a reference."""
    lines = ["| headline | value [95 % interval] | n | goal | verdict |", "|---|---|---:|---|---|"]
    for row in goal_rows(summary):
        if row["key"] == "profile" or not isinstance(row["value"], (int, float)) or row["key"].startswith("s_"):
            continue
        n = f"{row['n']:,}" if row["n"] else ""
        lines.append(f"| {row['label']} (`{row['key']}`) | {quoted(summary, row['key'])} | {n} | {row['goal']} | "
                     f"{row['verdict']} |")
    return "\n".join(lines)
