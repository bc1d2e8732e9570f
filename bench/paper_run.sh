#!/usr/bin/env bash
# The paper profile on a GPU held for a fixed time (a lent or rented machine): `dvc repro` with the training stages
# first, so that a run cut short still has the models and their times, each output line stamped with the seconds
# since start, then bench/train_step.py (fp32 eager against the fast path) on the GPU; dvc.lock, params.yaml and
# reports/ (metrics, figures) are packed into $OUT at the end, whatever happened. Run from the repository root:
#   OUT=/tmp/out bash bench/paper_run.sh
#   DEADLINE_S     seconds after start by which everything must be packed (default 570)
#   BENCH_S        seconds kept for the benchmark after the pipeline (default 75; 0: no benchmark)
#   TARGETS        only these stages (and what they need), in this order, e.g. "train_ddpm_class train_judge"
#   WHEELS=dir     first install the wheels in dir into /tmp/site (a machine without dvc and no network)
#   MNIST_GZ=dir   the four MNIST files gzipped in dir: unpacked into data/dataset and committed to DVC's cache,
#                  so that download_mnist is skipped on a machine without network
# Measured on one H200 with it: README, "On a GPU".
set -u
START=$(date +%s)
DEADLINE_S=${DEADLINE_S:-570}
BENCH_S=${BENCH_S:-75}
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
  tar czf "$OUT/reports.tgz" reports dvc.lock params.yaml 2>/dev/null
  ls -la "$OUT" | tee -a "$LOG"
}
trap pack EXIT

say "host: $(nproc) cores; $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
if [ -n "${WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl \
    >>"$LOG" 2>&1 || { say "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD/src PATH=/tmp/site/bin:$PATH
  mkdir -p /tmp/bin; command -v python >/dev/null || ln -sf "$(command -v python3)" /tmp/bin/python
  export PATH=/tmp/bin:$PATH
fi
python -c 'import torch, dvc, accelerate, difflab
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(), "| dvc", dvc.__version__,
      "| accelerate", accelerate.__version__)' \
  2>&1 | stamp | tee -a "$LOG"

if [ ! -d .git ]; then
  if command -v git >/dev/null; then
    git init -q && git add -A >/dev/null && git -c user.email=gpu@run -c user.name=gpu commit -qm snapshot
    say "git: initialised a snapshot repository"
  else
    dvc config --local core.no_scm true; say "git: absent, dvc runs without scm"
  fi
fi
if [ -n "${MNIST_GZ:-}" ]; then  # into the cache too, so that dvc sees download_mnist as done
  mkdir -p data/dataset
  for f in "$MNIST_GZ"/*.gz; do gunzip -c "$f" > "data/dataset/$(basename "$f" .gz)"; done
  dvc commit -f download_mnist 2>&1 | stamp | tee -a "$LOG"
fi

# The pipeline, the training stages first, so that a run cut short still has the models and their times.
repro() {
  local budget=$(( $(left) - BENCH_S ))
  if [ "$budget" -le 5 ]; then say "no time left for dvc repro $*"; return 124; fi
  say "dvc repro $* (budget ${budget}s)"
  timeout -k 5 "$budget" dvc repro "$@" 2>&1 | stamp | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  say "dvc repro $* -> exit $rc"
  return "$rc"
}
if [ -n "${TARGETS:-}" ]; then
  for target in $TARGETS; do repro "$target" || break; done
elif ! repro train_denoiser; then
  if [ "$(left)" -gt $(( BENCH_S + 60 )) ] && grep -q '^compile: auto' params.yaml; then
    say "train_denoiser failed with compile auto: retrying with compile off"
    sed -i 's/^compile: auto /compile: off  /' params.yaml
    repro train_denoiser
  fi
fi
if [ -z "${TARGETS:-}" ]; then
  for target in train_ddpm_time train_ddpm_class train_flow_time train_flow_class train_judge eval_ddpm_class \
                eval_ddpm_time eval_flow_class eval_flow_time compare_objectives ""; do
    repro $target || true
  done
fi
dvc status 2>&1 | stamp | tail -40 | tee -a "$LOG"
nvidia-smi --query-gpu=memory.used --format=csv | tee -a "$LOG"

# fp32 eager against the fast path, on the GPU only, in whatever time is left
bench_budget=$(left)
if [ "$BENCH_S" -gt 0 ] && [ "$bench_budget" -gt 20 ]; then
  say "bench/train_step.py (budget ${bench_budget}s)"
  timeout -k 5 "$bench_budget" python bench/train_step.py --device cuda --hidden 128 16 32 --steps 30 --warmup 5 \
    2>&1 | stamp | tee "$OUT/bench_train_step.txt" | tee -a "$LOG"
fi
say "done"
