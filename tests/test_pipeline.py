"""The part B DAG end to end: `dvc repro` in a fresh git repo on tiny synthetic data, then `dvc exp run -S`."""

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import in_a_terminal, write_mnist_like

from difflab.reporting.summary import HEADLINE

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
FIGURES = 16 + 15 + 13 + 1  # the report's figures: part A, part B with DDPMs, with flow matching (one snapshot
# each), beyond the course

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


def merge(base: dict, over: dict) -> dict:
    return {k: merge(base[k], over[k]) if isinstance(over.get(k), dict) else over.get(k, base[k]) for k in base}


def run(cmd: list[str], cwd: Path, timeout: float = 900, fails: bool = False, **extra_env: str) -> str:
    """Run a command of the tiny repo and return what it printed; it must succeed (or, with `fails`, fail). A
    command that hangs fails its test after `timeout` seconds (the longest, the whole tiny DAG, takes about 3
    minutes on 2 cores) instead of holding up the suite."""
    env = dict(os.environ, PYTHONPATH=str(cwd / "src"), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
               DVC_NO_ANALYTICS="1", **extra_env)
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert (out.returncode != 0) == fails, (f"{' '.join(cmd)} {'succeeded' if fails else 'failed'}:\n"
                                            f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out.stdout + out.stderr


def stages_run(log: str) -> set[str]:
    """The stages that ran: DVC's own lines (one stage at a time) or the side-by-side runner's ("[3/39] x: done")."""
    return set(re.findall(r"Running stage '([^']+)'", log)) | set(re.findall(r"\] (\S+): done in ", log))


def declared_stages(repo: Path) -> dict[str, dict]:
    """dvc.yaml's stages with foreach stages expanded (parta -> parta@sample, ...)."""
    out = {}
    for name, stage in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"].items():
        if "foreach" in stage:  # a list (${item}) or a mapping (${key}: ${item})
            each = stage["foreach"]
            for key, item in each.items() if isinstance(each, dict) else zip(each, each):
                outs = [o.replace("${key}", key).replace("${item}", item) for o in stage["do"]["outs"]]
                out[f"{name}@{key}"] = {"outs": outs}
        else:
            out[name] = stage
    return out


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("pipeline")
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
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "tiny"], repo)
    return repo


def test_repro_builds_every_output(repo):
    log = run(["dvc", "repro"], repo)
    stages = declared_stages(repo)
    assert stages_run(log) == set(stages) and "parta@hybrid" in stages
    for stage in stages.values():
        for entry in stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", []):
            path = repo / (entry if isinstance(entry, str) else next(iter(entry)))
            assert path.exists() and (path.is_dir() or path.stat().st_size > 0), path

    ood = json.loads((repo / "reports/denoiser/ood.json").read_text())
    assert set(ood) == {f"sigma_{s}" for s in [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0]}
    assert all(math.isfinite(m["mse"]) and math.isfinite(m["psnr_db"]) for m in ood.values())
    assert ood["sigma_1.0"]["noisy_mse"] > ood["sigma_0.2"]["noisy_mse"]
    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], repo))
    shown = json.dumps(metrics)
    assert "reports/ddpm_class/train/metrics.json" in shown and "NaN" not in shown and "Infinity" not in shown
    assert "Data and pipelines are up to date" in run(["dvc", "repro"], repo)

    # the headline gathers the numbers of the other metric files
    summary = json.loads((repo / "reports/summary.json").read_text())
    evals = json.loads((repo / "reports/ddpm_class/eval.json").read_text())
    assert summary["profile"] == "paper" and summary["psnr"] == round(ood["sigma_0.5"]["psnr_db"], 2)
    assert summary["acc_cfg"] == round(evals["cfg_3.0"]["judge_accuracy"], 3)
    assert all(summary[k] > 0 for k in ("s_denoiser", "s_time", "s_class"))
    flow = json.loads((repo / "reports/flow_time/eval.json").read_text())
    assert summary["fd_flow_time"] == round(flow["fd_to_test"], 1)
    assert summary["acc_flow"] is None  # flow_class.guidance_scale 5 is not among the tiny eval.guidance_scales
    # flow matching: samples after each saved epoch (1 and 2 for the time model), models at those epochs
    assert sorted(p.name for p in (repo / "reports/flow_time/samples").iterdir()) == ["samples_epoch1.png",
                                                                                     "samples_final.png"]
    assert sorted(p.name for p in (repo / "models/flow_time").glob("*.safetensors")) == ["epoch1.safetensors",
                                                                                         "final.safetensors"]
    # the comparison: each model final and both at epoch 1, the only epoch they share, at 2 and 4 steps
    compared = json.loads((repo / "reports/objectives/metrics.json").read_text())
    assert {k: v["epoch"] for k, v in compared.items() if isinstance(v, dict)} == {
        "ddpm_final": 1, "flow_final": 1, "ddpm_equal_epochs": 1, "flow_equal_epochs": 1}
    assert set(compared["flow_final"]) == {"epoch", "steps_2", "steps_4"}
    samplers = json.loads((repo / "reports/samplers/metrics.json").read_text())
    assert set(samplers["ddim"]) == set(samplers["fixed_small"]) == set(samplers["fixed_large"]) == {"steps_2",
                                                                                                     "steps_4"}
    noise = json.loads((repo / "reports/pure_noise/metrics.json").read_text())
    assert 0 < noise["rms_between_outputs"] < noise["rms_digit_to_mean_digit"]


