#!/usr/bin/env bash
# Rehearse bench/paper_run.sh on the CPU before a GPU lease is spent on it: the same script, on a fresh copy of
# this checkout's HEAD, with MNIST handed over gzipped as the GPU machine gets it (MNIST_GZ), the paper params cut
# to tiny sizes (SET), two stages at a time; then check that the nine files came back, each under 16 MiB, and that
# every stage of its dvc.yaml ran. Needs data/dataset (any earlier run's download_mnist) and the project's venv on PATH.
#   bash bench/paper_rehearsal.sh            # about 3 minutes on 2 cores (187 s, 2026-11-29, AMD EPYC)
#   KEEP=1 bash bench/paper_rehearsal.sh     # keep the copy and $OUT (printed) to look at
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/paper-rehearsal.XXXXXX)
OUT=$WORK/out
if [ ! -f "$ROOT/data/dataset/train-images-idx3-ubyte" ]; then
  echo "no $ROOT/data/dataset: run dvc repro download_mnist first" >&2; exit 2
fi
git clone -q "$ROOT" "$WORK/repo"
mkdir -p "$WORK/mnist"
for f in "$ROOT"/data/dataset/*-ubyte; do gzip -c "$f" > "$WORK/mnist/$(basename "$f").gz"; done
TINY="threads=1 log_every=5"
for m in denoiser pure_noise ddpm_time ddpm_class flow_time flow_class; do
  TINY="$TINY $m.hidden=4 $m.epochs=1 $m.train_limit=1024"
done
TINY="$TINY ddpm_time.snapshot_epoch=1 ddpm_class.snapshot_epoch=1"
TINY="$TINY denoiser.snapshot_epoch=1 pure_noise.snapshot_epoch=1"
TINY="$TINY flow_time.snapshot_epochs=[1] flow_class.snapshot_epochs=[1] flow_time.num_steps=4 flow_class.num_steps=4"
TINY="$TINY judge.epochs=1 judge.train_limit=2048 ood.test_limit=256 eval.num_samples=16 eval.parta_seeds=4"
TINY="$TINY eval.guidance_scales=[0.0,3.0] objectives.num_steps=[2,4] samplers.num_steps=[2,4]"
cd "$WORK/repo"
start=$(date +%s)
OUT=$OUT MNIST_GZ=$WORK/mnist JOBS=2 SET="$TINY" DEADLINE_S=${DEADLINE_S:-560} BENCH_S=30 bash bench/paper_run.sh \
  > "$WORK/console.txt" 2>&1 || true
echo "paper_run.sh (rehearsal) took $(( $(date +%s) - start )) s; its log: $OUT/log.txt"
STAGES=$(python -m dvc stage list --name-only | wc -l)  # every stage of the DAG must have run
if python - "$OUT" "$STAGES" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
want = ["log.txt", "dvc.lock", "params.yaml", "stage_times.json", "metrics.tgz", "report.tgz", "nvidia-smi.txt",
        "bench.txt", "paper.cost.json"]
files = sorted(p.name for p in out.iterdir())
problems = [f"missing {name}" for name in want if name not in files and name != "nvidia-smi.txt"]
problems += [f"unexpected {name}" for name in files if name not in want]
problems += [f"{p.name} is {p.stat().st_size / 2**20:.1f} MiB" for p in out.iterdir() if p.stat().st_size > 16 * 2**20]
times = json.loads((out / "stage_times.json").read_text()) if (out / "stage_times.json").exists() else {"stages": {}}
bad = {n: t["status"] for n, t in times["stages"].items()  # download_mnist: done from MNIST_GZ before the DAG
       if t["status"] != "ran" and (n, t["status"]) != ("download_mnist", "skipped")}
problems += [f"stage {n}: {s}" for n, s in sorted(bad.items())]
if (out / "paper.cost.json").exists():  # the cost record: every timed stage, the probe of this machine
    record = json.loads((out / "paper.cost.json").read_text())
    if set(record["stages"]) | set(record.get("untimed", [])) != set(times["stages"]) or not record["probe_seconds"]:
        problems.append(f"paper.cost.json does not hold the run: {sorted(record['stages'])}, probe "
                        f"{record['probe_seconds']}")
print(f"{len(times['stages'])} stages, wall {times.get('wall')} s with {times.get('jobs')} at a time; files: {files}")
print("\n".join(problems) if problems else "rehearsal OK: every stage ran and every file came back")
sys.exit(1 if problems or len(times["stages"]) < int(sys.argv[2]) else 0)
PY
then status=0; else status=$?; fi
if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
exit $status
