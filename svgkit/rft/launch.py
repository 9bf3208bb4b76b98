"""Launch an RFT job once, find it again after a restart, cancel it, and find its output model.

The job id is written to a state file under ``outputs/rft/`` (:func:`svgkit.rft.job_state_path`)
*before* the create request is sent, with a job id chosen here, so that neither an interrupted
cell nor a kernel restart can launch a second job by accident:

- rerunning :func:`launch_job` reattaches to the recorded job (running or ended) instead of
  launching again; a new launch needs ``new_job=True``, and is refused while the recorded job
  still runs (cancel it first);
- a create request whose answer was lost (a timeout, a retried request answered 409) is
  recognised by its id and recorded as launched;
- a create request that failed (403: role or billing; 400: a refused setting) leaves the state
  file as it was.

Live, nothing is sent without the cell's opt-in (``allow=True``); rehearsals on the stand-in
always run. Every function takes the notebook's :class:`~svgkit.rehearsal.PlatformSession`.
"""

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..config import PLATFORM
from ..fireworks_api import ModelInfo, RequestRejectedError, RftJobInfo, WaitTimeoutError, dashboard_url
from .paths import job_state_path, shown_path
from .spec import RftJobSpec, check_spec
from .views import MarkdownView

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..rehearsal import PlatformSession

__all__ = [
    "CancelOutcome",
    "JobRecord",
    "LaunchOutcome",
    "LaunchRefused",
    "OutputModel",
    "cancel_job",
    "find_output_model",
    "launch_job",
    "load_job_record",
]


class LaunchRefused(RuntimeError):
    """The launch was not attempted: the message says what to do instead."""


@dataclass(frozen=True)
class JobRecord:
    """What the job state file says (no keys in it).

    Attributes:
        job_id: The job's id.
        account_id: The account it runs in.
        base_url: The control plane it was sent to.
        mode: ``live`` or ``rehearsal``.
        status: ``launching`` (written just before the create request) or ``launched``.
        launched_at: When (UTC, ISO 8601).
        spec: The spec it was launched with (:meth:`RftJobSpec.to_dict`).
    """

    job_id: str
    account_id: str
    base_url: str
    mode: str
    status: Literal["launching", "launched"]
    launched_at: str
    spec: dict[str, Any]

    def save(self, path: Path) -> None:
        """Write it atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "JobRecord | None":
        """The record in ``path``, or ``None`` when there is none.

        Raises:
            ValueError: The file is not a job record (it names the file).
        """
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: data[k] for k in ("job_id", "account_id", "base_url", "mode", "status",
                                               "launched_at", "spec")})
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{shown_path(path)} is not an svgkit job record ({exc}): move it away to start over"
                             ) from None

    @property
    def job_spec(self) -> RftJobSpec:
        """The spec it was launched with."""
        return RftJobSpec.from_dict(self.spec)


@dataclass(frozen=True, repr=False)
class LaunchOutcome(MarkdownView):
    """What :func:`launch_job` did.

    Attributes:
        action: ``launched``, ``reattached`` or ``planned`` (live without the opt-in: nothing sent).
        job_id: The job (``None`` when planned without an id).
        job: The job as the service reports it now (``None`` when planned).
        state_file: The job state file.
        message: What happened, in a sentence or two.
        dashboard_url: The job's page on the Fireworks dashboard.
        rehearsal: Whether the job is on the local stand-in.
    """

    action: Literal["launched", "reattached", "planned"]
    job_id: str | None
    job: RftJobInfo | None
    state_file: Path
    message: str
    dashboard_url: str
    rehearsal: bool

    def _repr_markdown_(self) -> str:
        lines = [self.message]
        if self.job is not None:
            where = " (the live page; this rehearsal's job is on the stand-in)" if self.rehearsal else ""
            lines += ["", f"- job: `{self.job.name}`, state **{self.job.state}**",
                      f"- state file: `{shown_path(self.state_file)}`",
                      f"- dashboard: {self.dashboard_url}{where}"]
        return "\n".join(lines)


def load_job_record(session: "PlatformSession", *, state_file: Path | None = None) -> JobRecord | None:
    """The job recorded for this session's mode (``None`` when nothing was launched yet)."""
    return JobRecord.load(state_file or job_state_path(session))