def test_seeded_rerun_gives_identical_outputs(repo):
    lock_before = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert not list(repo.glob("checkpoints/**/*.pt"))  # a finished stage leaves no training state to resume
    log = run(["dvc", "repro", "--force", "--single-item", "train_ddpm_class"], repo)
    assert stages_run(log) == {"train_ddpm_class"} and "resuming" not in log
    lock_after = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    # every output is byte-identical but the training time, in the metrics (train.seconds)
    results = [[o for o in lock["train_ddpm_class"]["outs"] if not o["path"].endswith("metrics.json")]
               for lock in (lock_before, lock_after)]
    assert results[0] == results[1] and len(results[0]) >= 3
    # so at most the headline (which shows training seconds, to 0.01 s) and the page showing it are out of date
    assert stages_run(run(["dvc", "repro"], repo)) <= {"summary", "report"}
    assert "Data and pipelines are up to date" in run(["dvc", "repro"], repo)


def test_stages_side_by_side_give_what_dvc_repro_gave_one_at_a_time(repo, tmp_path):
    """workflow/parallel.py in a fresh clone with a cache of its own (nothing to restore), two stages at a time, for
    what six targets need: every kind of stage (data, the seven trainings, every evaluation, a sampling stage, a
    figure stage, a part A experiment, both comparisons, the headline), 21 of the 39. Every output it records equals
    the one-at-a-time run's, byte for byte, but the wall times in the training metrics and the headline that shows
    them. (The whole DAG side by side: bench/paper_rehearsal.sh.)"""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    shutil.copytree(repo / "data" / "mnist-local", clone / "data" / "mnist-local")
    targets = ["summary", "compare_samplers", "compare_objectives", "pure_noise_figures", "sample_flow_class",
               "parta@anagram"]
    log = run([sys.executable, "-m", "difflab.workflow.parallel", "--jobs", "2", *targets], clone)
    needed = stages_run(log)
    assert "FAILED" not in log and f"[{len(needed)}/{len(needed)}]" in log
    assert {"download_mnist", "train_judge", "train_pure_noise", "train_flow_time", "eval_ood", "eval_parta",
            *targets} <= needed and len(needed) == 21 and not needed & {"report", "parta@hybrid"}

    def outs(path: Path) -> dict[str, str]:
        timed = re.compile(r"(train/metrics\.json|summary\.json)$")
        return {o["path"]: o["md5"] for name, stage in yaml.safe_load(path.read_text())["stages"].items()
                if name in needed for o in stage.get("outs", []) if not timed.search(o["path"])}
    assert outs(clone / "dvc.lock") == outs(repo / "dvc.lock") and len(outs(repo / "dvc.lock")) > 40


