#!/usr/bin/env bash
# The paper reference run on one GPU in one call (issue 17): the whole paper DAG with its independent stages side
# by side (python -m difflab.workflow.parallel: DVC's own `dvc repro` per stage, JOBS at a time), stopped cleanly
# at a deadline if it must be, then everything packed into at most 9 files in $OUT, whatever happened:
#   log.txt            this script's log, every line stamped with the seconds since start
#   dvc.lock           the run's lock file (every stage that finished)
#   params.yaml        the params it ran with (the committed ones plus SET)
#   stage_times.json   each stage's outcome and wall seconds, the run's wall time (rewritten after every stage)
#   metrics.tgz        every metric file (reports/**/*.json, DVCLive's plots) and each stage's own log
#   report.tgz         reports/ whole (page, figures, GIFs); without the GIFs if that would pass 15 MiB
#   nvidia-smi.txt     the GPU after the run (memory in use, clocks, processes)
#   paper.cost.json    where every stage finished: the run as make run's cost record, with the probe timed on this
#                      machine (python -m difflab.workflow.cost): drop-in for profiles/paper.cost.json
#   bench.txt          bench/sample.py on the GPU in what time is left (fast path against fp32 eager)
# Run from the repository root:
#   OUT=/tmp/out bash bench/paper_run.sh
# Environment:
#   DEADLINE_S   seconds after start by which everything must be packed (default 560)
#   JOBS         stages at a time (default 8, the measured case: one H200, 16 cores, 41 stages in 441 s,
#                results/paper-h200-2026-12-04); SET: params to override, space-separated (default "threads=2",
#                so that JOBS x threads stays within the machine's cores)
#   BENCH_S      seconds kept for bench.txt after the pipeline (default 45; 0: none)
#   WHEELS=dir   first install the wheels in dir into /tmp/site (a machine without dvc and no network); make them
#                on a machine with the internet (or PyPI) for the GPU machine's Python (3.12 there):
#                  pip download --dest .wheels --only-binary=:all: --python-version 3.12 \
#                    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 dvc==3.67.1 dvclive==3.49.1 \
#                    matplotlib==3.11.2 safetensors==0.8.0 pydantic==2.14.4 ruamel.yaml.clib==0.2.15
#                (torch, transformers and accelerate are on the machine; .wheels/ is git-ignored: carry it)
#   MNIST_GZ=dir the four MNIST files gzipped in dir: unpacked into data/dataset and committed to DVC's cache,
#                so that download_mnist is skipped on a machine without network
#   PARAMS=file  use this params file instead of params.yaml (the CPU rehearsal, bench/paper_rehearsal.sh)
# Before spending a lease: bash bench/paper_rehearsal.sh runs this script on the CPU on tiny sizes and checks the
# eight files.
set -u
START=$(date +%s)
DEADLINE_S=${DEADLINE_S:-560}
BENCH_S=${BENCH_S:-45}
JOBS=${JOBS:-8}
SET=${SET:-threads=2}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
LOG=$OUT/log.txt
export PYTHONUNBUFFERED=1 DVC_NO_ANALYTICS=1
left() { echo $(( DEADLINE_S - ($(date +%s) - START) )); }
say() { printf '[%4ds] %s\n' $(( $(date +%s) - START )) "$*" | tee -a "$LOG"; }
stamp() { while IFS= read -r line; do printf '[%4ds] %s\n' $(( $(date +%s) - START )) "$line"; done; }

pack() {
  say "packing results"
  cp dvc.lock params.yaml "$OUT"/ 2>/dev/null
  find reports logs/stages -name '*.json' -o -name '*.tsv' -o -name '*.log' 2>/dev/null \
    | tar czf "$OUT/metrics.tgz" -T - 2>/dev/null
  tar czf "$OUT/report.tgz" reports 2>/dev/null
  if [ "$(stat -c %s "$OUT/report.tgz" 2>/dev/null || echo 0)" -gt $(( 15 * 1024 * 1024 )) ]; then
    tar czf "$OUT/report.tgz" --exclude='*.gif' reports 2>/dev/null
    say "report.tgz without GIFs (over 15 MiB with them)"
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
  ls -la "$OUT" | tee -a "$LOG"
}
trap pack EXIT

