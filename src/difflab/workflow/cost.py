"""What a profile will roughly cost on this machine, before it runs: a short probe (training steps of the quick
profile's class UNet, in the precision the stages will use) timed here and on the machine whose whole run is on
record (profiles/<profile>.cost.json), and that run's stage times scaled by the ratio.

The ratio carries the probe's noise and the probe's blind spots (process start-up, DVC's own work and the judge do
not scale with it), so the estimate is given as a range: RANGE around the scaled figure. Two whole quick runs on
machines of different makes (AMD EPYC, Intel Xeon with AMX) differed by 12 % in wall time; the range is wider than
that on purpose. A record whose machine was not probed (the paper run of 2026-12-04 on one H200: the probe was not
timed there) is quoted as it was, unscaled, with the machine it was taken on.

A run made outside `make run` (bench/paper_run.sh on a GPU: stage_times.json) becomes a record with

    python -m difflab.workflow.cost paper stage_times.json --date 2026-12-04 --probe   # on that machine, after it
"""

import argparse
import json
import os
import platform
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


def machine() -> str:
    """The machine by name, as every timing here is quoted: its core count and CPU (with the CPU's vector
    extensions), and the GPU where CUDA has one."""
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_properties(0)
        return f"{os.cpu_count()} cores, one {gpu.name} ({gpu.total_memory / 2 ** 30:.0f} GiB)"
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {name}, {torch.backends.cpu.get_cpu_capability()}"


def reference_path(profile: str, folder: Path = Path("profiles")) -> Path:
    return folder / f"{profile}.cost.json"


def read_reference(profile: str, folder: Path = Path("profiles")) -> dict | None:
    path = reference_path(profile, folder)
    return json.loads(path.read_text()) if path.is_file() else None


def estimate(reference: dict, probe_here: float | None) -> dict:
    """The reference run's stage times scaled by probe_here / its probe, plus DVC's own time between stages as it
    was (it does not scale with the probe); for a run of stages side by side its whole wall time scaled.
    `low`/`high` bound the likely total. Where either probe is missing (a record whose machine was not probed) the
    scale is 1: the record as it was."""
    probed = reference.get("probe_seconds")
    scale = probe_here / probed if probe_here and probed else 1.0
    stages = {name: seconds * scale for name, seconds in reference["stages"].items()}
    if reference.get("jobs", 1) > 1:  # stages side by side: their sum is no wall time; the run's own is
        total = reference["wall"] * scale
    else:
        total = sum(stages.values()) + reference.get("between_stages", 0.0)
    return {"scale": scale, "stages": stages, "total": total, "low": total * RANGE[0], "high": total * RANGE[1]}


def _slowest(reference: dict) -> str:
    return ", ".join(f"{n} {s:.0f} s" for n, s in sorted(reference["stages"].items(), key=lambda kv: -kv[1])[:3])


def describe(profile: str, reference: dict | None, probe_here: float | None, jobs_here: int | None = None,
             device_here: str | None = None) -> str:
    """One paragraph for the start of `make run` (`jobs_here`: how many stages this run will run at a time;
    `device_here`: "cpu" or "cuda", the device this run's stages use)."""
    if reference is None:
        return (f"No whole {profile} run is on record (profiles/{profile}.cost.json), so its cost here is not "
                f"estimated; docs/results.md has what is known.")
    jobs, measured = reference.get("jobs", 1), estimate(reference, None)["total"]  # unscaled: as it was measured
    at_a_time = f", {jobs} stages at a time" if jobs > 1 else ""
    differ = (f" That run ran {jobs} stage{'s' if jobs > 1 else ''} at a time, this one runs {jobs_here}: expect its "
              f"cost to differ accordingly." if jobs_here is not None and jobs_here != jobs else "")
    there = reference.get("device", "cpu")
    if not reference.get("probe_seconds") or not probe_here:  # no probe to scale by: the record as it was
        here, elsewhere = "", device_here is not None and device_here != there
        if elsewhere:
            here = (f" That was on {'a GPU' if there == 'cuda' else 'a CPU'} and this run's stages use "
                    f"{'a GPU' if device_here == 'cuda' else 'the CPU'}: docs/results.md says what to expect here"
                    + (" (the paper profile on 2 CPU cores: about 15 hours in bf16, 35-40 in fp32)."
                       if profile == "paper" and device_here == "cpu" else "."))
        elif there == "cuda":
            here = (" This GPU was not compared with it (the probe was not timed there): on a smaller GPU expect more "
                    "(docs/results.md).")
        untimed = reference.get("untimed", [])
        return (f"Cost of the {profile} profile on the machine of record ({reference['machine']}, {reference['date']}, "
                f"{reference['precision']}{at_a_time}): {measured / 60:.1f} minutes for "
                f"{len(reference['stages']) + len(untimed)} stages"
                + (f" ({', '.join(untimed)} handed over, not timed)" if untimed else "")
                + f"; slowest stages there: {_slowest(reference)}.{here}{'' if elsewhere else differ}")
    e = estimate(reference, probe_here)
    return (f"Expected cost of the {profile} profile here: about {e['total'] / 60:.0f} minutes "
            f"(likely {e['low'] / 60:.0f}-{e['high'] / 60:.0f}), for {len(reference['stages'])} stages. A probe of "
            f"training steps ran {1 / e['scale']:.2f}x as fast here as on the machine of record ({reference['machine']}, "
            f"{reference['date']}, {reference['precision']}{at_a_time}: {measured / 60:.1f} minutes); slowest stages "
            f"there: {_slowest(reference)}.{differ}")