def test_push_and_pull_through_the_default_remote(repo):
    """A pull brings back every output; a remote copy corrupted (a bad disk, a half-copied shared folder) is
    refused, naming its output, with nothing of it checked out (the remote verifies: .dvc/config), and once the
    remote is repaired the same pull succeeds."""
    run(["dvc", "push"], repo)
    model = repo / "models" / "ddpm_time" / "final.safetensors"
    original = model.read_bytes()
    md5 = hashlib.md5(original).hexdigest()
    remote_copy = repo.parent / "dvc-storage" / "files" / "md5" / md5[:2] / md5[2:]  # .dvc/config: ../dvc-storage
    good = remote_copy.read_bytes()
    remote_copy.chmod(0o644)
    remote_copy.write_bytes(good[:1000] + bytes([good[1000] ^ 1]) + good[1001:])  # one bit flipped
    try:
        shutil.rmtree(repo / ".dvc" / "cache")
        shutil.rmtree(repo / "models")
        log = run(["dvc", "pull"], repo, fails=True)
        assert "failed to pull data from the cloud" in log and "models/ddpm_time" in log
        assert not (repo / "models" / "ddpm_time").exists()  # nothing of the refused output in the workspace ...
        assert not list((repo / ".dvc" / "cache").rglob(md5[2:]))  # ... nor its bad copy in the cache
        assert (repo / "models" / "ddpm_class" / "final.safetensors").exists()  # the sound outputs came
        assert "models/ddpm_time" in run(["dvc", "status"], repo)  # and DVC says what is missing
    finally:
        remote_copy.write_bytes(good)  # the remote repaired, for this test and the ones after it
    run(["dvc", "pull"], repo)
    assert model.read_bytes() == original
    assert "Data and pipelines are up to date" in run(["dvc", "repro"], repo)


def test_a_model_is_got_by_name_as_a_dvc_artifact(repo, tmp_path):
    """DVC's model registry: the run published (its dvc.lock committed, its outputs on the DVC remote, a version
    registered as GTO's git tag <name>@<version>), `gto show` lists the model by name and `dvc artifacts get`
    downloads the class DDPM by name and version into a folder that is no repository."""
    run(["dvc", "push"], repo)
    published = tmp_path / "published"
    run(["git", "clone", "-q", str(repo), str(published)], tmp_path)
    shutil.copy(repo / "dvc.lock", published / "dvc.lock")
    # the remote by its absolute path: `dvc artifacts get` reads the repository from a clone of its own elsewhere
    run(["dvc", "remote", "modify", "local", "url", str(repo.parent / "dvc-storage")], published)
    run(["git", "add", "dvc.lock", ".dvc/config"], published)
    run(["git", "commit", "-qm", "the tiny run"], published)
    run(["git", "tag", "-a", "ddpm_class@v1.0.0", "-m", "Registering artifact ddpm_class version v1.0.0"], published)
    listed = run(["gto", "show", "--plain"], published)  # the registered models: those with a version
    assert re.search(r"^ddpm_class\s+v1\.0\.0$", listed, re.M), listed
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run(["dvc", "artifacts", "get", str(published), "ddpm_class", "--rev", "v1.0.0", "-o", "model.safetensors"], fresh)
    assert (fresh / "model.safetensors").read_bytes() == (repo / "models/ddpm_class/final.safetensors").read_bytes()


def test_experiment_reruns_only_what_a_param_touches(repo):
    log = run(["dvc", "exp", "run", "-S", "ddpm_class.guidance_scale=0"], repo)
    # the report shows the new samples; the headline's class numbers are those at the new scale (measured already);
    # the DDPM-against-flow and DDPM-against-DDIM comparisons sample the DDPM at its scale
    assert stages_run(log) == {"sample_ddpm_class", "compare_objectives", "compare_samplers", "summary", "report"}
    log = run(["dvc", "exp", "run", "-S", "denoiser.epochs=2"], repo)
    assert stages_run(log) == {"train_denoiser", "denoiser_figures", "eval_ood", "summary", "report"}
    diff = run(["dvc", "params", "diff"], repo)
    assert "denoiser.epochs" in diff and "ddpm_class.guidance_scale" in diff
    assert json.loads((repo / "reports/denoiser/train/metrics.json").read_text())["epoch"] == 2


