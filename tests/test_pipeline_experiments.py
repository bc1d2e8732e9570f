"""What a user does with a built DAG (tests/tiny_dag.py), in order on this module's own copy of it (conftest.py: repo):
push and pull (a corrupted remote copy refused), a model got as a DVC artifact, experiments that rerun only what a
knob touches, `make compare`, a queued sweep, plots, an S3 round trip, the comparison page."""

import hashlib
import json
import math
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from difflab.reporting.summary import HEADLINE

from helpers import free_port
from tiny_dag import FIGURES, chromium_page, declared_stages, environment, run, stages_run

pytestmark = pytest.mark.slow


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
    repository (no checkpoint shared or picked up: none resumes), starting from the committed outputs (it reruns
    the denoiser's stages and nothing else: what a knob touches in the workspace is test_experiment_reruns_only_...),
    each carries its own metrics and plots (`dvc plots diff` overlays them), and `dvc exp apply` brings the better
    one into the workspace."""
    run(["git", "add", "-A"], repo)  # the baseline: its results committed, so the queue starts from its outputs
    run(["git", "commit", "-qm", "baseline"], repo)
    run(["dvc", "exp", "run", "--queue", "-S", "denoiser.lr=3e-4,3e-3"], repo)
    run(["dvc", "queue", "start", "-j", "2"], repo)
    status = wait_for_queue(repo, minutes=8)
    assert status.count("Success") == 2, status
    names = re.findall(r"^\w+\s+(\S+)\s+.*Success", status, re.M)
    logs = {name: run(["dvc", "queue", "logs", name], repo) for name in names}
    for log in logs.values():
        assert "resuming" not in log and "belongs to another configuration" not in log
    by_stages = sorted(tuple(sorted(stages_run(log))) for log in logs.values())
    assert by_stages == [("denoiser_figures", "eval_ood", "report", "summary", "train_denoiser")] * 2

    exps = {rev["name"]: rev["data"] for row in json.loads(run(["dvc", "exp", "show", "--json"], repo))
            for exp in row.get("experiments") or [] for rev in exp["revs"] if rev.get("name") in names}
    lr = {name: d["params"]["params.yaml"]["data"]["denoiser"]["lr"] for name, d in exps.items()}
    psnr = {name: d["metrics"]["reports/denoiser/ood.json"]["data"]["sigma_0.5"]["psnr_db"] for name, d in exps.items()}
    swept = [name for name in names if lr[name] in (3e-4, 3e-3)]
    assert len(swept) == 2 and sorted(lr.values()) == [3e-4, 3e-3] and psnr[swept[0]] != psnr[swept[1]]
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
                          "Part A on the flow model: SDEdit keeps the label, by start time",
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
    flow = plots["Part A on the flow model: SDEdit keeps the label, by start time"][0]["content"]["data"]["values"]
    assert sorted(float(row["t_start"]) for row in flow) == [0.02, 0.06, 0.1, 0.2, 0.3, 0.5]  # params.yaml's


def cached_outputs(repo: Path) -> list[Path]:
    """Every file DVC caches for the pipeline, per dvc.lock (outs marked cache: false live in git, or nowhere)."""
    uncached = {next(iter(o)) for st in declared_stages(repo).values()
                for o in st.get("outs", []) if isinstance(o, dict) and not next(iter(o.values()))["cache"]}
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
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
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


def test_comparison_page_in_a_real_browser(repo):
    """`python -m difflab.reporting.compare --page A B`: the baseline commit against the workspace (the applied sweep
    run), headline and every figure of both; a run DVC does not know is named with what is allowed."""
    out = run([sys.executable, "-m", "difflab.reporting.compare", "--page", "HEAD", "workspace"], repo)
    page_path = repo / "compare" / "HEAD_vs_workspace" / "index.html"
    assert str(page_path.relative_to(repo)) in out
    with chromium_page(page_path) as (page, images):
        assert page.title() == "difflab: HEAD vs workspace"
        assert len(images) == 2 * FIGURES and {src.split("/")[0] for src, _, _ in images} == {"HEAD", "workspace"}
        rows = page.eval_on_selector_all("#headline-table tr", "rows => rows.map(r => r.innerText)")
        assert len(rows) == 1 + len(HEADLINE) and "HEAD" in rows[0] and "workspace" in rows[0]
    env = environment(repo)
    bad = subprocess.run([sys.executable, "-m", "difflab.reporting.compare", "--page", "HEAD", "no-such-run"], cwd=repo,
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "'no-such-run' is neither a git revision nor an experiment" in bad.stderr


