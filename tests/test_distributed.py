"""The data-parallel path, for real: the train_ddpm_class stage under `accelerate launch` with two CPU processes
(torch.distributed over gloo) on tiny synthetic data.

Each process writes what it did (DIFFLAB_RANK_LOG, train.py): the sha256 of every tensor of its final state dict and,
per epoch, the dataset indices it fed the loss. Two data sizes: 64 digits split evenly, and 65, where the processes'
slices are evened out by repeating one digit (without that, one process would meet an empty last batch: a NaN loss,
and generators drawing different amounts of noise, hence different permutations from the second epoch on).

`accelerate launch --cpu --num_processes 2` would start ONE process (its CPU launcher needs mpirun and a hostfile for
more), so the processes are started through torchrun, as for GPUs (--multi_gpu), while the stage's `device: cpu`
makes each an Accelerator(cpu=True) process, which joins the gloo process group.
"""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import write_mnist_like
from helpers import ROOT, free_port
from safetensors.torch import load_file

from difflab.models.unet import UNet
from difflab.training.loop import tensor_digest

pytestmark = pytest.mark.slow  # two processes under accelerate launch

BATCH, EPOCHS, WORLD = 16, 2, 2


@pytest.fixture(scope="module", params=[64, 65], ids=["even", "uneven"])
def launched(request, tmp_path_factory) -> tuple[int, Path, list[dict], str]:
    n_train = request.param
    work = tmp_path_factory.mktemp(f"ddp{n_train}")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["mnist"]["sha256"] = write_mnist_like(work / params["data"]["dir"], n_train, 8)  # on record
    params.update(device="cpu", precision="fp32", channels_last="off", compile="off", log_every=1)
    params["ddpm_class"].update(hidden=4, epochs=EPOCHS, batch_size=BATCH, snapshot_epoch=1, train_limit=0)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate, f"no accelerate next to {sys.executable}"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), DIFFLAB_RANK_LOG=str(work / "ranks"),
               HF_HOME=str(work / "hf"),  # no user accelerate config: everything comes from the command line
               OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", str(WORLD), "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
           str(ROOT / "stages" / "train_diffusion.py"), "ddpm_class"]
    out = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{log[-4000:]}"
    ranks = [json.loads((work / "ranks" / f"rank{r}.json").read_text()) for r in range(WORLD)]
    return n_train, work, ranks, log


def test_stage_ran_as_two_processes(launched):
    n_train, work, ranks, log = launched
    assert f"{WORLD} process(es)" in log
    assert [r["rank"] for r in ranks] == list(range(WORLD)) and all(r["world_size"] == WORLD for r in ranks)
    steps = -(-n_train // (BATCH * WORLD))  # optimiser steps per epoch: every process steps together
    losses = (work / "reports/ddpm_class/train/plots/metrics/train/loss.tsv").read_text().splitlines()[1:]
    assert len(losses) == EPOCHS * steps
    assert all(math.isfinite(float(line.split("\t")[-1])) for line in losses)
    assert (work / "models/ddpm_class/final.safetensors").is_file()


def test_each_rank_trains_on_its_own_slice_of_every_epoch(launched):
    n_train, _, ranks, _ = launched
    pad = -n_train % WORLD  # digits repeated so that every slice is as long
    for epoch in map(str, range(1, EPOCHS + 1)):
        slices = [r["indices"][epoch] for r in ranks]
        assert [len(s) for s in slices] == [(n_train + pad) // WORLD] * WORLD
        assert all(len(set(s)) == len(s) for s in slices)  # no digit twice within a rank
        assert set(slices[0]) | set(slices[1]) == set(range(n_train))  # together: the whole epoch
        assert len(set(slices[0]) & set(slices[1])) == pad  # disjoint, but for the repeated digits
    assert ranks[0]["indices"]["1"] != ranks[0]["indices"]["2"]  # reshuffled every epoch


def test_ranks_end_with_identical_weights(launched):
    _, work, ranks, _ = launched
    digests = [r["sha256"] for r in ranks]
    buffers = {name for name, _ in UNet(4, "class").named_buffers()}
    assert set(digests[0]) > buffers and any(k.endswith("running_mean") for k in buffers)
    # parameters: the same because gradients are all-reduced; BatchNorm statistics: rank 0's, given to all (train.py)
    assert digests[0] == digests[1]
    saved = load_file(str(work / "models/ddpm_class/final.safetensors"))
    assert {k: tensor_digest(v) for k, v in saved.items()} == digests[0]
    assert all(torch.isfinite(v).all() for v in saved.values() if v.is_floating_point())
