# svgkit tutorial: everything a fresh machine needs is installed by these targets.
#   make tutorial       set up, then run notebooks 01-05 offline into outputs/notebooks/ and print a summary
#                       (the main job; tracked files are never touched)
#   make test           set up, then ruff + pytest tests/ + nbval on notebooks/ (what CI runs)
#   make lab            set up, then start JupyterLab on the series (works as root too)
#   make notebooks      refresh the committed notebooks from a hermetic offline run (saved only if clean)
#   make browser-check  run every notebook in JupyterLab in headless Chromium and check what it shows
#   make bench          speed benchmarks (figures go in issue notes, not in tests)
#   make fidelity       SSIM of svgkit renders vs headless Chromium on the bundled examples (needs chromium)

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
OFFLINE_ENV := SVGKIT_MODE=offline EP_NO_UPLOAD=1 LITELLM_LOCAL_MODEL_COST_MAP=True MPLBACKEND=Agg
# nbval compares with notebooks made by `make notebooks`, so it runs them the same way: keys and
# per-user overrides blanked (a blank value wins over .env), outputs in a folder of their own.
# Keep the blanked names in step with svgkit.runner.HERMETIC_BLANK (tests/test_runner.py checks).
HERMETIC_ENV := $(OFFLINE_ENV) FIREWORKS_API_KEY= OPENAI_API_KEY= SVGKIT_JUDGE_API_KEY= FIREWORKS_ACCOUNT_ID= \
  SVGKIT_JUDGE_MODEL= SVGKIT_JUDGE_BASE_URL= SVGKIT_GENERATION_BASE_URL= SVGKIT_EVAL_MODEL= SVGKIT_JUDGE= \
  SVGKIT_OUTPUT_DIR=$(CURDIR)/outputs/nbval SVGKIT_JUDGE_CACHE=$(CURDIR)/outputs/nbval/judge-cache.sqlite
BROWSER_STAMP := $(VENV)/.installed-browser

.PHONY: setup system-deps tutorial test lint lab notebooks browser-check browser-deps bench fidelity clean

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

# nbval runs every notebook in order and compares all outputs with the committed ones, through
# the sanitiser for what legitimately varies (progress bars, inline pictures, durations, addresses, temp paths).
test: setup lint
	$(OFFLINE_ENV) $(PY) -m pytest -q tests
	@rm -rf outputs/nbval
	$(HERMETIC_ENV) $(PY) -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg $(NOTEBOOKS)

# The one command that rewrites the committed notebooks (see svgkit/runner.py).
notebooks: setup
	$(PY) -m svgkit.runner --refresh $(NOTEBOOKS)

# As root JupyterLab needs --allow-root; CurveZMQ keeps kernels off unencrypted TCP (and its warning).
# The series is trusted first, so saved widget views render before the notebook is run.
lab: setup
	@$(VENV)/bin/jupyter trust $(NOTEBOOKS) >/dev/null
	$(VENV)/bin/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
	  $$($(PY) -c 'import zmq; print("--KernelManager.transport_encryption=auto" if zmq.has("curve") else "")') \
	  --ServerApp.root_dir=$(CURDIR) $(firstword $(NOTEBOOKS))

# Debian's chromium and chromedriver, like the other system packages; Selenium from the [browser] extra.
browser-deps: setup
	@missing=""; \
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || exit 1; \
	  else \
	    echo "missing system packages:$$missing -- install them (Debian/Ubuntu: sudo apt-get install$$missing) and re-run make"; exit 1; \
	  fi; \
	fi
	@[ -f $(BROWSER_STAMP) ] && [ $(BROWSER_STAMP) -nt pyproject.toml ] || \
	  { $(PY) -m pip install -q -e '.[dev,browser]' && touch $(BROWSER_STAMP); }

browser-check: browser-deps
	$(PY) -m svgkit.browser_check $(NOTEBOOKS)

bench: setup
	$(OFFLINE_ENV) $(PY) -m svgkit.bench
	$(OFFLINE_ENV) $(PY) -m svgkit.bench --evaluator
	$(OFFLINE_ENV) $(PY) -m svgkit.bench --rollout-server
	$(OFFLINE_ENV) $(PY) -m svgkit.bench --rule-judge
	$(OFFLINE_ENV) $(PY) -m svgkit.bench --minirft

# svgkit renders vs headless Chromium screenshots (SSIM) on the bundled examples; needs Debian's chromium.
fidelity: setup
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || \
	  { echo "make fidelity needs headless Chromium: sudo apt-get install chromium (Debian/Ubuntu)"; exit 1; }
	$(OFFLINE_ENV) $(PY) -m svgkit.bench --fidelity

clean:
	rm -rf $(VENV) outputs .pytest_cache
