"""Two runs side by side as a page of its own: the headline numbers of both, then every figure of the report next
to its counterpart, each captioned from its own run's params and metrics (never the workspace's). Any two
revisions DVC knows: a git revision (HEAD, a branch, a tag, a commit), an experiment name (`dvc exp show`) or
`workspace`. Files come through DVC (what dvc.api.read does, with one repository and file system per run for all
its files: opening them per file rebuilt the run's index of dvc.yaml and dvc.lock each time, most of a minute for one
page), so they must be in the local cache (`dvc pull` / `dvc exp pull` first for runs made elsewhere).

    python -m difflab.reporting.compare --page main sorer-coos      # writes compare/main_vs_sorer-coos/index.html
"""

import re
from contextlib import ExitStack, contextmanager
from pathlib import Path

import jinja2
import yaml

from difflab.config.metric_files import FILES, MetricFile
from difflab.config.params import Params, check
from difflab.errors import InputError, maker
from difflab.reporting.reference import of_profile, published
from difflab.reporting.report import CAPTION_METRICS, fmt, sections
from difflab.reporting.summary import HEADLINE, difference, interval

WORKSPACE = "workspace"


class UnknownRun(InputError):
    """A revision or experiment name that DVC does not know."""


def known_experiments(repo: Path = Path(".")) -> list[str]:
    """The names of the experiments DVC knows in `repo` (every commit's): for run pickers and error messages (this
    page's and the explorer's). DVC in this process, as `dvc exp ls --all-commits` asks it."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(repo), uninitialized=True) as dvc:
            return sorted({name for named in dvc.experiments.ls(all_commits=True).values() for name, _ in named})
    except DvcException:  # not a git repository: none
        return []


_opened: tuple[ExitStack, dict] | None = None  # while opened_runs() is in effect: what closes the runs, rev -> its fs


@contextmanager
def opened_runs():
    """Within it, read() opens each run's repository once, on its first file, and keeps it for the rest of its files
    (all closed on leaving). Outside it, read() opens and closes the run for each file, as dvc.api.read does."""
    global _opened
    if _opened is not None:  # already within one: share it
        yield
        return
    with ExitStack() as stack:
        _opened = stack, {}
        try:
            yield
        finally:
            _opened = None


def _run_fs(rev: str, stack: ExitStack):
    """What dvc.api.open opens for a file of `rev` (a DVCFileSystem on Repo.open), entered into `stack`."""
    from dvc.fs.dvc import DVCFileSystem
    from dvc.repo import Repo
    from dvc.scm import RevError

    try:
        repo = stack.enter_context(Repo.open(None, rev=None if rev == WORKSPACE else rev, subrepos=True,
                                             uninitialized=True))
    except RevError:
        raise UnknownRun(f"{rev!r} is neither a git revision nor an experiment DVC knows; allowed: {WORKSPACE}, a "
                         f"git revision, or one of the experiments {known_experiments()}") from None
    return DVCFileSystem(repo=repo, subrepos=True)


def read(path: str, rev: str, mode: str = "r"):
    """A file of the pipeline as it was in run `rev` (None where that run lacks it)."""
    from dvc.exceptions import CheckoutError, FileMissingError, OutputNotFoundError, PathMissingError

    with ExitStack() as own:
        stack, fss = _opened or (own, {})
        fs = fss[rev] = fss.get(rev) or _run_fs(rev, stack)
        try:
            with fs.open(fs.from_os_path(path), mode=mode) as f:
                return f.read()
        except (FileNotFoundError, PathMissingError, FileMissingError, OutputNotFoundError, CheckoutError):
            return None  # not in that run, or not in the local cache


def _slug(rev: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", rev)


def _checked(name: str, text: str, rev: str) -> MetricFile:
    """reports/`name` of run `rev`, from its text, through its model: DamagedFile naming it where it is not JSON or
    not of the model's shape (a run older than the model)."""
    return FILES[name].read(f"reports/{name} of {rev}", maker(f"reports/{name}"), text=text)


def run_metrics(rev: str) -> dict[str, MetricFile]:
    """The metric files the report's captions quote (report.CAPTION_METRICS), as run `rev` measured them."""
    files = {name: read(f"reports/{name}", rev) for name in CAPTION_METRICS}
    return {name: _checked(name, text, rev) for name, text in files.items() if text is not None}


def _figures(runs: list[str], params: list[Params]) -> dict[str, list[dict | None]]:
    """src -> each run's report item for it (None where that run's report has no such figure), in the order of
    the first run's report, then the figures only the second has (other snapshot epochs, say)."""
    per_run = [{item["src"]: item for section in sections(p, run_metrics(rev)) for item in section["items"]}
               for rev, p in zip(runs, params)]
    srcs = list(dict.fromkeys(src for items in per_run for src in items))
    return {src: [items.get(src) for items in per_run] for src in srcs}


def render_comparison(rev_a: str, rev_b: str, out_root: Path = Path("compare")) -> Path:
    """Write out_root/<a>_vs_<b>/index.html and the figures it shows; return the page's path."""
    with opened_runs():  # each run's repository opened once for all its files
        return _render_comparison(rev_a, rev_b, Path(out_root))


def _render_comparison(rev_a: str, rev_b: str, out_root: Path) -> Path:
    runs = [rev_a, rev_b]
    params = [read("params.yaml", rev) for rev in runs]  # also checks that both runs exist
    if any(p is None for p in params):
        raise UnknownRun(f"no params.yaml in {runs[params.index(None)]!r}")
    params = [check(yaml.safe_load(p)) for p in params]  # a run's params as its stages read them
    texts = [read("reports/summary.json", rev) for rev in runs]
    summaries = [_checked("summary.json", text, rev).model_dump() if text else {} for text, rev in zip(texts, runs)]
    out = Path(out_root) / f"{_slug(rev_a)}_vs_{_slug(rev_b)}"
    def shown(s: dict, key: str) -> str:
        if s.get(key) is None:
            return "not measured"
        bounds = interval(s, key)
        return fmt(s[key]) + (f" [{fmt(bounds[0])}, {fmt(bounds[1])}]" if bounds else "")

    # the published reference of B's profile (else of A's), a third column: what a run of that profile should reach
    reference = of_profile(params[1].profile, published()) or of_profile(params[0].profile, published())
    headline = [{"key": key, "label": label, "values": [shown(s, key) for s in summaries],
                 "difference": difference(summaries[1], summaries[0], key),
                 "reference": shown(reference.summary, key) if reference else None,
                 "against_reference": difference(summaries[1], reference.summary, key) if reference else None}
                for key, (label, _) in HEADLINE.items()]
    figures = []
    for src, items in _figures(runs, params).items():
        sides = []
        for rev, item in zip(runs, items):
            side = {"src": None, "title": item["title"] if item else None, "caption": item["caption"] if item else ""}
            data = read(f"reports/{src}", rev, mode="rb")
            if data is not None:
                target = out / _slug(rev) / src
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                side["src"] = target.relative_to(out).as_posix()
            sides.append(side)
        figures.append({"title": next(i["title"] for i in items if i), "sides": sides})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    page = out / "index.html"
    page.write_text(env.get_template("compare.html.j2").render(runs=runs, headline=headline, figures=figures,
                                                               profiles=[p.profile for p in params],
                                                               reference=reference))
    return page
