"""Watch an RFT job you can leave and come back to: bounded polling, progress, reward curve, failures.

:func:`watch_job` polls the recorded job (every 10 s live) for at most one cell's worth of time
(:attr:`svgkit.config.RftConfig.watch_timeout_s`; the job carries on when the cell returns, and
rerunning the cell resumes watching). It shows the state, percent and epoch on a progress bar,
keeps every state transition with its elapsed time, and returns a :class:`JobWatch` with the
dashboard link. A FAILED job comes back with its status message and what usually causes it
(:func:`explain_failure`).

Reward curves: fireworks-ai 1.2.30 has no per-step metrics endpoint for RFT jobs; the curve
comes from Weights & Biases when the spec sets ``wandb`` (:class:`WandbHistory`, which needs the
optional ``wandb`` package: ``pip install wandb``), and updates in the notebook while the job runs.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import PLATFORM, RFT, Secret
from ..fireworks_api import Progress, RftJobInfo, WaitTimeoutError, dashboard_url
from ..plots import PlotFigure
from .launch import load_job_record
from .spec import RftJobSpec
from .views import MarkdownView

if TYPE_CHECKING:
    from ..rehearsal import PlatformSession

__all__ = [
    "JobWatch",
    "MetricsSource",
    "MetricsUnavailable",
    "RewardSeries",
    "Transition",
    "WandbHistory",
    "explain_failure",
    "metrics_source",
    "reward_curve_figure",
    "watch_job",
]


# --------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class RewardSeries:
    """A reward curve: ``(step, reward)`` points in step order.

    Attributes:
        points: The points.
        key: The metric's name where it came from.
        source: ``wandb``, ...
    """

    points: tuple[tuple[float, float], ...]
    key: str
    source: str


class MetricsUnavailable(RuntimeError):
    """Metrics cannot be read here at all (a package is missing): the message says what to install."""


class MetricsSource(Protocol):
    """Anything :func:`watch_job` can ask for the reward curve so far."""

    def fetch(self) -> RewardSeries | None:
        """The curve so far, or ``None`` when there is nothing yet (the run has not started logging)."""


class WandbHistory:
    """The reward history of the job's Weights & Biases run, through W&B's public API.

    Needs the ``wandb`` package (not a dependency of svgkit: ``pip install wandb``), imported
    only when :meth:`fetch` first runs, and ``WANDB_API_KEY`` (or ``api_key``). Which key
    Fireworks logs the reward under is not documented: the first of ``keys`` present in the
    run's history is used, else the first key containing "reward".

    Args:
        project: The W&B project.
        run_id: The run (the spec sets it to the job id).
        entity: The W&B team or user (default: the key's own).
        keys: Metric names to try, in order.
        api_key: The W&B key (default ``WANDB_API_KEY``).
    """

    source = "wandb"

    def __init__(self, *, project: str, run_id: str, entity: str | None = None,
                 keys: Sequence[str] = RFT.wandb_reward_keys, api_key: str | Secret | None = None) -> None:
        self.project, self.run_id, self.entity, self.keys = project, run_id, entity, tuple(keys)
        self._key = api_key if isinstance(api_key, Secret) else Secret(api_key)
        self._api: Any = None

    @property
    def path(self) -> str:
        """``entity/project/run_id`` (``project/run_id`` without an entity)."""
        return "/".join(p for p in (self.entity, self.project, self.run_id) if p)

    def fetch(self) -> RewardSeries | None:
        """The reward curve so far; ``None`` while the run does not exist or logs no reward yet.

        Raises:
            MetricsUnavailable: The ``wandb`` package is not installed.
        """
        if self._api is None:
            try:
                import wandb
            except ImportError:
                raise MetricsUnavailable("the wandb package is not installed, so the reward curve cannot be read "
                                         "here: pip install wandb (in this environment) and rerun, or open the "
                                         "job's dashboard page") from None
            self._api = wandb.Api(api_key=self._key.get()) if self._key else wandb.Api()
        try:
            run = self._api.run(self.path)
            history = run.history(samples=2000, pandas=False)
        except Exception:  # the run does not exist yet (the job is still pending), or W&B is unreachable
            return None
        rows = [h for h in history or () if isinstance(h, dict)]
        names = {k for h in rows for k in h}
        key = next((k for k in self.keys if k in names), None) or next(
            (k for k in sorted(names) if "reward" in k.lower()), None)
        if key is None:
            return None
        points = sorted((float(h.get("_step", i)), float(h[key])) for i, h in enumerate(rows)
                        if isinstance(h.get(key), int | float))
        return RewardSeries(tuple(points), key, self.source)


def metrics_source(spec: RftJobSpec, job_id: str) -> MetricsSource | None:
    """Where the reward curve of job ``job_id`` can be read: its W&B run when the spec logs to W&B."""
    if spec.wandb is None:
        return None
    return WandbHistory(project=spec.wandb.project, entity=spec.wandb.entity, run_id=spec.wandb.run_id or job_id)


def reward_curve_figure(series: RewardSeries, *, title: str = "Reward during training") -> PlotFigure:
    """The reward against the training step, with a moving average when there are enough points."""
    fig = PlotFigure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    xs, ys = [p[0] for p in series.points], [p[1] for p in series.points]
    ax.plot(xs, ys, color="#4C72B0", alpha=0.45, linewidth=1, marker="o", markersize=2, label=series.key)
    window = max(1, len(ys) // 10)
    if window > 1:
        smooth = [sum(ys[max(0, i - window + 1):i + 1]) / len(ys[max(0, i - window + 1):i + 1])
                  for i in range(len(ys))]
        ax.plot(xs, smooth, color="#C44E52", linewidth=2, label=f"moving average ({window} steps)")
    ax.set(xlabel="step", ylabel="reward", title=f"{title} ({series.source}: {series.key})")
    ax.legend(loc="lower right", fontsize=8)
    return fig


# --------------------------------------------------------------------------- failures
_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("quota", "credit", "billing", "resource_exhausted", "spend limit", "payment"),
     "the account ran out of quota, credits or spend limit: check billing on the dashboard, then launch again"),
    (("context", "too long", "max_output_tokens", "max tokens"),
     "a prompt plus max_output_tokens did not fit max_context_length: lower max_output_tokens or raise the context"),
    (("rollout", "reward", "judge", "timeout", "timed out", "secret", "api key", "api_key", "401"),
     "rollouts or their scoring failed: usually the evaluator's judge key is missing or rejected in the remote "
     "environment, or scoring is too slow; check the judge secret (notebook 03) and the job's logs on the dashboard"),
    (("evaluator",),
     "the evaluator was not usable (not ACTIVE, deleted or replaced while the job ran, or it crashed on every "
     "row): check it with notebook 03 (preflight and upload), then launch again"),
    (("dataset", "jsonl", "example_count"),
     "the dataset was refused (missing, not READY, or rows the evaluator cannot read): rerun the upload cell; "
     "notebook 01's rows pass svgkit.dataset.validate_rows"),
)


def explain_failure(job: RftJobInfo) -> str:
    """What usually causes a job to end the way ``job`` did, and what to do (``""`` for a success)."""
    if job.state in ("COMPLETED", "EARLY_STOPPED") or not job.terminal:
        return ""
    if job.state == "CANCELLED":
        return "The job was cancelled (from the cancel cell or the dashboard); launch again with NEW_JOB = True."
    if job.state == "EXPIRED":
        return ("The job expired: it waited too long for capacity or ran past its time limit. Launch again "
                "(NEW_JOB = True); a smaller job (fewer epochs or rows) finishes sooner.")
    text = f"{job.status_code} {job.status_message}".lower()
    for words, cause in _CAUSES:
        if any(w in text for w in words):
            return f"What usually causes this: {cause}."
    if job.status_code in ("INTERNAL", "UNAVAILABLE", "UNKNOWN"):
        return ("What usually causes this: a platform error, not your setup. Launch again; if it repeats, contact "
                "Fireworks support with the job id.")
    return "Read the job's status and logs on its dashboard page; fix what they name, then launch again."


# --------------------------------------------------------------------------- watching
@dataclass(frozen=True)
class Transition:
    """A state the job entered, and when (wall seconds since the watch began)."""

    state: str
    elapsed_s: float


@dataclass(frozen=True, repr=False)
class JobWatch(MarkdownView):
    """What :func:`watch_job` saw.

    Attributes:
        job: The job at the last poll.
        transitions: Every state seen, with when it was first seen.
        elapsed_s: Wall seconds watched.
        timed_out: The watch ended at its deadline with the job still running (rerun to resume).
        dashboard_url: The job's page on the Fireworks dashboard.
        rewards: The reward curve, when metrics are available.
        metrics_note: Why there is no curve (or what went wrong reading it).
        explanation: For a job that failed or expired: what usually causes it.
        rehearsal: Whether the job is on the local stand-in.
        speed: The rehearsal clock's speed (1 live).
    """

    job: RftJobInfo
    transitions: tuple[Transition, ...]
    elapsed_s: float
    timed_out: bool
    dashboard_url: str
    rewards: RewardSeries | None = None
    metrics_note: str = ""
    explanation: str = ""
    rehearsal: bool = False
    speed: float = 1.0

    def table(self) -> str:
        """Markdown: the outcome, the state transitions and the metrics."""
        job = self.job
        head = (f"Job `{job.id}` is still **{job.state}** after {self.elapsed_s:.0f} s of watching: it carries on; "
                "rerun this cell to keep watching." if self.timed_out else
                f"Job `{job.id}` ended **{job.state}** after {self.elapsed_s:.0f} s of watching.")
        lines = [head, ""]
        if job.status_message and job.state != "COMPLETED":
            lines += [f"Status message: `{job.status_message}` ({job.status_code or 'no code'})", ""]
        if self.explanation:
            lines += [self.explanation, ""]
        clock = (f" (rehearsal: wall seconds; the stand-in's clock ran {self.speed:g}x faster)" if self.rehearsal
                 else "")
        lines += [f"| state | first seen after{clock} |", "|---|---:|"]
        lines += [f"| {t.state} | {t.elapsed_s:.1f} s |" for t in self.transitions]
        lines.append("")
        progress = [f"{job.percent}%" if job.percent is not None else None,
                    f"epoch {min((job.epoch or 0) + 1, job.epochs)}/{job.epochs}" if job.epochs else None,
                    f"{job.processed_requests}/{job.total_requests} rollouts" if job.total_requests else None]
        lines.append("- progress: " + ", ".join(p for p in progress if p))
        if job.accelerator_seconds:
            used = ", ".join(f"{v:,.0f} s {k}" for k, v in job.accelerator_seconds.items())
            lines.append(f"- accelerator time: {used}" + (" (simulated)" if self.rehearsal else ""))
        if self.rewards is not None and self.rewards.points:
            first, last = self.rewards.points[0][1], self.rewards.points[-1][1]
            lines.append(f"- reward ({self.rewards.source} `{self.rewards.key}`): {first:.3f} at the first step, "
                         f"{last:.3f} at step {self.rewards.points[-1][0]:g} ({len(self.rewards.points)} points)")
        else:
            lines.append(f"- reward curve: {self.metrics_note or 'no metrics yet'}")
        where = " (the live page; this rehearsal's job is on the stand-in)" if self.rehearsal else ""
        lines.append(f"- dashboard: {self.dashboard_url}{where}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.table()

    def figure(self) -> PlotFigure | None:
        """The reward curve, when there is one."""
        return reward_curve_figure(self.rewards) if self.rewards is not None and self.rewards.points else None


def watch_job(session: "PlatformSession", *, job_id: str | None = None, state_file: Path | None = None,
              metrics: MetricsSource | None = None, timeout_s: float | None = None, progress: bool = True,
              live_plot: bool = True, on_poll: Callable[[RftJobInfo], None] | None = None) -> JobWatch:
    """Watch a job until it ends or ``timeout_s`` passes (the job is not affected either way).

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        job_id: The job (default: the one in the job state file).
        state_file: The job state file (default :func:`svgkit.rft.job_state_path`).
        metrics: Where the reward curve comes from (default: the recorded spec's W&B run, if any).
        timeout_s: Longest watch, in seconds on Fireworks (default :attr:`RftConfig.watch_timeout_s`
            live; the whole job's deadline in a rehearsal, whose clock runs faster).
        progress: Show a progress bar.
        live_plot: In Jupyter, draw the reward curve and redraw it as points arrive.
        on_poll: Called with the job at every poll (tests, custom displays).

    Raises:
        ValueError: No job id given and none recorded.
        svgkit.fireworks_api.ResourceNotFoundError: The job does not exist.
    """
    record = load_job_record(session, state_file=state_file)
    if job_id is None:
        if record is None:
            raise ValueError("no job to watch: launch one first (launch_job), or pass job_id=")
        job_id = record.job_id
    if metrics is None and record is not None and record.job_id == job_id:
        metrics = metrics_source(record.job_spec, job_id)
    live_timeout = timeout_s if timeout_s is not None else (
        PLATFORM.rft_job_timeout_s if session.rehearsal else RFT.watch_timeout_s)
    poll_s, deadline_s = session.wait_timing(live_timeout)
    url = dashboard_url("rft_job", job_id) if session.rehearsal else session.api.dashboard_url("rft_job", job_id)
    transitions: list[Transition] = []
    state: dict[str, Any] = {"job": None, "series": None, "note": "", "metrics": metrics}
    if metrics is None:
        state["note"] = ("none: a rehearsal trains nothing, so there are no metrics" if session.rehearsal else
                         "none here: fireworks-ai 1.2.30 has no per-step metrics endpoint for RFT jobs; set wandb in "
                         "the spec to draw it here, or open the dashboard")
    bar = _ProgressBar(progress, job_id)
    plot = _LivePlot(live_plot and metrics is not None)
    start = time.monotonic()

    def on_progress(p: Progress) -> None:
        if p.state != "?" and (not transitions or transitions[-1].state != p.state):
            transitions.append(Transition(p.state, p.elapsed_s))
        bar.update(p)

    def until(job: RftJobInfo) -> bool:
        state["job"] = job
        if on_poll is not None:
            on_poll(job)
        source = state["metrics"]
        if source is not None:
            try:
                series = source.fetch()
            except MetricsUnavailable as exc:
                state["metrics"], state["note"] = None, str(exc)
            else:
                if series is not None and series != state["series"]:
                    state["series"] = series
                    plot.update(series)
                elif series is None and state["series"] is None:
                    state["note"] = "no reward logged yet"
        return job.terminal

    timed_out = False
    try:
        job = session.api.wait_for_rft_job(job_id, poll_s=poll_s, timeout_s=deadline_s, on_progress=on_progress,
                                           until=until)
    except WaitTimeoutError:
        timed_out = True
        job = state["job"] or session.api.get_rft_job(job_id)
        if job is None:
            raise
    finally:
        bar.close()
    return JobWatch(job, tuple(transitions), time.monotonic() - start, timed_out, url, state["series"], state["note"],
                    explain_failure(job), session.rehearsal, session.speed)


class _ProgressBar:
    """Percent on a tqdm bar, with state, epoch and rollouts as its postfix."""

    def __init__(self, enabled: bool, job_id: str) -> None:
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=100, desc=f"RFT job {job_id}", unit="%",
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}]")

    def update(self, p: Progress) -> None:
        if self._bar is None:
            return
        if p.percent is not None:
            self._bar.n = min(100.0, max(0.0, float(p.percent)))
        self._bar.set_postfix_str(f"{p.state}" + (f" · {p.detail}" if p.detail else ""), refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@dataclass
class _LivePlot:
    """The reward curve in a Jupyter output that is redrawn in place (nothing outside Jupyter)."""

    enabled: bool
    _handle: Any = field(default=None, repr=False)

    def update(self, series: RewardSeries) -> None:
        if not self.enabled or not series.points:
            return
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        fig = reward_curve_figure(series, title="Reward so far")
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)

