"""Eval Protocol's models, imported once without the deprecation warning it forces on.

eval-protocol 0.3.x shows a ``PydanticDeprecatedSince20`` warning ("Support for class-based
``config`` is deprecated") on every import, from its own ``TaskDefinitionModel``. A warnings
filter set beforehand cannot hide it, because the package's ``__init__`` runs
``warnings.filterwarnings("default", category=DeprecationWarning, module="eval_protocol")``,
which goes to the *front* of the filter list, ahead of every filter set earlier (a notebook's,
``python -W``, pytest's ``-W`` and ``filterwarnings``); ``models.py`` is imported right after
(under pytest, by that same ``__init__``). So svgkit imports it here, the first time, with the
warnings of the import recorded: that one warning is dropped and every other one is shown as it was.
eval_protocol's own filter is kept, so its other deprecations still show.

svgkit modules import Eval Protocol's models from here. Under pytest, Eval Protocol's plugin
imports the package before any ``conftest.py`` runs, so ``pytest -p svgkit._ep`` (set in
``pyproject.toml``'s ``addopts`` and by :func:`svgkit.evaluation.run_evaluator`) loads this module
first: ``-p`` plugins load before the plugins found through entry points.
"""

import sys
import warnings

__all__ = [
    "QUIET_MESSAGE",
    "EvaluateResult",
    "EvaluationRow",
    "MetricResult",
    "Status",
]

#: The start of the one warning dropped.
QUIET_MESSAGE = "Support for class-based `config` is deprecated"


def _import_quietly() -> None:
    if "eval_protocol.models" in sys.modules:
        return
    with warnings.catch_warnings(record=True) as caught:
        import eval_protocol.models  # noqa: F401
    # catch_warnings restored the filter list, so put back the one eval_protocol's __init__ added.
    warnings.filterwarnings("default", category=DeprecationWarning, module="eval_protocol")
    for w in caught:  # these already passed the filters inside the block: show them as they were
        if issubclass(w.category, DeprecationWarning) and str(w.message).startswith(QUIET_MESSAGE):
            continue
        warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)


_import_quietly()

from eval_protocol.models import EvaluateResult, EvaluationRow, MetricResult, Status  # noqa: E402