def launch_job(session: "PlatformSession", spec: RftJobSpec, *, allow: bool,
               rows: "Sequence[Mapping[str, Any]] | None" = None, new_job: bool = False,
               state_file: Path | None = None, wandb_api_key: str | None = None) -> LaunchOutcome:
    """Launch the job ``spec`` describes, or reattach to the one already recorded.

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        spec: The job spec (checked with :func:`check_spec` before anything is sent).
        allow: The cell's opt-in; live, without it nothing is sent. Rehearsals always run.
        rows: The training rows, for the checks (default: the dataset's row count).
        new_job: Launch a new job even though one is recorded (it must have ended).
        state_file: The job state file (default :func:`job_state_path`).
        wandb_api_key: The W&B key (default ``WANDB_API_KEY``) when ``spec.wandb`` is set.

    Raises:
        SpecError: The spec would fail or learn nothing; the message says what to change.
        LaunchRefused: The recorded job belongs to another account, has vanished (live), or
            still runs while ``new_job`` asks for another.
        svgkit.fireworks_api.FireworksApiError: The service refused the job (403: role or billing, ...).
    """
    path = state_file or job_state_path(session)
    api = session.api
    where = "the stand-in" if session.rehearsal else "Fireworks"
    record = JobRecord.load(path)
    previous = path.read_bytes() if path.is_file() else None
    if record is not None:
        if record.account_id != api.account_id and not new_job:
            raise LaunchRefused(f"{shown_path(path)} records job {record.job_id} in account {record.account_id}, but "
                                f"this session is account {api.account_id}: pass new_job=True to launch here anyway")
        job = api.get_rft_job(record.job_id) if record.account_id == api.account_id else None
        if job is not None and not new_job:
            ended = (f" It has ended ({job.state}); to launch another job set NEW_JOB = True (with a new output_model)."
                     if job.terminal else " Nothing new was launched.")
            return LaunchOutcome("reattached", job.id, job, path,
                                 f"Reattached to job `{job.id}` on {where} (recorded in `{shown_path(path)}` at "
                                 f"{record.launched_at}): it is {job.state}.{ended}", _link(session, job.id),
                                 session.rehearsal)
        if job is not None and not job.terminal:
            raise LaunchRefused(f"job {job.id} is still {job.state}: cancel it first (the cancel cell), then launch "
                                "again; two jobs at once cost twice")
        if job is None and not new_job and not session.rehearsal and record.status == "launched":
            raise LaunchRefused(f"{shown_path(path)} records job {record.job_id}, which no longer exists on Fireworks "
                                "(deleted?): set NEW_JOB = True to launch a new one")
    check_spec(spec, rows=rows, session=session, launching=True).raise_if_failed()
    job_id = spec.job_id if spec.job_id and (record is None or record.job_id != spec.job_id) else _new_job_id()
    if not session.rehearsal and not allow:
        return LaunchOutcome("planned", job_id, None, path,
                             f"Ready to launch job `{job_id}` on Fireworks (checks passed): set LAUNCH = True in this "
                             "cell to launch it.", _link(session, job_id), False)
    intent = JobRecord(job_id, api.account_id, api.base_url, session.mode, "launching",
                       datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), spec.to_dict())
    intent.save(path)
    try:
        job = _create(session, spec, job_id, wandb_api_key)
    except BaseException:
        try:
            created = api.get_rft_job(job_id) is not None
        except Exception:  # cannot tell: keep the "launching" record, the next run looks again
            created = None
        if created is False:  # nothing was created: leave the state file as it was
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(previous)
        elif created:
            JobRecord(**{**asdict(intent), "status": "launched"}).save(path)
        raise
    JobRecord(**{**asdict(intent), "status": "launched"}).save(path)
    note = (" (a rehearsal on the stand-in: nothing is billed and nothing is trained; live, this cell needs "
            "LAUNCH = True)") if session.rehearsal else ""
    return LaunchOutcome("launched", job.id, job, path, f"Launched job `{job.id}` on {where}{note}; its id is "
                         f"recorded in `{shown_path(path)}`, so rerunning this cell reattaches to it.",
                         _link(session, job.id), session.rehearsal)


def _create(session: "PlatformSession", spec: RftJobSpec, job_id: str, wandb_api_key: str | None) -> RftJobInfo:
    api = session.api
    key = wandb_api_key or (os.environ.get("WANDB_API_KEY") if spec.wandb is not None else None)
    kw = spec.sdk_kwargs(account_id=api.account_id, job_id=job_id, wandb_api_key=key)
    try:
        return api.create_rft_job(dataset=kw.pop("dataset"), evaluator=kw.pop("evaluator"),
                                  training_config=kw.pop("training_config"),
                                  job_id=kw.pop("reinforcement_fine_tuning_job_id"), **kw)
    except RequestRejectedError as exc:
        if exc.status == 409:  # an earlier attempt of this very request got through
            job = api.get_rft_job(job_id)
            if job is not None:
                return job
        raise


def _new_job_id() -> str:
    return f"svgkit-rft-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def _link(session: "PlatformSession", job_id: str) -> str:
    """The job's dashboard page on Fireworks (a rehearsal shows the live address, not the stand-in's port)."""
    return dashboard_url("rft_job", job_id) if session.rehearsal else session.api.dashboard_url("rft_job", job_id)


