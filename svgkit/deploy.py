"""Serve a model for chat completions on a Fireworks on-demand deployment, and delete it again.

Fireworks serves a LoRA output of RFT only on an on-demand deployment ("live merge": the
deployment's base model is the LoRA model itself), billed per GPU-second while it is up. The
base model needs one too when the account cannot call it serverless. Notebook 05 uses:

- :func:`plan_serving`: what a deployment of a model would be and cost per hour (nothing sent);
- :func:`serve_model`: create the deployment behind an explicit opt-in (``allow=True``; a
  rehearsal on the stand-in always runs), wait for READY with a deadline and a progress bar, and
  return a :class:`ServedModel` whose :attr:`~ServedModel.inference_model` goes into chat
  completions. Rerunning it reuses the deployment instead of making a second one;
- :func:`serve_base_model`: the base model serverless when Fireworks serves it so, else the same;
- :func:`cleanup_deployments`: delete every deployment svgkit made (safe to rerun), or keep them
  and say what that costs.

Every deployment is recorded in a state file under ``outputs/deploy/`` *before* its create
request is sent, and its id is derived from the model (``svgkit-serve-<purpose>-<hash>``), so
neither a lost answer nor a kernel restart leaves a billed deployment that cleanup cannot find.
Prices come from :data:`svgkit.config.GPU_PRICES` (unverified figures: the source says so).
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .config import DEPLOYMENT, GPU_PRICES, MODELS, PLATFORM, GpuPrice, output_path
from .fireworks_api import DeploymentInfo, Progress, RequestRejectedError, WaitTimeoutError, dashboard_url
from .rft.paths import shown_path
from .rft.views import MarkdownView

if TYPE_CHECKING:
    from .rehearsal import PlatformSession
    from .rft.launch import OutputModel

__all__ = [
    "CleanupOutcome",
    "DeploymentRecord",
    "Purpose",
    "ServedModel",
    "ServingPlan",
    "cleanup_deployments",
    "deployment_id_for",
    "deployment_state_path",
    "hourly_price",
    "plan_serving",
    "serve_base_model",
    "serve_model",
    "serve_output_model",
]

#: What a deployment serves: the RFT output model or the base model.
Purpose = Literal["tuned", "base"]
_LIVE_STATES = ("CREATING", "READY", "UPDATING")
_GONE_STATES = ("DELETING", "DELETED")


# --------------------------------------------------------------------------- prices and plans
def hourly_price(accelerator_type: str, accelerator_count: int = 1) -> tuple[float | None, GpuPrice | None]:
    """US dollars per hour of ``accelerator_count`` GPUs of ``accelerator_type``, and the fact it comes from.

    ``(None, None)`` when :data:`svgkit.config.GPU_PRICES` has no price for that GPU (unknown, not free).
    """
    price = GPU_PRICES.get(accelerator_type)
    return (None, None) if price is None else (price.usd_per_hour * accelerator_count, price)


def _usd(value: float | None) -> str:
    return "an unknown amount" if value is None else f"${value:,.2f}"


def deployment_id_for(model: str, purpose: str) -> str:
    """The deployment id svgkit uses for ``model``: ``svgkit-serve-<purpose>-<8 hex digits of its name>``."""
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{DEPLOYMENT.id_prefix}-{purpose}-{digest}"


@dataclass(frozen=True, repr=False)
class ServingPlan(MarkdownView):
    """What serving a model on a deployment would be, before anything is sent.

    Attributes:
        purpose: ``tuned`` (the RFT output) or ``base``.
        model: The model's full name (``accounts/<acct>/models/<id>``).
        deployment_id: The id the deployment gets.
        accelerator_type: GPU type.
        accelerator_count: GPUs per replica.
        replicas: Replicas kept up.
        usd_per_hour: What it costs per hour while it is up (``None``: no price in config).
        price: The price fact and its source.
        rehearsal: Whether it would go to the local stand-in.
    """

    purpose: str
    model: str
    deployment_id: str
    accelerator_type: str
    accelerator_count: int
    replicas: int
    usd_per_hour: float | None
    price: GpuPrice | None
    rehearsal: bool

    @property
    def usd_per_day(self) -> float | None:
        """What leaving it up for 24 hours costs."""
        return None if self.usd_per_hour is None else self.usd_per_hour * 24

    def price_note(self) -> str:
        """Where the hourly price comes from, and whether it was verified."""
        if self.price is None:
            return (f"no price for {self.accelerator_type} in svgkit.config.GPU_PRICES: look it up on "
                    f"{'https://fireworks.ai/pricing'} before you deploy")
        checked = "verified" if self.price.verified else "unverified: check https://fireworks.ai/pricing"
        return f"{self.price.source}; checked {self.price.checked}; {checked}"

    def _repr_markdown_(self) -> str:
        where = ("a rehearsal on the local stand-in: nothing is billed" if self.rehearsal
                 else "Fireworks: billed per GPU-second from the moment it starts until it is deleted")
        gpus = f"{self.replicas} x {self.accelerator_count} x {self.accelerator_type}"
        return "\n".join([
            f"Serving the {self.purpose} model `{self.model}` needs an on-demand deployment `{self.deployment_id}` "
            f"({gpus}) on {where}.",
            "",
            f"- price: **{_usd(self.usd_per_hour)} per hour** ({_usd(self.usd_per_day)} a day) while it is up",
            f"- source of the price: {self.price_note()}",
            "- the cleanup cell at the end of the notebook deletes it (safe to rerun)",
        ])


def plan_serving(session: "PlatformSession", model: str, *, purpose: Purpose = "tuned",
                 accelerator_type: str | None = None, accelerator_count: int | None = None) -> ServingPlan:
    """What a deployment of ``model`` would be and cost per hour; nothing is sent.

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        model: A model id in the session's account, or a full name (``accounts/fireworks/models/...``).
        purpose: ``tuned`` or ``base`` (part of the deployment id).
        accelerator_type: GPU type (default :attr:`svgkit.config.DeploymentConfig.accelerator_type`).
        accelerator_count: GPUs per replica (default from config).
    """
    full = model if model.startswith("accounts/") else f"accounts/{session.api.account_id}/models/{model}"
    gpu = accelerator_type or DEPLOYMENT.accelerator_type
    count = accelerator_count or DEPLOYMENT.accelerator_count
    per_replica, price = hourly_price(gpu, count)
    replicas = max(1, DEPLOYMENT.min_replica_count)
    total = None if per_replica is None else per_replica * replicas
    return ServingPlan(purpose, full, deployment_id_for(full, purpose), gpu, count, replicas, total, price,
                       session.rehearsal)


# --------------------------------------------------------------------------- the state file
@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment svgkit made, as the state file keeps it (no keys).

    Attributes:
        deployment_id: The deployment's id.
        model: The model it serves.
        purpose: ``tuned`` or ``base``.
        account_id: The account it is in.
        mode: ``live`` or ``rehearsal``.
        created_at: When the create request was sent (UTC, ISO 8601).
        accelerator_type: GPU type.
        accelerator_count: GPUs per replica.
        usd_per_hour: Its hourly price when it was made (``None``: unknown).
    """

    deployment_id: str
    model: str
    purpose: str
    account_id: str
    mode: str
    created_at: str
    accelerator_type: str
    accelerator_count: int
    usd_per_hour: float | None


