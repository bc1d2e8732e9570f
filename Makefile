# Two commands do everything on a fresh machine (see README.md):
#   make run    set up, then run the whole DVC pipeline (quick profile without CUDA, paper profile with it)
#   make test   set up, then run the test suite (make test-fast: the unit tests alone, for the inner loop)
# and after a run, `make compare` shows the runs so far side by side (profile, headline, changed knobs).
# PROFILE=paper or PROFILE=quick forces a profile; JOBS=N runs N stages at a time (default: from the machine, 8 on a
# GPU with 16 cores); VENV picks the virtual environment.

VENV ?= .venv
PROFILE ?= auto
PYTHON ?= python3
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup browser run compare seeds test test-fast bench explore

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

run: setup
	@profile=$(PROFILE); \
	if [ "$$profile" = auto ]; then \
	  profile=$$(python -c 'import torch; print("paper" if torch.cuda.is_available() else "quick")'); \
	fi; \
	case "$$profile" in \
	  quick) echo "No CUDA device (or PROFILE=quick): running the QUICK profile, profiles/quick.txt," \
	              "small models trained briefly. For the paper profile: make run PROFILE=paper";; \
	  paper) echo "Running the PAPER profile (params.yaml as committed; 7 min 21 s on one H200, 15-40 hours on 2 CPU" \
	              "cores: docs/results.md)";; \
	  *) echo "PROFILE=$$profile; allowed: auto, quick, paper" >&2; exit 2;; \
	esac; \
	python -m difflab.workflow.run $$profile $(if $(JOBS),--jobs $(JOBS)) && python -m difflab.reporting.compare && \
	echo "Outputs are in this clone's DVC cache. To share them: dvc push (default remote: the folder ../dvc-storage;" \
	     "a shared folder, S3 or SSH: docs/working-with-it.md#remotes). A fresh clone has nothing to pull until someone pushes."

# Runs side by side, one row per run: its profile, the headline (reports/summary.json) and the params that differ
# from that profile. ARGS are options of `dvc exp show`, e.g. make compare ARGS="-A" (every commit's experiments);
# SHOW picks other headline columns: make compare SHOW=parta (part A's rates, the DDPM's beside the flow model's).
compare: setup
	python -m difflab.reporting.compare $(if $(SHOW),--show $(SHOW)) $(if $(ARGS),-- $(ARGS))

# The profile over N seeds through DVC's queue (JOBS workers at once), then make compare, which shows each number's
# mean and spread over the seeds: make seeds N=3 PROFILE=quick JOBS=2 (difflab/workflow/seeds.py).
seeds: setup
	python -m difflab.workflow.seeds $(if $(filter auto,$(PROFILE)),quick,$(PROFILE)) $(or $(N),3) --jobs $(or $(JOBS),1)

# The report's test drives Debian's Chromium (playwright only talks to it; it downloads no browser).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the report test"; \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; }

# The full suite over every core (pytest-xdist, a test file per worker at a time): the unit tests, then the two
# modules on the tiny DAG side by side, which builds in the background meanwhile (tests/tiny_dag.py).
test: setup browser
	python -m pytest -n auto --dist loadfile --no-loadscope-reorder --durations=20

# The inner loop: the unit tests alone (no DVC repository, no browser, no pipeline run), in about a minute.
test-fast: setup
	python -m pytest -m "not slow" -n auto

bench: setup
	python bench/train_step.py
	python bench/sample.py

# A local web app on 127.0.0.1 to play with any run's models (docs/explore.md); it reads runs, never writes outputs.
explore: setup
	python -m difflab.explore
