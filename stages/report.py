"""Stage report: reports/index.html, a static page with every figure, the metrics tables, the parameters and the
git revision (open it in a browser; its images are the pipeline's figures beside it)."""

import subprocess
from pathlib import Path

import yaml

from difflab.config.metric_files import FILES, Summary
from difflab.config.params import stage_params
from difflab.errors import exit_on_input_error
from difflab.reporting.report import METRICS, REPORTS, SUMMARY, figure_sources, profile_text, render


def git_revision() -> str:
    """The commit the workspace is at, flagged where tracked files differ from it, for the page to say what ran."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
        return rev.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def _require(paths: list[str]) -> None:
    """Stop with the list of inputs that are missing, so one run of the stage names every stage still to run."""
    if paths:
        raise FileNotFoundError(f"the report needs {paths}: run the stages that make them first")


def main() -> None:
    """Read this run's params, metric files, headline and git revision (the one place the report's inputs are read)
    and write the page that report.render lays out from them."""
    params, args = stage_params(__doc__)  # the page shows params.yaml whole
    shown = yaml.safe_dump(yaml.safe_load(Path(args.params).read_text()), sort_keys=False)  # as the file holds it
    files = [*METRICS.values(), SUMMARY]
    _require([str(REPORTS / name) for name in files if not (REPORTS / name).is_file()])
    metrics = {name: FILES[name].read(REPORTS / name) for name in METRICS.values()}
    _require([src for src in figure_sources(params, metrics) if not (REPORTS / src).is_file()])
    out = REPORTS / "index.html"
    out.write_text(render(params, metrics, Summary.read(REPORTS / SUMMARY).model_dump(), git_revision(),
                          profile_text(params.profile), shown))
    print(f"wrote {out}")


if __name__ == "__main__":
    with exit_on_input_error("report"):  # a damaged input file or a bad value: one line, exit 2
        main()