def record(profile: str, times: dict[str, float], wall: float, probe_seconds: float | None, machine: str,
           precision: str, date: str, jobs: int = 1, folder: Path = Path("profiles"), device: str = "cpu",
           untimed: list[str] = ()) -> Path:
    """Keep a whole run's stage times, its wall time and how many stages ran at a time (and, one at a time, DVC's
    time between them: the wall time less the stages') as the profile's reference; only a run in which every stage
    ran (`untimed`: stages whose outputs were handed over instead, as download_mnist on a machine without network).
    `probe_seconds` None: the machine was not probed (the record is then quoted unscaled)."""
    path = reference_path(profile, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"profile": profile, "date": date, "machine": machine, "device": device,
                                "precision": precision,
                                "probe_seconds": None if probe_seconds is None else round(probe_seconds, 5),
                                "jobs": jobs, "wall": round(wall, 1),
                                "between_stages": round(max(wall - sum(times.values()), 0.0), 1) if jobs == 1 else 0.0,
                                "stages": {k: round(v, 1) for k, v in sorted(times.items())},
                                **({"untimed": sorted(untimed)} if untimed else {})}, indent=1) + "\n")
    return path


def record_stage_times(profile: str, stage_times: dict, probe_seconds: float | None, machine_name: str,
                       precision: str, date: str, device: str, folder: Path = Path("profiles")) -> Path:
    """A run of stages side by side that workflow/parallel.py timed (its --times file: each stage's status and
    seconds, the jobs and the run's wall time) as the profile's record; refused unless every stage ran or was
    handed over unchanged (download_mnist on a machine without network)."""
    stages = stage_times["stages"]
    bad = {n: s["status"] for n, s in stages.items() if s["status"] not in ("ran", "skipped")}
    if bad:
        raise ValueError(f"stages that did not finish: {bad}; allowed: a run in which every stage ran")
    times = {n: s["seconds"] for n, s in stages.items() if s["status"] == "ran"}
    return record(profile, times, stage_times["wall"], probe_seconds, machine_name, precision, date,
                  stage_times["jobs"], folder, device, [n for n in stages if n not in times])


def for_stages(reference: dict, stages: list[str]) -> dict:
    """A record of a run of an earlier DAG carried over to `stages` (today's stage names), so that the runner orders
    and the estimate names every stage: a stage the run timed keeps its time; one it did not gets the time of the
    same foreach item on another group (parta_flow@x: the run's parta@x), else the median of its own group's timed
    items, else of every foreach item the run timed (an experiment added since). Names the run had that are gone (parta_flow, which ran every experiment in
    one stage) are dropped, the run's wall time kept as measured; "derived" says which stages were carried over and
    from what."""
    times, derived = {}, {}
    for name in stages:
        group, _, item = name.partition("@")
        if name in reference["stages"]:
            times[name] = reference["stages"][name]
            continue
        same = sorted(n for n in reference["stages"] if item and n.endswith(f"@{item}"))
        if same:
            times[name], derived[name] = reference["stages"][same[0]], same[0]
            continue
        for among, pattern in ((f"{group}@", f"the median of {group}@*"), ("@", "the median of every @ stage")):
            items = sorted(t for n, t in reference["stages"].items() if item and among in n)
            if items:
                times[name], derived[name] = items[len(items) // 2], pattern
                break
        else:
            if name not in reference.get("untimed", []):
                raise ValueError(f"stage {name}: not timed by the run of record, nor derivable from a stage it timed")
    return {**reference, "stages": dict(sorted(times.items())), "derived": dict(sorted(derived.items()))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m difflab.workflow.cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", help="the profile the run ran (its record: profiles/<profile>.cost.json)")
    parser.add_argument("times", type=Path, help="the run's stage_times.json (python -m difflab.workflow.parallel "
                                                 "--times)")
    parser.add_argument("--date", required=True, help="the day the run ran (YYYY-MM-DD)")
    parser.add_argument("--probe", action="store_true",
                        help="time the probe here, so that other machines can scale the record (run it on the machine "
                             "of the run, right after it, with the run's params.yaml)")
    parser.add_argument("--machine", help="the machine it ran on (default: this one, as machine() names it)")
    parser.add_argument("--device", choices=("cpu", "cuda"),
                        help="the device its stages used (default: what params.yaml resolves to here)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"),
                        help="the precision its stages used (default: what params.yaml resolves to here)")
    parser.add_argument("--folder", type=Path, default=Path("profiles"))
    args = parser.parse_args(argv)
    import yaml

    from difflab.config.params import check

    params = yaml.safe_load(Path("params.yaml").read_text())
    if args.device is None or args.precision is None or args.probe:
        runtime = from_params(check(dict(params, **{k: v for k, v in (("device", args.device),
                                                                       ("precision", args.precision)) if v})))
        args.device, args.precision = runtime.device.type, runtime.precision
    probe_seconds = probe(check(dict(params, device=args.device, precision=args.precision))) if args.probe else None
    try:
        path = record_stage_times(args.profile, json.loads(args.times.read_text()), probe_seconds,
                                  args.machine or machine(), args.precision, args.date, args.device, args.folder)
    except ValueError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    print(f"recorded {path}")


if __name__ == "__main__":
    main()
