"""The tiny DAG: the project's whole pipeline in a fresh git + DVC repository on tiny synthetic digits, built once
per test run by `dvc repro` (one stage at a time) and shared by the tests that read it (tests/test_pipeline.py).

The build starts in the background as soon as the suite is collected (conftest.py: pytest_collection_finish), so
the unit tests run beside it on the other core; the `dag` fixture waits for it. Under pytest-xdist the workers
share one build (a file lock in the run's common temporary folder). Run by hand:

    python tests/tiny_dag.py /tmp/somewhere/pipeline    # builds there; the log and exit status beside it
"""

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script too (the background build)
from conftest import write_mnist_like  # noqa: E402
from helpers import ROOT, launch_chromium, resolved_stages  # noqa: E402

from difflab.config.experiments import PART_A  # noqa: E402

TINY = {
    "threads": 1,  # as the quick profile: stages may run side by side with the same results
    "data": {"sources": ["local"]},
    "denoiser": {"hidden": 4, "epochs": 1, "batch_size": 64, "num_digits": 4},
    "ddpm_time": {"hidden": 4, "epochs": 1, "batch_size": 64, "snapshot_epoch": 1, "num_samples": 10, "gif_every": 50},
    "ddpm_class": {"hidden": 4, "epochs": 1, "batch_size": 64, "snapshot_epoch": 1, "samples_per_class": 1,
                   "gif_every": 50},
    "pure_noise": {"hidden": 4, "epochs": 1, "batch_size": 64, "num_digits": 4},
    "flow_time": {"hidden": 4, "epochs": 2, "batch_size": 64, "snapshot_epochs": [1], "num_steps": 4, "num_samples": 10},
    "flow_class": {"hidden": 4, "epochs": 1, "batch_size": 64, "snapshot_epochs": [1], "num_steps": 4,
                   "samples_per_class": 1},
    "objectives": {"num_steps": [2, 4]},
    "samplers": {"num_steps": [2, 4]},
    "judge": {"epochs": 1, "batch_size": 64},
    "eval": {"num_samples": 16, "guidance_scales": [0.0, 3.0], "parta_seeds": 4},
}
LOG, STATUS = "build.log", "build.status"  # beside the repository: what `dvc repro` printed, its exit status


def merge(base: dict, over: dict) -> dict:
    return {k: merge(base[k], over[k]) if isinstance(over.get(k), dict) else over.get(k, base[k]) for k in base}


def environment(cwd: Path, **extra_env: str) -> dict[str, str]:
    """The environment of a command of a tiny repository: its own source tree, this venv's tools, a git identity,
    no analytics."""
    return dict(os.environ, PYTHONPATH=str(cwd / "src"), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
                DVC_NO_ANALYTICS="1", **extra_env)


def run(cmd: list[str], cwd: Path, timeout: float = 900, fails: bool = False, **extra_env: str) -> str:
    """Run a command of a tiny repository and return what it printed; it must succeed (or, with `fails`, fail).
    A command that hangs fails after `timeout` seconds (the longest, the whole tiny DAG, takes about 4 minutes on
    2 cores) instead of holding up the suite."""
    out = subprocess.run(cmd, cwd=cwd, env=environment(cwd, **extra_env), capture_output=True, text=True,
                         timeout=timeout)
    assert (out.returncode != 0) == fails, (f"{' '.join(cmd)} {'succeeded' if fails else 'failed'}:\n"
                                            f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out.stdout + out.stderr


def make(repo: Path) -> None:
    """A fresh git + DVC repository at `repo`: the project's DAG, stages and code, tiny params, tiny digits in
    data/mnist-local (git-ignored, like a download), the project's default remote; committed, nothing run."""
    repo.mkdir(parents=True)
    for item in ("dvc.yaml", "stages", "src", "profiles", ".gitignore"):
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, repo / item)
    sha = write_mnist_like(repo / "data" / "mnist-local")
    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
    params["data"]["mnist"]["sha256"] = sha
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")  # the project's default local remote
    shutil.copy(ROOT / ".dvcignore", repo / ".dvcignore")  # folder deps leave out the bytecode an import writes
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "tiny"], repo)


def build(repo: Path) -> int:
    """make(repo), then `dvc repro` there, its output in LOG and its exit status in STATUS beside the repository
    (STATUS written last: its presence says the build is over)."""
    log = repo.parent / LOG
    try:
        make(repo)
        with open(log, "w") as out:
            status = subprocess.run(["dvc", "repro"], cwd=repo, env=environment(repo), stdout=out,
                                    stderr=subprocess.STDOUT, timeout=900).returncode
    except Exception as err:  # noqa: BLE001 (any failure is reported to the tests through the log)
        with open(log, "a") as out:
            out.write(f"\nthe tiny DAG could not be built: {err!r}\n")
        status = 1
    (repo.parent / STATUS).write_text(str(status))
    return status


# The report's figures: part A on the DDPM and on the flow model (every experiment config/experiments.py declares, and
# the two judged figures each), part B with DDPMs, with flow matching (one snapshot each), beyond the course
FIGURES = 2 * (len(PART_A) + 2) + 15 + 13 + 1


def stages_run(log: str) -> set[str]:
    """The stages that ran: DVC's own lines (one stage at a time) or the side-by-side runner's ("[3/39] x: done")."""
    return set(re.findall(r"Running stage '([^']+)'", log)) | set(re.findall(r"\] (\S+): done in ", log))


def declared_stages(repo: Path) -> dict[str, dict]:
    """dvc.yaml's stages of `repo` as DVC resolves them, by the names DVC gives them (a foreach item as <name>@<key>)."""
    return resolved_stages(repo)


@contextlib.contextmanager
def chromium_page(path: Path):
    """path loaded in headless Chromium (Debian's), after a check that every image on it decodes."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.getAttribute('src'), i.complete, "
                                                  "i.naturalWidth])")
        broken = [src for src, complete, width in images if not complete or width == 0]
        assert not broken, f"images that did not decode: {broken}"
        yield page, images
        browser.close()



def copy(repo: Path, dest: Path) -> Path:
    """A copy of a built tiny repository (git history, DVC cache, outputs) at `dest`, for tests that change it;
    its default remote is ../dvc-storage beside `dest`, so it shares nothing with the original."""
    shutil.copytree(repo, dest, symlinks=True)
    return dest


if __name__ == "__main__":
    sys.exit(build(Path(sys.argv[1])))
