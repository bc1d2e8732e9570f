"""What a profile will roughly cost on this machine, before it runs: a short probe (training steps of the quick
profile's class UNet, in the precision the stages will use) timed here and on the machine whose whole run is on
record (profiles/<profile>.cost.json), and that run's stage times scaled by the ratio.

The ratio carries the probe's noise and the probe's blind spots (process start-up, DVC's own work and the judge do
not scale with it), so the estimate is given as a range: RANGE around the scaled figure. Two whole quick runs on
machines of different makes (AMD EPYC, Intel Xeon with AMX) differed by 12 % in wall time; the range is wider than
that on purpose."""

import json
import time
from pathlib import Path

import torch

from difflab.config.runtime import from_params
from difflab.models.unet import UNet

RANGE = (0.8, 1.3)  # the run's likely wall time, as factors of the probe-scaled estimate


def probe(params, repeats: int = 20, warmup: int = 5) -> float:
    """The fastest of `repeats` training steps (forward, backward, optimiser; seconds) of a class-conditioned UNet
    at width 16, batch 64, on the device and in the precision the run's params resolve to, after `warmup` steps
    (the first steps build the kernels' caches). The fastest, since other work on the machine only slows a step."""
    runtime = from_params(params)
    torch.manual_seed(0)
    model = runtime.prepare(UNet(hidden=16, conditioning="class"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(64, 1, 28, 28, device=runtime.device)
    t = torch.rand(64, device=runtime.device)
    c = torch.nn.functional.one_hot(torch.arange(64, device=runtime.device) % 10, 10).float()
    seconds = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        with runtime.autocast():
            loss = (model(x, t, c).float() - x).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if runtime.device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            seconds.append(time.perf_counter() - start)
    return min(seconds)


def reference_path(profile: str, folder: Path = Path("profiles")) -> Path:
    return folder / f"{profile}.cost.json"


def read_reference(profile: str, folder: Path = Path("profiles")) -> dict | None:
    path = reference_path(profile, folder)
    return json.loads(path.read_text()) if path.is_file() else None


def estimate(reference: dict, probe_here: float) -> dict:
    """The reference run's stage times scaled by probe_here / its probe, plus DVC's own time between stages as it
    was (it does not scale with the probe); for a run of stages side by side its whole wall time scaled.
    `low`/`high` bound the likely total."""
    scale = probe_here / reference["probe_seconds"]
    stages = {name: seconds * scale for name, seconds in reference["stages"].items()}
    if reference.get("jobs", 1) > 1:  # stages side by side: their sum is no wall time; the run's own is
        total = reference["wall"] * scale
    else:
        total = sum(stages.values()) + reference.get("between_stages", 0.0)
    return {"scale": scale, "stages": stages, "total": total, "low": total * RANGE[0], "high": total * RANGE[1]}


def describe(profile: str, reference: dict | None, probe_here: float | None, jobs_here: int | None = None) -> str:
    """One paragraph for the start of `make run` (`jobs_here`: how many stages this run will run at a time)."""
    if reference is None:
        return (f"No whole {profile} run is on record (profiles/{profile}.cost.json), so its cost here is not "
                f"estimated; docs/results.md has what is known.")
    jobs = reference.get("jobs", 1)
    measured = reference["wall"] if jobs > 1 else sum(reference["stages"].values()) + reference.get("between_stages",
                                                                                                    0.0)
    e = estimate(reference, probe_here)
    return (f"Expected cost of the {profile} profile here: about {e['total'] / 60:.0f} minutes "
            f"(likely {e['low'] / 60:.0f}-{e['high'] / 60:.0f}), for {len(reference['stages'])} stages. A probe of "
            f"training steps ran {1 / e['scale']:.2f}x as fast here as on the machine of record ({reference['machine']}, "
            f"{reference['date']}, {reference['precision']}"
            + (f", {jobs} stages at a time" if jobs > 1 else "")
            + f": {measured / 60:.1f} minutes); slowest stages there: "
            + ", ".join(f"{n} {s:.0f} s" for n, s in sorted(reference["stages"].items(), key=lambda kv: -kv[1])[:3])
            + "."
            + (f" That run ran {jobs} stage{'s' if jobs > 1 else ''} at a time, this one runs {jobs_here}: expect its "
               f"cost to differ accordingly." if jobs_here is not None and jobs_here != jobs else ""))


def record(profile: str, times: dict[str, float], wall: float, probe_seconds: float, machine: str, precision: str,
           date: str, jobs: int = 1, folder: Path = Path("profiles")) -> Path:
    """Keep a whole run's stage times, its wall time and how many stages ran at a time (and, one at a time, DVC's
    time between them: the wall time less the stages') as the profile's reference; only a run in which every stage
    ran."""
    path = reference_path(profile, folder)
    path.write_text(json.dumps({"profile": profile, "date": date, "machine": machine, "precision": precision,
                                "probe_seconds": round(probe_seconds, 5), "jobs": jobs, "wall": round(wall, 1),
                                "between_stages": round(max(wall - sum(times.values()), 0.0), 1) if jobs == 1 else 0.0,
                                "stages": {k: round(v, 1) for k, v in sorted(times.items())}}, indent=1) + "\n")
    return path