def test_compare_shows_each_runs_changes_from_its_profile(repo):
    """`make compare` after the experiments above (a log at 120 columns): one row per run, its profile, the headline
    and the knobs in which it differs from its profile (each experiment its own), within the width."""
    out = run([sys.executable, "-m", "difflab.reporting.compare"], repo, COLUMNS="120")
    lines = out.splitlines()
    assert max(map(len, lines)) <= 120 and "…" not in out
    assert lines[0].split() == ["run", "profile", "psnr", "fd_time", "acc_cfg", "fd_cfg", "changed", "from", "its",
                                "profile"]
    rows = [line.split() for line in lines[2:] if line.startswith("  ")]  # the two experiments
    changes = sorted(" ".join(row[6:]) for row in rows)
    assert changes == ["ddpm_class.guidance_scale=0", "denoiser.epochs=2, ddpm_class.guidance_scale=0"]  # file order
    evals = json.loads((repo / "reports/ddpm_class/eval.json").read_text())
    assert {row[4] for row in rows} == {f"{evals['cfg_0.0']['judge_accuracy']:.3f}"}  # the class numbers at scale 0
    assert {row[1] for row in rows} == {"paper"}


def wait_for_queue(repo: Path, minutes: float) -> str:
    """Poll `dvc queue status` until nothing is queued or running, and return its last answer, or fail with the
    status and the running task's log after `minutes` (CI once waited here until its own limit). DVC's workers can
    stop while tasks are still queued (treeverse/dvc#10562); the remedy DVC's maintainers give is another
    `dvc queue start`, given here when three polls in a row find tasks queued, none running and no worker."""
    deadline, stalled = time.monotonic() + 60 * minutes, 0
    while True:
        status = run(["dvc", "queue", "status"], repo)
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        if time.monotonic() > deadline:
            running = re.search(r"^(\w+)\s.*\bRunning\b", status, re.M)
            logs = run(["dvc", "queue", "logs", running[1]], repo, timeout=60) if running else ""
            pytest.fail(f"the queue did not finish in {minutes} minutes:\n{status}\n{logs[-3000:]}")
        stalled = stalled + 1 if "Running" not in status and "0 active, 0 idle" in status else 0
        if stalled == 3:
            run(["dvc", "queue", "start", "-j", "2"], repo)
            stalled = 0
        time.sleep(2)


def test_a_queued_sweep_runs_in_parallel_and_the_better_run_is_applied(repo):
    """Two experiments through DVC's queue with two workers: each trains its own denoiser in its own copy of the
    repository (no checkpoint shared or picked up: none resumes), a knob that only samples retrains nothing, each
    carries its own metrics and plots (`dvc plots diff` overlays them), and `dvc exp apply` brings the better one into
    the workspace."""
    run(["git", "add", "-A"], repo)  # the baseline: its results committed, so the queue starts from its outputs
    run(["git", "commit", "-qm", "baseline"], repo)
    run(["dvc", "exp", "run", "--queue", "-S", "denoiser.lr=3e-4,3e-3"], repo)
    run(["dvc", "exp", "run", "--queue", "-S", "ddpm_class.guidance_scale=3"], repo)
    run(["dvc", "queue", "start", "-j", "2"], repo)
    status = wait_for_queue(repo, minutes=8)
    assert status.count("Success") == 3, status
    names = re.findall(r"^\w+\s+(\S+)\s+.*Success", status, re.M)
    logs = {name: run(["dvc", "queue", "logs", name], repo) for name in names}
    for log in logs.values():
        assert "resuming" not in log and "belongs to another configuration" not in log
    by_stages = sorted(tuple(sorted(stages_run(log))) for log in logs.values())
    assert by_stages.count(("denoiser_figures", "eval_ood", "report", "summary", "train_denoiser")) == 2
    assert ("compare_objectives", "compare_samplers", "report", "sample_ddpm_class", "summary") in by_stages  # nothing
    # retrains

    exps = {rev["name"]: rev["data"] for row in json.loads(run(["dvc", "exp", "show", "--json"], repo))
            for exp in row.get("experiments") or [] for rev in exp["revs"] if rev.get("name") in names}
    lr = {name: d["params"]["params.yaml"]["data"]["denoiser"]["lr"] for name, d in exps.items()}
    psnr = {name: d["metrics"]["reports/denoiser/ood.json"]["data"]["sigma_0.5"]["psnr_db"] for name, d in exps.items()}
    swept = [name for name in names if lr[name] in (3e-4, 3e-3)]
    assert len(swept) == 2 and psnr[swept[0]] != psnr[swept[1]]
    # dvc plots diff overlays their curves: every plot holds both runs
    plots = json.loads(run(["dvc", "plots", "diff", *swept, "--json"], repo))["data"]
    for title, items in plots.items():
        assert {row["rev"] for item in items for row in item["content"]["data"]["values"]} == set(swept), title
    best = max(swept, key=psnr.get)
    run(["dvc", "exp", "apply", best], repo)
    assert yaml.safe_load((repo / "params.yaml").read_text())["denoiser"]["lr"] == lr[best]
    ood = json.loads((repo / "reports/denoiser/ood.json").read_text())
    assert ood["sigma_0.5"]["psnr_db"] == psnr[best]