say "host: $(nproc) cores; $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
  || echo 'no GPU')"
if [ -n "${WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$WHEELS"/*.whl \
    >>"$LOG" 2>&1 || { say "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD/src PATH=/tmp/site/bin:$PATH
  mkdir -p /tmp/bin; command -v python >/dev/null || ln -sf "$(command -v python3)" /tmp/bin/python
  export PATH=/tmp/bin:$PATH
else
  export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
fi
python -c 'import torch, dvc, difflab
print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name() if torch.cuda.is_available() else "(no CUDA)", "| dvc", dvc.__version__)' \
  2>&1 | stamp | tee -a "$LOG"

if [ ! -d .git ]; then
  if command -v git >/dev/null; then
    git init -q && git add -A >/dev/null && git -c user.email=gpu@run -c user.name=gpu commit -qm snapshot
    say "git: initialised a snapshot repository"
  else
    dvc config --local core.no_scm true; say "git: absent, dvc runs without scm"
  fi
fi
if [ -n "${PARAMS:-}" ]; then cp "$PARAMS" params.yaml; say "params.yaml from $PARAMS"; fi
if [ -n "$SET" ]; then
  # shellcheck disable=SC2086  # SET is a list of KEY=VALUE words
  python -c 'import sys; from dvc.utils.hydra import apply_overrides; apply_overrides("params.yaml", sys.argv[1:])' \
    $SET 2>&1 | stamp | tee -a "$LOG"
  say "params: $SET"
fi
if [ -n "${MNIST_GZ:-}" ]; then  # into the cache too, so that dvc sees download_mnist as done
  mkdir -p data/dataset
  for f in "$MNIST_GZ"/*.gz; do gunzip -c "$f" > "data/dataset/$(basename "$f" .gz)"; done
  dvc commit -f download_mnist 2>&1 | stamp | tee -a "$LOG"
fi

# The whole DAG, JOBS stages at a time, a failed stage costing only what depends on it; at the deadline the runner
# gets SIGTERM and stops its stages cleanly.
budget=$(( $(left) - BENCH_S - 20 ))
say "the paper DAG, $JOBS stages at a time (budget ${budget}s)"
timeout -k 30 "$budget" python -m difflab.workflow.parallel --jobs "$JOBS" --keep-going --logs logs/stages \
  --times "$OUT/stage_times.json" 2>&1 | stamp | tee -a "$LOG"
say "the DAG -> exit ${PIPESTATUS[0]}"
dvc status 2>&1 | stamp | tail -40 | tee -a "$LOG"
python -m difflab.workflow.cost "$(python -c 'import yaml; print(yaml.safe_load(open("params.yaml"))["profile"])')" \
  "$OUT/stage_times.json" --date "$(date -u +%F)" --probe --folder "$OUT" 2>&1 | stamp | tee -a "$LOG"
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv 2>&1 | tee -a "$LOG"

# The sampling loop's fast path against fp32 eager, on the GPU, in what time is left.
bench_budget=$(( $(left) - 15 ))
if [ "$BENCH_S" -gt 0 ] && [ "$bench_budget" -gt 15 ]; then
  if python -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
    bench_args=(--device cuda --hidden 16 32 128 --num 1000 --steps 300)
  else  # the rehearsal: a smoke run
    bench_args=(--device cpu --hidden 16 --num 20 --steps 2)
  fi
  say "bench/sample.py ${bench_args[*]} (budget ${bench_budget}s)"
  timeout -k 5 "$bench_budget" python bench/sample.py "${bench_args[@]}" 2>&1 | stamp | tee "$OUT/bench.txt" \
    | tee -a "$LOG"
fi
say "done"
