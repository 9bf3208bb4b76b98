"""Notebook 04: launch reinforcement fine-tuning on Fireworks, knowing first what it costs and whether it can learn.

Modules, one concern each (everything is re-exported here):

- :mod:`svgkit.rft.spec`             the typed job spec (upstream recipe as defaults), its checks, the
  SDK call and the equivalent ``eval-protocol create rft`` command
- :mod:`svgkit.rft.estimate`         rollouts, judge calls, tokens, price and a time range, before launch
- :mod:`svgkit.rft.learning_signal`  the reward spread per prompt: what GRPO can learn from
- :mod:`svgkit.rft.prerequisites`    training rows, an ACTIVE evaluator, the judge's secret
- :mod:`svgkit.rft.training_data`    the dataset upload, once per content
- :mod:`svgkit.rft.launch`           launch once (a state file under ``outputs/rft/``), reattach, cancel,
  find the output model
- :mod:`svgkit.rft.monitor`          bounded watching: states, progress, reward curve (W&B), failures
- :mod:`svgkit.rft.rehearsal_demos`  on the stand-in only: what a failed and a cancelled job look like
- :mod:`svgkit.rft.paths`            where the files go, and how they are shown
- :mod:`svgkit.rft.summary`          the notebook's closing summary
- :mod:`svgkit.rft.views`            records show themselves as the Markdown notebooks render

Every function that talks to the platform takes the notebook's
:class:`~svgkit.rehearsal.PlatformSession`, live or rehearsed: the same code either way.
"""

from .estimate import RftEstimate, estimate_job
from .launch import (
    CancelOutcome,
    JobRecord,
    LaunchOutcome,
    LaunchRefused,
    OutputModel,
    cancel_job,
    find_output_model,
    launch_job,
    load_job_record,
)
from .learning_signal import (
    PromptSignal,
    SignalCheck,
    SignalStatus,
    check_learning_signal,
    estimate_signal_check,
    signal_from_scores,
)
from .monitor import (
    JobWatch,
    MetricsSource,
    MetricsUnavailable,
    RewardSeries,
    Transition,
    WandbHistory,
    explain_failure,
    metrics_source,
    reward_curve_figure,
    watch_job,
)
from .paths import job_state_path, shown_path
from .prerequisites import Prerequisite, Prerequisites, check_prerequisites
from .rehearsal_demos import DEMO_FAILURE_MESSAGE, rehearse_cancel, rehearse_failure
from .spec import (
    LOSS_METHODS,
    RftJobSpec,
    SpecCheck,
    SpecError,
    SpecProblem,
    WandbSettings,
    check_spec,
    longest_prompt_tokens,
)
from .summary import launch_summary
from .training_data import TrainingUpload, upload_training_rows
from .views import MarkdownView

__all__ = [
    "DEMO_FAILURE_MESSAGE",
    "LOSS_METHODS",
    "CancelOutcome",
    "JobRecord",
    "JobWatch",
    "LaunchOutcome",
    "LaunchRefused",
    "MarkdownView",
    "MetricsSource",
    "MetricsUnavailable",
    "OutputModel",
    "Prerequisite",
    "Prerequisites",
    "PromptSignal",
    "RewardSeries",
    "RftEstimate",
    "RftJobSpec",
    "SignalCheck",
    "SignalStatus",
    "SpecCheck",
    "SpecError",
    "SpecProblem",
    "TrainingUpload",
    "Transition",
    "WandbHistory",
    "WandbSettings",
    "cancel_job",
    "check_learning_signal",
    "check_prerequisites",
    "check_spec",
    "estimate_job",
    "estimate_signal_check",
    "explain_failure",
    "find_output_model",
    "job_state_path",
    "launch_job",
    "launch_summary",
    "load_job_record",
    "longest_prompt_tokens",
    "metrics_source",
    "rehearse_cancel",
    "rehearse_failure",
    "reward_curve_figure",
    "shown_path",
    "signal_from_scores",
    "upload_training_rows",
    "watch_job",
]
