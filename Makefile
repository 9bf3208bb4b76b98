# svgkit tutorial: everything a fresh machine needs is installed by these targets.
#   make tutorial   set up, then run notebooks 01-05 offline and print a summary (the main job)
#   make test       set up, then ruff + pytest tests/ + nbval on notebooks/ (what CI runs)
#   make lab        set up, then start JupyterLab on the project
#   make bench      speed benchmarks (figures go in issue notes, not in tests)
#   make fidelity   SSIM of svgkit renders vs headless Chromium on the bundled examples (needs chromium)

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
OFFLINE_ENV := SVGKIT_MODE=offline EP_NO_UPLOAD=1 LITELLM_LOCAL_MODEL_COST_MAP=True MPLBACKEND=Agg

.PHONY: setup system-deps tutorial test lint lab bench fidelity clean

setup: system-deps $(STAMP)

# cairosvg needs the cairo C library; Liberation fonts give browser-like text metrics.
system-deps:
	@missing=""; \
	ldconfig -p 2>/dev/null | grep -q 'libcairo.so.2' || missing="$$missing libcairo2"; \
	[ -d /usr/share/fonts/truetype/liberation ] || fc-list 2>/dev/null | grep -qi 'Liberation Sans' || missing="$$missing fonts-liberation"; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || exit 1; \
	  else \
	    echo "missing system packages:$$missing -- install them (Debian/Ubuntu: sudo apt-get install$$missing; macOS: brew install cairo) and re-run make"; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

tutorial: setup
	$(OFFLINE_ENV) $(PY) -m svgkit.runner $(NOTEBOOKS)

lint: setup
	$(VENV)/bin/ruff check svgkit tests

test: setup lint
	$(OFFLINE_ENV) $(PY) -m pytest -q tests
	$(OFFLINE_ENV) $(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env $(NOTEBOOKS)

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

bench: setup
	$(OFFLINE_ENV) $(PY) -m svgkit.bench
	$(OFFLINE_ENV) $(PY) -m svgkit.bench --evaluator
	$(OFFLINE_ENV) $(PY) -m svgkit.bench --rollout-server

# svgkit renders vs headless Chromium screenshots (SSIM) on the bundled examples; needs Debian's chromium.
fidelity: setup
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || \
	  { echo "make fidelity needs headless Chromium: sudo apt-get install chromium (Debian/Ubuntu)"; exit 1; }
	$(OFFLINE_ENV) $(PY) -m svgkit.bench --fidelity

clean:
	rm -rf $(VENV) outputs .pytest_cache
