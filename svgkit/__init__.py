"""svgkit: the library behind the SVG-drawing RFT tutorial.

Modules, one concern each:

- :mod:`svgkit.config`      model ids, URLs, prices, limits, offline/live mode (defined once)
- :mod:`svgkit.dataset`     SVGBench download, bundled data, Eval Protocol rows, splits
- :mod:`svgkit.stats`       dataset statistics and prompt categories
- :mod:`svgkit.svg`         extracting and sanitising untrusted SVG from model answers
- :mod:`svgkit.render`      bounded, isolated SVG -> PNG rendering (cairosvg in worker processes)
- :mod:`svgkit.reading`     reading pictures and sentences (PNG pixels, SVG texts, quoted labels)
- :mod:`svgkit.guards`      reward-hack guards: blank canvas, tiny drawing, requirements written as text
- :mod:`svgkit.judge`       per-requirement verdicts: vision LLM judge, offline rule judge, cache
- :mod:`svgkit.reward`      the reward: fulfilled / total as an Eval Protocol ``EvaluateResult``
- :mod:`svgkit.calibrate`   how far to trust a judge, against hand-made labels
- :mod:`svgkit.canaries`    reward-hack canaries: hack answers per family that must score (near) 0
- :mod:`svgkit.http_client` one HTTP layer for OpenAI-compatible calls: retries, hard deadlines, breaker, key scrubbing
- :mod:`svgkit.pricing`     the one price lookup, token costs, and cost estimates before a run
- :mod:`svgkit.generate`    sampling answers from an OpenAI-compatible endpoint, resumable
- :mod:`svgkit.scoring`     scoring answers in notebooks: reward, verdicts and render per answer
- :mod:`svgkit.evaluation`  Eval Protocol glue: evaluator plan, row scoring, running under pytest
- :mod:`svgkit.evaluator`   the ``@evaluation_test`` itself (collected by pytest, uploaded in 03)
- :mod:`svgkit.fireworks_api`  the Fireworks control plane: secrets, datasets, evaluators, RFT jobs, deployments
- :mod:`svgkit.rehearsal`   where a notebook's Fireworks steps go: live, or a rehearsal on the stand-in
- :mod:`svgkit.environ`     temporary environment variables, put back exactly as they were
- :mod:`svgkit.upload`      notebook 03: the evaluator bundle, its free preflight, the upload
- :mod:`svgkit.rft`         notebook 04: the RFT job spec, estimate, learning signal, launch, monitoring
- :mod:`svgkit.minirft`     RFT in miniature: GRPO on a softmax bandit over fixed answers (not a language
                            model), on the real reward, offline (``python -m svgkit.minirft``)
- :mod:`svgkit.training_log`  the per-step training table shared by the miniature and live jobs
- :mod:`svgkit.deploy`      notebook 05: serving a model on an on-demand deployment (opt-in, price, cleanup)
- :mod:`svgkit.before_after`  notebook 05: the before/after answers (the holdout live, the RFT miniature offline)
- :mod:`svgkit.analysis`    did training help: paired bootstrap CI, pass rates, validity, size, galleries
- :mod:`svgkit.report`      the self-contained HTML report of an analysis (``outputs/report.html``)
- :mod:`svgkit.standin`     local stand-ins for rehearsals: chat completions, the Fireworks API, the tracing gateway
- :mod:`svgkit.rollout_server`  the remote rollout server (``python -m svgkit.rollout_server``);
  :mod:`svgkit.remote_rehearsal` runs the evaluator against it offline
- :mod:`svgkit.plots`, :mod:`svgkit.gallery`, :mod:`svgkit.display`  figures and views for notebooks
- :mod:`svgkit.runner`      runs the notebook series (``make tutorial``) and refreshes the committed
                            notebooks (``make notebooks``); :mod:`svgkit.bench` benchmarks
- :mod:`svgkit.browser_check`  the series in JupyterLab in headless Chromium (``make browser-check``)

Eval Protocol's models are imported through ``svgkit._ep``, which keeps out the deprecation
warning eval-protocol forces on at import (see that module).

Importing svgkit never touches the network: litellm (pulled in by Eval Protocol) is told to use
its bundled price list instead of downloading one, unless you set
``LITELLM_LOCAL_MODEL_COST_MAP`` yourself.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__all__ = ["__version__"]

__version__ = "0.1.0"