def deployment_state_path(session: "PlatformSession") -> Path:
    """``outputs/deploy/deployments-live.json`` or ``...-rehearsal.json``: one file per mode."""
    return output_path(f"{DEPLOYMENT.state_dir}/deployments-{session.mode}.json")


def _load(path: Path) -> dict[str, DeploymentRecord]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: DeploymentRecord(**v) for k, v in data["deployments"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{shown_path(path)} is not an svgkit deployment record ({exc}): delete the deployments it "
                         "named on the dashboard, then move the file away") from None


def _save(path: Path, records: dict[str, DeploymentRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    body = {"deployments": {k: asdict(v) for k, v in sorted(records.items())}}
    tmp.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- serving
@dataclass(frozen=True, repr=False)
class ServedModel(MarkdownView):
    """A model and where to send chat completions for it, or why that is not possible yet.

    Attributes:
        purpose: ``tuned`` or ``base``.
        model: The model.
        how: ``deployment`` (on an on-demand deployment), ``serverless``, ``planned`` (live without
            the opt-in: nothing sent), ``failed`` (the deployment FAILED), ``waiting`` (not READY
            by the deadline: rerun the cell) or ``unavailable`` (there is no model to serve yet).
        inference_model: The ``model`` of chat completions (``<model>#<deployment>``), when it serves.
        base_url: The OpenAI-compatible endpoint (Fireworks' inference API).
        deployment: The deployment as last seen.
        plan: What it costs.
        message: What happened, in a sentence or two.
        rehearsal: Whether the deployment is on the local stand-in (which serves no answers).
    """

    purpose: str
    model: str
    how: Literal["deployment", "serverless", "planned", "failed", "waiting", "unavailable"]
    inference_model: str | None
    base_url: str
    deployment: DeploymentInfo | None
    plan: ServingPlan | None
    message: str
    rehearsal: bool

    @property
    def ready(self) -> bool:
        """Whether the model serves requests now (on the stand-in: the deployment is READY)."""
        return self.how == "serverless" or (self.how == "deployment" and self.deployment is not None
                                            and self.deployment.ready)

    @property
    def answers(self) -> bool:
        """Whether chat completions sent to :attr:`inference_model` get answers (never in a rehearsal)."""
        return self.ready and not self.rehearsal

    def _repr_markdown_(self) -> str:
        lines = [self.message]
        if self.deployment is not None:
            where = " (the live page; this rehearsal's deployment is on the stand-in)" if self.rehearsal else ""
            lines += ["", f"- deployment: `{self.deployment.name}`, state **{self.deployment.state}**",
                      f"- dashboard: {dashboard_url('deployment', self.deployment.id)}{where}"]
        if self.inference_model and self.ready:
            lines.append(f"- chat completions: `model={self.inference_model}`")
        return "\n".join(lines)


def serve_model(session: "PlatformSession", model: str, *, allow: bool, purpose: Purpose = "tuned",
                wait: bool = True, timeout_s: float | None = None, progress: bool = True,
                accelerator_type: str | None = None, accelerator_count: int | None = None,
                state_file: Path | None = None,
                on_progress: Callable[[Progress], None] | None = None) -> ServedModel:
    """Serve ``model`` on an on-demand deployment: create it (once), then wait until it is READY.

    A deployment already made for this model (recorded, or found by its id) is reused, so rerunning
    the cell never makes a second one. Live, nothing is created without ``allow=True``: the result
    is then ``planned`` and says what it would cost. Rehearsals on the stand-in always run.

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        model: The model (an id in the session's account, or a full name).
        allow: The cell's opt-in (``DEPLOY = True``); live, without it nothing is sent.
        purpose: ``tuned`` or ``base``.
        wait: Wait for READY (with a deadline; see ``timeout_s``).
        timeout_s: Longest wait on Fireworks (default :attr:`PlatformConfig.deployment_ready_timeout_s
            <svgkit.config.PlatformConfig>`; shorter in a rehearsal, whose clock runs faster).
        progress: Show a progress bar while waiting.
        accelerator_type: GPU type (default from config).
        accelerator_count: GPUs per replica (default from config).
        state_file: The deployment state file (default :func:`deployment_state_path`).
        on_progress: Called at every poll of the wait (tests, custom displays).

    Raises:
        svgkit.fireworks_api.FireworksApiError: The service refused (403: role or billing; 404: no such
            model); nothing is left recorded for a create that did not land.
    """
    plan = plan_serving(session, model, purpose=purpose, accelerator_type=accelerator_type,
                        accelerator_count=accelerator_count)
    api = session.api
    path = state_file or deployment_state_path(session)
    where = "the stand-in" if session.rehearsal else "Fireworks"
    dep = api.get_deployment(plan.deployment_id)
    if dep is not None and dep.state in _GONE_STATES:
        return _served(plan, "waiting", dep, session, f"Deployment `{dep.id}` is still being deleted on {where}: rerun "
                       "this cell in a minute to create it again.")
    if dep is None:
        if not session.rehearsal and not allow:
            return _served(plan, "planned", None, session,
                           f"Ready to serve `{plan.model}` on a new deployment `{plan.deployment_id}`: "
                           f"{_usd(plan.usd_per_hour)} per hour until it is deleted. Set DEPLOY = True in this cell "
                           "to create it.")
        dep = _create(session, plan, path)
        action = f"Created deployment `{dep.id}` on {where}"
    else:
        records = _load(path)
        if plan.deployment_id not in records:  # made by an earlier run whose record was lost: adopt it
            records[plan.deployment_id] = _record(session, plan)
            _save(path, records)
        action = f"Reusing deployment `{dep.id}` on {where} (nothing new was created)"
    if wait and dep.state not in ("READY", "FAILED"):
        dep, timed_out = _wait(session, plan.deployment_id, timeout_s=timeout_s, progress=progress,
                               on_progress=on_progress)
        if timed_out:
            return _served(plan, "waiting", dep, session,
                           f"{action}; it is still {dep.state} after the wait and is billed while it comes up: "
                           "rerun this cell to keep waiting, or run the cleanup cell to delete it.")
    if dep.state == "FAILED":
        said = f" ({dep.status_message})" if dep.status_message else ""
        return _served(plan, "failed", dep, session,
                       f"{action}, but it FAILED{said}: run the cleanup cell to delete it, then try again (another "
                       "accelerator_type, or check the account's GPU quota).")
    cost = ("a rehearsal: nothing is billed" if session.rehearsal
            else f"{_usd(plan.usd_per_hour)} per hour until the cleanup cell deletes it")
    status = "it is READY" if dep.ready else f"it is {dep.state}"
    return _served(plan, "deployment", dep, session, f"{action}: {status} ({cost}).")


def _served(plan: ServingPlan, how: str, dep: DeploymentInfo | None, session: "PlatformSession",
            message: str) -> ServedModel:
    inference = dep.inference_model if dep is not None else None
    return ServedModel(plan.purpose, plan.model, how, inference, MODELS.fireworks_base_url, dep, plan,  # type: ignore[arg-type]
                       message, session.rehearsal)


def _record(session: "PlatformSession", plan: ServingPlan) -> DeploymentRecord:
    return DeploymentRecord(plan.deployment_id, plan.model, plan.purpose, session.api.account_id, session.mode,
                            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), plan.accelerator_type,
                            plan.accelerator_count, plan.usd_per_hour)


def _create(session: "PlatformSession", plan: ServingPlan, path: Path) -> DeploymentInfo:
    """Record, then create; a create that did not land is unrecorded again, one that did is kept."""
    api = session.api
    records = _load(path)
    previous = path.read_bytes() if path.is_file() else None
    records[plan.deployment_id] = _record(session, plan)
    _save(path, records)
    options: dict[str, Any] = {"display_name": f"svgkit {plan.purpose} model"}
    try:
        return api.create_deployment(plan.model, deployment_id=plan.deployment_id,
                                     accelerator_type=plan.accelerator_type,
                                     accelerator_count=plan.accelerator_count,
                                     min_replica_count=DEPLOYMENT.min_replica_count,
                                     max_replica_count=DEPLOYMENT.max_replica_count, **options)
    except RequestRejectedError as exc:
        if exc.status == 409:  # an earlier attempt of this very request got through
            dep = api.get_deployment(plan.deployment_id)
            if dep is not None:
                return dep
        _forget_unless_created(session, plan.deployment_id, path, previous)
        raise
    except BaseException:
        _forget_unless_created(session, plan.deployment_id, path, previous)
        raise


def _forget_unless_created(session: "PlatformSession", deployment_id: str, path: Path,
                           previous: bytes | None) -> None:
    """Put the state file back as it was when nothing was created; keep the record when in doubt."""
    try:
        created = session.api.get_deployment(deployment_id) is not None
    except Exception:  # cannot tell: keep the record, so cleanup looks again
        return
    if created:
        return
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(previous)


def _wait(session: "PlatformSession", deployment_id: str, *, timeout_s: float | None, progress: bool,
          on_progress: Callable[[Progress], None] | None) -> tuple[DeploymentInfo, bool]:
    poll_s, deadline_s = session.wait_timing(timeout_s if timeout_s is not None
                                             else PLATFORM.deployment_ready_timeout_s)
    bar = _StateBar(progress, deployment_id)

    def seen(p: Progress) -> None:
        bar.update(p)
        if on_progress is not None:
            on_progress(p)

    try:
        return session.api.wait_for_deployment(deployment_id, poll_s=poll_s, timeout_s=deadline_s,
                                               on_progress=seen), False
    except WaitTimeoutError:
        dep = session.api.get_deployment(deployment_id)
        if dep is None:
            raise
        return dep, True
    finally:
        bar.close()


class _StateBar:
    """A tqdm bar with the deployment's state; it fills when the wait is over (deployments report no percent)."""

    def __init__(self, enabled: bool, deployment_id: str) -> None:
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=1, desc=f"deployment {deployment_id}")

    def update(self, p: Progress) -> None:
        if self._bar is not None:
            if p.state in ("READY", "FAILED") and self._bar.n < 1:
                self._bar.update(1)  # the wait is over: the bar ends full (and is saved so in notebooks)
            self._bar.set_postfix_str(p.state + (f" · {p.detail}" if p.detail else ""), refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def serve_output_model(session: "PlatformSession", output: "OutputModel", *, allow: bool,
                       **options: Any) -> ServedModel:
    """Serve the RFT job's output model (:func:`svgkit.rft.find_output_model`) with :func:`serve_model`.

    When the job has written no model yet (none launched, still running, failed), nothing is sent
    and the result is ``unavailable`` with the job's own explanation.

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        output: From :func:`svgkit.rft.find_output_model`.
        allow: The cell's opt-in for the deployment.
        options: Passed on to :func:`serve_model`.
    """
    if output.model is None or not output.ready:
        return ServedModel("tuned", output.model.name if output.model else "", "unavailable", None,
                           MODELS.fireworks_base_url, None, None, f"Nothing to serve yet. {output.message}",
                           session.rehearsal)
    return serve_model(session, output.model.name, allow=allow, purpose="tuned", **options)


def serve_base_model(session: "PlatformSession", *, allow: bool, model: str = MODELS.training_base,
                     serverless: bool | None = None, **options: Any) -> ServedModel:
    """The base model: serverless where Fireworks serves it so, else on a deployment (:func:`serve_model`).

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        allow: The cell's opt-in for a deployment.
        model: The base model (default the model RFT trained).
        serverless: ``True``: call it serverless; ``False``: always deploy it; ``None``: ask Fireworks
            (the model's ``supportsServerless``); when it does not say, deploy it.
        options: Passed on to :func:`serve_model`.
    """
    if serverless is None:
        info = session.api.get_model(model)
        serverless = bool(info is not None and info.supports_serverless)
        said = ("Fireworks says it has no serverless deployment" if info is not None and
                info.supports_serverless is False else "the service does not say whether it is serverless")
    else:
        said = "as asked"
    if serverless:
        where = " (on the stand-in there is no model to call)" if session.rehearsal else ""
        return ServedModel("base", model, "serverless", model, MODELS.fireworks_base_url, None, None,
                           f"The base model `{model}` is called serverless{where}: no deployment needed.",
                           session.rehearsal)
    served = serve_model(session, model, allow=allow, purpose="base", **options)
    note = f"The base model `{model}` needs a deployment ({said}). "
    return ServedModel(served.purpose, served.model, served.how, served.inference_model, served.base_url,
                       served.deployment, served.plan, note + served.message, served.rehearsal)


# --------------------------------------------------------------------------- cleanup
@dataclass(frozen=True, repr=False)
class CleanupOutcome(MarkdownView):
    """What :func:`cleanup_deployments` did.

    Attributes:
        deleted: Deployments deleted now (billing stops).
        already_gone: Recorded deployments that no longer existed.
        kept: Deployments left up on purpose, with their hourly price.
        rehearsal: Whether this was on the stand-in.
    """

    deleted: tuple[str, ...]
    already_gone: tuple[str, ...]
    kept: tuple[tuple[str, float | None], ...]
    rehearsal: bool

    @property
    def usd_per_hour_kept(self) -> float | None:
        """What the deployments left up cost per hour together (``None``: a price is unknown)."""
        prices = [p for _, p in self.kept]
        return None if any(p is None for p in prices) else sum(p for p in prices if p is not None)

    def _repr_markdown_(self) -> str:
        where = "the stand-in" if self.rehearsal else "Fireworks"
        lines = []
        if self.deleted:
            lines.append(f"Deleted on {where}: {', '.join(f'`{d}`' for d in self.deleted)} (billing stops).")
        if self.already_gone:
            lines.append(f"Already gone: {', '.join(f'`{d}`' for d in self.already_gone)}.")
        if self.kept:
            hourly = self.usd_per_hour_kept
            per_day = None if hourly is None else hourly * 24
            bill = "nothing (a rehearsal)" if self.rehearsal else f"{_usd(hourly)} per hour ({_usd(per_day)} a day)"
            lines.append(f"Kept on purpose: {', '.join(f'`{d}`' for d, _ in self.kept)}. Leaving them up costs {bill} "
                         "until they are deleted: set KEEP_DEPLOYMENTS = False and rerun this cell.")
        if not lines:
            lines.append(f"No svgkit deployment on {where}: nothing to delete, nothing is billed.")
        return "\n\n".join(lines)


def cleanup_deployments(session: "PlatformSession", *, keep: bool = False,
                        state_file: Path | None = None) -> CleanupOutcome:
    """Delete every deployment svgkit made in this account (recorded, or named with its prefix); safe to rerun.

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        keep: Leave them up (to use them after the notebook) and say what that costs per hour.
        state_file: The deployment state file (default :func:`deployment_state_path`).
    """
    path = state_file or deployment_state_path(session)
    records = _load(path)
    api = session.api
    listed = {d.id: d for d in api.list_deployments() if d.id.startswith(f"{DEPLOYMENT.id_prefix}-")
              and d.state not in _GONE_STATES}
    ids = sorted(set(records) | set(listed))
    deleted, gone, kept = [], [], []
    for rid in ids:
        dep = listed.get(rid) or api.get_deployment(rid)
        if dep is None or dep.state in _GONE_STATES:
            gone.append(rid)
            records.pop(rid, None)
            continue
        if keep:
            record = records.get(rid)
            price = record.usd_per_hour if record is not None else hourly_price(
                dep.accelerator_type, dep.accelerator_count or 1)[0]
            kept.append((rid, price))
            continue
        if api.delete_deployment(rid):
            deleted.append(rid)
        else:
            gone.append(rid)
        records.pop(rid, None)
    if path.is_file() or records:
        _save(path, records)
    return CleanupOutcome(tuple(deleted), tuple(gone), tuple(kept), session.rehearsal)
