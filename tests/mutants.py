"""Does the suite still bite? Eight plausible mistakes, each applied to a fresh clone of HEAD, and the tests of the
fast tier (`pytest -m "not slow"`, what `make test-fast` runs) that fail on each: a mistake no test catches is a
hole in the suite. Not a test itself (pytest collects test_*.py only); run it by hand after changing the tests:

    python tests/mutants.py                  # every mutant, the fast tier each (about 1.5 minutes each on 2 cores)
    python tests/mutants.py ema dvc_dep      # some of them
    python tests/mutants.py --pytest "-m slow tests/test_pipeline.py"   # another selection

A mutant is an exact text replacement in one file; the script refuses one whose text is no longer there, so a
refactoring that moves the code shows here instead of passing silently."""

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name: (file, the text as it is, the mistake, what the mistake is)
MUTANTS = {
    "unet_film": ("src/difflab/models/unet.py", "u0 = scale1 * u0 + shift1", "u0 = shift1 * u0 + scale1",
                  "the UNet's class conditioning with scale and shift swapped"),
    "ema_warmup": ("src/difflab/models/ema.py", "min(self.decay, (1 + self.updates) / (10 + self.updates))",
                   "min(self.decay, (10 + self.updates) / (1 + self.updates))", "the EMA's warm-up inverted"),
    "frechet_axis": ("src/difflab/models/judge.py", "mu_a, mu_b = a.mean(0), b.mean(0)",
                     "mu_a, mu_b = a.mean(1), b.mean(1)", "the judge's Frechet means over the wrong axis"),
    "compare_workspace": ("src/difflab/reporting/compare_page.py", 'read("reports/summary.json", rev)',
                          'read("reports/summary.json", None)',
                          "the comparison page reading the workspace's headline for every run"),
    "ddim_eta": ("src/difflab/core/ddpm.py", "return eta * ((1 - alpha_bar_prev)",
                 "return eta ** 2 * ((1 - alpha_bar_prev)", "DDIM's sigma wrong for 0 < eta < 1 (right at 0 and 1)"),
    "dvc_dep": ("dvc.yaml", "src/difflab/training/loop.py, src/difflab/training/loss_curve.py,",
                "src/difflab/training/loop.py,",
                "dvc.yaml: a module dropped from a stage that imports it (train_denoiser's training/loss_curve.py)"),
    "flow_clean": ("src/difflab/core/processes.py", "return x_t + (1 - t) * estimate", "return x_t + t * estimate",
                   "part A's clean estimate of a flow model with its time reversed (0 = the image)"),
    "runner_upstream": ("src/difflab/workflow/parallel.py", "TopologicalSorter(upstream)",
                        "TopologicalSorter({n: sorted(deps)[1:] for n, deps in upstream.items()})",
                        "the side-by-side runner starting a stage one upstream stage early"),
}


def mutate(repo: Path, name: str) -> None:
    file, before, after, _ = MUTANTS[name]
    path = repo / file
    text = path.read_text()
    if before not in text:
        sys.exit(f"mutant {name}: {before!r} is no longer in {file}; update tests/mutants.py")
    path.write_text(text.replace(before, after, 1))  # the first place only: one stage, one line


def failing_tests(repo: Path, selection: list[str]) -> tuple[int, list[str]]:
    """Run pytest in the mutated clone (its own src first on the path) and return its exit status and the tests
    that failed."""
    env = dict(os.environ, PYTHONPATH=str(repo / "src"), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    where = subprocess.run([sys.executable, "-c", "import difflab; print(difflab.__file__)"], cwd=repo, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(repo)), f"the clone's tests would import difflab from {where}"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", *selection],
                         cwd=repo, capture_output=True, text=True, env=env)
    return out.returncode, sorted(set(re.findall(r"^FAILED (\S+?)(?: - |$)", out.stdout, re.M)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"mutants to try (default: all): {', '.join(MUTANTS)}")
    parser.add_argument("--pytest", default='-m "not slow" -n auto',
                        help="the pytest selection to run on each mutant (default: %(default)s)")
    args = parser.parse_args()
    selection = shlex.split(args.pytest)
    unknown = [name for name in args.names if name not in MUTANTS]
    if unknown:
        parser.error(f"unknown mutants {unknown}; allowed: {', '.join(MUTANTS)}")
    holes = []
    for name in args.names or MUTANTS:
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp) / "clone"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
            mutate(repo, name)
            status, failed = failing_tests(repo, selection)
        print(f"{name}: {MUTANTS[name][3]}", flush=True)
        if failed:
            print("  caught by " + ", ".join(failed), flush=True)
        else:
            holes.append(name)
            print(f"  NOT CAUGHT (pytest exit status {status})", flush=True)
    sys.exit(f"not caught: {', '.join(holes)}" if holes else 0)


if __name__ == "__main__":
    main()