# --------------------------------------------------------------------------- cancel
@dataclass(frozen=True, repr=False)
class CancelOutcome(MarkdownView):
    """What :func:`cancel_job` did.

    Attributes:
        action: ``cancelled``, ``nothing to cancel`` or ``planned`` (the opt-in is off).
        job: The job now (``None`` when there is none).
        message: One sentence for the notebook.
    """

    action: Literal["cancelled", "nothing to cancel", "planned"]
    job: RftJobInfo | None
    message: str

    def _repr_markdown_(self) -> str:
        return self.message


def cancel_job(session: "PlatformSession", *, allow: bool, state_file: Path | None = None,
               wait: bool = True) -> CancelOutcome:
    """Cancel the recorded job; safe to rerun (an ended or missing job is left alone).

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        allow: The cell's opt-in (``CANCEL = True``), in rehearsals too: a cancelled job cannot resume.
        state_file: The job state file (default :func:`job_state_path`).
        wait: Wait (with a deadline) until the job reports CANCELLED.
    """
    path = state_file or job_state_path(session)
    record = JobRecord.load(path)
    where = "the stand-in" if session.rehearsal else "Fireworks"
    if record is None:
        return CancelOutcome("nothing to cancel", None, f"No job is recorded in `{shown_path(path)}`: nothing to "
                             "cancel.")
    api = session.api
    job = api.get_rft_job(record.job_id)
    if job is None:
        return CancelOutcome("nothing to cancel", None, f"Job `{record.job_id}` does not exist on {where}: nothing "
                             "to cancel.")
    if job.terminal or job.state == "CANCELLING":
        return CancelOutcome("nothing to cancel", job, f"Job `{job.id}` is already {job.state}: nothing to cancel.")
    if not allow:
        return CancelOutcome("planned", job, f"Job `{job.id}` is {job.state} on {where}: set CANCEL = True in this "
                             "cell to cancel it (it cannot be resumed, and its LoRA is not written).")
    job = api.cancel_rft_job(job.id)
    if wait:
        poll_s, timeout_s = session.wait_timing(PLATFORM.request_timeout_s * 10)
        try:
            job = api.wait_for_rft_job(job.id, poll_s=poll_s, timeout_s=timeout_s)
        except WaitTimeoutError:
            job = api.get_rft_job(job.id) or job
    return CancelOutcome("cancelled", job, f"Cancelled job `{job.id}` on {where}: it is {job.state}.")


# --------------------------------------------------------------------------- output model
@dataclass(frozen=True, repr=False)
class OutputModel(MarkdownView):
    """The model a finished job wrote, or why there is none yet.

    Attributes:
        job: The job (``None`` when none is recorded).
        model: The LoRA model (``None`` until the job has succeeded).
        message: One sentence for the notebook.
    """

    job: RftJobInfo | None
    model: ModelInfo | None
    message: str

    @property
    def ready(self) -> bool:
        """Whether the model exists and is READY (notebook 05 can deploy it)."""
        return self.model is not None and self.model.state == "READY"

    def _repr_markdown_(self) -> str:
        return self.message


def find_output_model(session: "PlatformSession", *, state_file: Path | None = None) -> OutputModel:
    """The output model of the recorded job, once it has COMPLETED (or stopped early)."""
    path = state_file or job_state_path(session)
    record = JobRecord.load(path)
    if record is None:
        return OutputModel(None, None, f"No job is recorded in `{shown_path(path)}`: launch one first.")
    job = session.api.get_rft_job(record.job_id)
    if job is None:
        return OutputModel(None, None, f"Job `{record.job_id}` no longer exists: there is no output model.")
    if not job.succeeded:
        why = ("rerun this cell when it has completed" if not job.terminal
               else "it wrote no model; see the monitoring cell for why")
        return OutputModel(job, None, f"Job `{job.id}` is {job.state}: {why}.")
    model = session.api.get_model(job.output_model)
    if model is None:
        return OutputModel(job, None, f"Job `{job.id}` is {job.state}, but its output model `{job.output_model}` is "
                           "not there yet: rerun this cell in a minute.")
    kind = f"a LoRA (rank {_rank(record)}) on `{model.base_model}`" if model.kind == "HF_PEFT_ADDON" else model.kind
    note = " (a stand-in placeholder: nothing was trained)" if session.rehearsal else ""
    return OutputModel(job, model, f"Job `{job.id}` {job.state}: its output model is `{model.name}`, {kind}, "
                       f"{model.state}{note}. Notebook 05 serves it on a deployment and compares it with the base "
                       "model.")


def _rank(record: JobRecord) -> int:
    return int(record.spec.get("lora_rank") or 0)