def test_plots_render(repo):
    plots = json.loads(run(["dvc", "plots", "show", "--json"], repo))["data"]
    assert set(plots) == {"Training loss per step", "Denoiser: test PSNR (dB) vs noise level sigma",
                          "Class-conditioned DDPM: judged accuracy vs CFG scale",
                          "Class-conditioned DDPM: judge Frechet distance vs CFG scale",
                          "Part A on MNIST: SDEdit keeps the digit's label",
                          "Class-conditioned flow matching: judged accuracy vs CFG scale",
                          "DDPM against flow matching: judged accuracy vs sampling steps",
                          "DDPM against flow matching: judge Frechet distance vs sampling steps",
                          "Class-conditioned DDPM, DDPM step against DDIM: judged accuracy vs sampling steps",
                          "Class-conditioned DDPM, DDPM step against DDIM: judge Frechet distance vs sampling steps"}
    losses = plots["Training loss per step"][0]["content"]["data"]["values"]
    assert {row["filename"].split("/")[0] for row in losses} == {"denoiser", "ddpm_time", "ddpm_class", "flow_time",
                                                                 "flow_class", "pure_noise"}
    steps = plots["DDPM against flow matching: judged accuracy vs sampling steps"][0]["content"]["data"]["values"]
    assert sorted({int(row["num_steps"]) for row in steps}) == [2, 4]
    sweep = plots["Class-conditioned DDPM: judged accuracy vs CFG scale"][0]["content"]["data"]["values"]
    assert sorted(float(row["guidance_scale"]) for row in sweep) == [0.0, 3.0]
    assert all(math.isfinite(float(row["loss"])) for row in losses)


def cached_outputs(repo: Path) -> list[Path]:
    """Every file DVC caches for the pipeline, per dvc.lock (outs marked cache: false live in git, or nowhere)."""
    uncached = {next(iter(o)) for st in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"].values()
                for o in st.get("do", st).get("outs", []) if isinstance(o, dict) and not next(iter(o.values()))["cache"]}
    files = []
    for stage in yaml.safe_load((repo / "dvc.lock").read_text())["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] in uncached:
                continue
            path = repo / out["path"]
            files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return files


def test_s3_round_trip(repo, tmp_path):
    """Push to an S3-compatible server on 127.0.0.1 (moto), clone the repo afresh, pull, compare every byte.
    The remote lives in .dvc/config.local and the credentials in the environment: nothing of it is committed."""
    import socket

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        creds = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                     region_name="us-east-1").create_bucket(Bucket="difflab")

        def configure(where: Path) -> None:
            run(["dvc", "remote", "add", "--local", "s3", "s3://difflab/cache"], where)
            run(["dvc", "remote", "modify", "--local", "s3", "endpointurl", endpoint], where)

        configure(repo)
        run(["dvc", "push", "-r", "s3"], repo, **creds)
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-qm", "results"], repo)
        clone = tmp_path / "clone"
        run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
        assert "config.local" not in run(["git", "ls-files", ".dvc"], clone)
        configure(clone)
        run(["dvc", "pull", "-r", "s3"], clone, **creds)
    finally:
        server.stop()
    files = cached_outputs(repo)
    assert any(f.suffix == ".safetensors" for f in files) and any(f.suffix == ".png" for f in files)
    for f in files:
        assert (clone / f.relative_to(repo)).read_bytes() == f.read_bytes(), f


