"""The tables the evaluation stages write for `dvc plots`: a row per CFG scale (evaluation.generative) and per
noise level (evaluation.denoisers), numbers to six significant digits."""

import csv

import torch

from difflab.config.metric_files import Ood
from difflab.evaluation import generative
from difflab.evaluation.denoisers import rms, write_ood_table
from difflab.evaluation.generative import write_cfg_sweep


def rows(path):
    with open(path) as f:
        return list(csv.reader(f))


def test_the_cfg_sweep_has_a_row_per_scale(tmp_path, monkeypatch):
    curves = []
    monkeypatch.setattr(generative, "metric_curve", lambda xs, series, path, *args, **kwargs:
                        curves.append((xs, series, path.name)))
    sweep = {0.0: {"judge_accuracy": 0.5, "fd_to_test": 12.3456789}, 3.0: {"judge_accuracy": 0.875, "fd_to_test": 4.0}}
    write_cfg_sweep(tmp_path, sweep, [0.0, 3.0], 1.5, "Class-conditioned DDPM", 16)
    assert rows(tmp_path / "cfg_sweep.csv") == [["guidance_scale", "judge_accuracy", "fd_to_test"],
                                                ["0.0", "0.5", "12.3457"], ["3.0", "0.875", "4"]]
    assert curves == [([0.0, 3.0], {"judge accuracy": [0.5, 0.875]}, "cfg_accuracy.png"),
                      ([0.0, 3.0], {"generated vs test": [12.3456789, 4.0], "floor: train vs test": [1.5, 1.5]},
                       "cfg_fd.png")]


def test_the_ood_table_leaves_an_infinite_psnr_empty(tmp_path):
    interval = {"psnr_db_lo": 19.0, "psnr_db_hi": 31.0, "n": 100}
    metrics = Ood.model_validate({
        "sigma_0.0": {"mse": 0.001, "psnr_db": 30.0, "noisy_mse": 0.0, "noisy_psnr_db": None, **interval},
        "sigma_0.5": {"mse": 0.01, "psnr_db": 20.0, "noisy_mse": 0.25, "noisy_psnr_db": 6.0206, **interval}})
    write_ood_table(tmp_path / "ood.csv", metrics, [0.0, 0.5])
    assert rows(tmp_path / "ood.csv") == [["sigma", "psnr_db", "noisy_psnr_db", "mse", "noisy_mse"],
                                          ["0.0", "30", "", "0.001", "0"], ["0.5", "20", "6.0206", "0.01", "0.25"]]


def test_rms_is_per_pixel():
    assert rms(torch.zeros(2, 1, 4, 4), torch.full((1, 1, 4, 4), 0.5)) == 0.5