@contextlib.contextmanager
def chromium_page(path: Path):
    """path loaded in headless Chromium (Debian's), after a check that every image on it decodes."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "the page tests need Debian's chromium (make test installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.getAttribute('src'), i.complete, "
                                                  "i.naturalWidth])")
        broken = [src for src, complete, width in images if not complete or width == 0]
        assert not broken, f"images that did not decode: {broken}"
        yield page, images
        browser.close()


def test_comparison_page_in_a_real_browser(repo):
    """`python -m difflab.reporting.compare --page A B`: the baseline commit against the workspace (the applied sweep run),
    headline and every figure of both; a run DVC does not know is named with what is allowed."""
    out = run([sys.executable, "-m", "difflab.reporting.compare", "--page", "HEAD", "workspace"], repo)
    page_path = repo / "compare" / "HEAD_vs_workspace" / "index.html"
    assert str(page_path.relative_to(repo)) in out
    with chromium_page(page_path) as (page, images):
        assert page.title() == "difflab: HEAD vs workspace"
        assert len(images) == 2 * FIGURES and {src.split("/")[0] for src, _, _ in images} == {"HEAD", "workspace"}
        rows = page.eval_on_selector_all("#headline-table tr", "rows => rows.map(r => r.innerText)")
        assert len(rows) == 1 + len(HEADLINE) and "HEAD" in rows[0] and "workspace" in rows[0]
    env = dict(os.environ, PYTHONPATH=str(repo / "src"), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    bad = subprocess.run([sys.executable, "-m", "difflab.reporting.compare", "--page", "HEAD", "no-such-run"], cwd=repo,
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "'no-such-run' is neither a git revision nor an experiment" in bad.stderr


def test_report_page_in_a_real_browser(repo, tmp_path):
    """reports/index.html in headless Chromium: it loads, every image decodes, every link resolves."""
    with chromium_page(repo / "reports" / "index.html") as (page, images):
        assert page.title() == "difflab: fun with diffusion models"
        assert len(images) >= FIGURES
        ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
        assert links and all(h.startswith("#") and h[1:] in ids for h in links), links
        body = page.inner_text("body")
        assert "test_accuracy" in body and "fd_to_test" in body and "anagram_identity-6_flip-9.success" in body
        # it leads with the results: the profile that ran, then the headline beside its goals
        headings = page.eval_on_selector_all("h2", "hs => hs.map(h => h.innerText)")
        assert headings[0] == "Results: the paper profile" and headings[1].startswith("Part A")
        headline = page.eval_on_selector_all("#headline tr", "rows => rows.map(r => r.innerText)")
        assert len(headline) == 1 + len(HEADLINE) and "acc_cfg" in headline[5] and ">= 0.99" in headline[5]
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_a_first_quick_run_in_a_fresh_clone_reads_at_80_and_120_columns(repo, tmp_path):
    """The table every new user meets: a fresh clone, `make run`'s quick-profile experiment (a tiny quick profile
    here), then `make compare` read in a terminal and as a log, 80 and 120 columns wide: the profile column, the
    headline, no knob (the run is its profile), no line over the width, nothing collapsed."""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    shutil.copytree(repo / "data" / "mnist-local", clone / "data" / "mnist-local")  # git-ignored, like a download
    (clone / "profiles" / "quick.txt").write_text("profile=quick\nddpm_time.gif_every=40\n")
    run(["git", "commit", "-qam", "a tiny quick profile"], clone)
    run(["dvc", "cache", "dir", "--local", str(repo / ".dvc" / "cache")], clone)  # what matches comes from there
    log = run([sys.executable, "-m", "difflab.workflow.run", "quick"], clone)
    assert {"sample_ddpm_time", "summary", "report"} <= stages_run(log)  # what the profile's two knobs touch
    compare = [sys.executable, "-m", "difflab.reporting.compare"]
    summary = json.loads((clone / "reports/summary.json").read_text())
    for columns in (80, 120):
        log_file = run(compare, clone, COLUMNS=str(columns))
        terminal = in_a_terminal(compare, clone, columns, dict(os.environ, PYTHONPATH=str(clone / "src"),
                                 PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}"))
        for text in (terminal, log_file):
            lines = text.splitlines()
            assert max(map(len, lines)) <= columns and "…" not in text, text
            assert lines[0].split() == ["run", "profile", "psnr", "fd_time", "acc_cfg", "fd_cfg"], text
            assert "No run differs from its profile" in text and "changed" not in text, text
            rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.split()[1:2] in (["quick"],
                                                                                                  ["paper"])}
            assert rows["workspace"][0] == "quick" and len(rows) == 3, text  # workspace, the branch, the experiment
            assert rows["workspace"][1:] == [f"{summary['psnr']:.2f}", f"{summary['fd_time']:.1f}",
                                             "-" if summary["acc_cfg"] is None else f"{summary['acc_cfg']:.3f}",
                                             "-" if summary["fd_cfg"] is None else f"{summary['fd_cfg']:.1f}"]
            assert sorted(profile for profile, *_ in rows.values()) == ["paper", "quick", "quick"]


def test_two_machines_share_a_sweep_through_a_git_and_a_dvc_remote(repo, tmp_path):
    """A team's set-up on one disk: a bare git repository (the team's git server) and the folder ../dvc-storage that
    every clone's default DVC remote names. Machine A runs an experiment and `dvc exp push`es it; machine B
    runs its own, `dvc exp pull`s A's, and `make compare` and the comparison page show both, A's outputs byte for
    byte as A made them (from the DVC remote: B never ran A's stages)."""
    origin = tmp_path / "team.git"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "shared baseline", "--allow-empty"], repo)
    run(["git", "push", "-q", str(origin), "HEAD:refs/heads/main"], repo)
    run(["dvc", "remote", "add", "--local", "team", str(tmp_path / "dvc-storage")], repo)
    run(["dvc", "push", "-r", "team"], repo)  # the baseline's outputs, where both clones' default remote points
    a, b = tmp_path / "a", tmp_path / "b"
    for machine in (a, b):
        run(["git", "clone", "-q", "-b", "main", str(origin), str(machine)], tmp_path)
        run(["dvc", "pull"], machine)

    run(["dvc", "exp", "run", "-n", "from-a", "-S", "ddpm_class.guidance_scale=1"], a)  # (the queue: test above)
    run(["dvc", "exp", "push", "origin", "from-a"], a)  # the git refs to origin, the outputs to the DVC remote
    run(["dvc", "exp", "run", "-n", "from-b", "-S", "ddpm_class.guidance_scale=5"], b)
    run(["dvc", "exp", "pull", "origin", "from-a"], b)

    table = run([sys.executable, "-m", "difflab.reporting.compare"], b, COLUMNS="120")
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.startswith("  ")}
    assert rows["from-a"][6:] == ["ddpm_class.guidance_scale=1"] and rows["from-b"][6:] == [
        "ddpm_class.guidance_scale=5"], table  # (the baseline's scale is neither)
    page = run([sys.executable, "-m", "difflab.reporting.compare", "--page", "from-a", "from-b"], b)
    assert "compare/from-a_vs_from-b/index.html" in page
    shown = b / "compare" / "from-a_vs_from-b" / "from-a"
    grid = next(p for p in shown.rglob("*.png") if "ddpm_class" in str(p) and "samples" in p.name)
    theirs = b / "compare" / "from-a_vs_from-b" / "from-b" / grid.relative_to(shown)
    assert theirs.read_bytes() != grid.read_bytes()  # two runs, two CFG scales, two grids
    run(["dvc", "exp", "apply", "from-a"], a)
    made = a / "reports" / grid.relative_to(shown)
    assert grid.read_bytes() == made.read_bytes()
