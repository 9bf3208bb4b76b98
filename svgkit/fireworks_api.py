"""Talk to the Fireworks control plane (live, or svgkit's local stand-in) through the real clients.

Notebooks 03-05 do everything that leaves the machine through one :class:`FireworksApi`, built
by :func:`connect`: the account lookup, the judge's secret, datasets, the evaluator, RFT jobs,
deployments and models. Calls go through the ``fireworks`` SDK (and eval-protocol's
``create_evaluation`` for the evaluator upload, its official path), so the same code runs against
``https://api.fireworks.ai`` and against :class:`svgkit.standin.fireworks.FireworksStandin`.

- Records are small frozen dataclasses (:class:`DatasetInfo`, :class:`EvaluatorInfo`,
  :class:`RftJobInfo`, ...); ``get_*`` returns ``None`` when the resource does not exist and
  ``delete_*`` returns ``False`` when there was nothing to delete, so cleanup cells are safe to rerun.
- Every ``wait_for_*`` has a deadline, polls at ``poll_s`` and reports each poll to an optional
  ``on_progress`` callback as a :class:`Progress` (this module prints nothing).
- Failures raise a :class:`FireworksApiError` subclass whose message says, in one sentence,
  what happened and what to do: :class:`KeyRejectedError` (401), :class:`AccessDeniedError` (403:
  role or billing), :class:`ResourceNotFoundError` (404), :class:`RateLimitedError` (429),
  :class:`ServiceUnavailableError` (5xx, no connection), :class:`RequestRejectedError` (400, 409),
  :class:`WaitTimeoutError` (a deadline passed).
- Keys and secret values never appear in messages, records or logs: the key is held by the SDK
  client only, and secret values are filtered out of the SDK's debug log while they are sent.

Example::

    api = connect()                                   # FIREWORKS_API_KEY, FIREWORKS_API_BASE
    if not api.secret_exists("OPENAI_API_KEY"):
        api.put_secret("OPENAI_API_KEY", settings.judge_api_key)
    ev = api.wait_for_evaluator("svgkit-svg-judge", on_progress=print)
    if ev.state == "BUILD_FAILED":
        print(ev.build_log_tail)

Rehearsal: ``connect(base_url=standin.url, api_key=standin.rehearsal_key)``; :attr:`FireworksApi.rehearsal`
is then ``True`` (the server said it is the svgkit stand-in), so a notebook can label its results.
"""

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import fireworks
import httpx

from .config import PLATFORM, MissingKeyError, Secret, Settings, get_settings
from .environ import patched_environ
from .http_client import scrub_secrets

__all__ = [
    "TERMINAL_JOB_STATES",
    "AccessDeniedError",
    "AccountLookup",
    "DatasetInfo",
    "DatasetUpload",
    "DeploymentInfo",
    "EvaluatorInfo",
    "EvaluatorUploadError",
    "FireworksApi",
    "FireworksApiError",
    "KeyRejectedError",
    "Kind",
    "ModelInfo",
    "Progress",
    "ProgressCallback",
    "RateLimitedError",
    "RequestRejectedError",
    "ResourceNotFoundError",
    "RftJobInfo",
    "SecretInfo",
    "ServiceUnavailableError",
    "WaitTimeoutError",
    "connect",
    "dashboard_url",
    "dataset_id_for",
    "lookup_account",
    "secret_resource_id",
]

#: RFT job states after which nothing changes (short names: ``JOB_STATE_`` removed).
TERMINAL_JOB_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "EXPIRED", "EARLY_STOPPED"})

#: The kinds of Fireworks resources svgkit names, creates and cleans up.
Kind = Literal["evaluator", "dataset", "rft_job", "deployment", "model"]
_T = TypeVar("_T")
_ID_RX = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_USER_AGENT = "svgkit (eval-protocol compatible)"
_UPLOAD_LOCK = threading.Lock()


# --------------------------------------------------------------------------- errors
class FireworksApiError(RuntimeError):
    """A Fireworks control-plane call failed; the message says what to do.

    Attributes:
        status: The HTTP status (``None`` without one: no connection, a timeout).
        reason: What the server said (never a key).
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class KeyRejectedError(FireworksApiError):
    """401: the API key is missing, wrong or revoked."""


class AccessDeniedError(FireworksApiError):
    """403: the key's user lacks a role on the account, or the account lacks billing."""


class ResourceNotFoundError(FireworksApiError):
    """404: the resource does not exist in the account."""


class RateLimitedError(FireworksApiError):
    """429: too many requests.

    Attributes:
        retry_after_s: What the server's ``Retry-After`` asked for, if anything.
    """

    def __init__(self, message: str, *, status: int | None = 429, reason: str = "",
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, status=status, reason=reason)
        self.retry_after_s = retry_after_s


class ServiceUnavailableError(FireworksApiError):
    """5xx after the SDK's retries, or the server could not be reached."""


class RequestRejectedError(FireworksApiError):
    """400, 409 or 422: the request itself was refused (the reason says why)."""


class WaitTimeoutError(FireworksApiError):
    """A ``wait_for_*`` deadline passed; the resource carries on without us.

    Attributes:
        last_state: The state seen at the last poll.
    """

    def __init__(self, message: str, *, last_state: str = "") -> None:
        super().__init__(message)
        self.last_state = last_state


class EvaluatorUploadError(FireworksApiError):
    """eval-protocol created the evaluator but its code upload failed (it only logs that)."""


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class AccountLookup:
    """What ``/verifyApiKey`` said about a key.

    Attributes:
        account_id: The account the key belongs to.
        rehearsal: The server identified itself as svgkit's local stand-in, not Fireworks.
    """

    account_id: str
    rehearsal: bool


@dataclass(frozen=True)
class SecretInfo:
    """An account secret (its value is write-only and never read back).

    Attributes:
        id: Resource id (``openai-api-key``).
        name: Resource name (``accounts/<acct>/secrets/openai-api-key``).
        key_name: The environment variable the evaluator sees (``OPENAI_API_KEY``).
    """

    id: str
    name: str
    key_name: str


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset.

    Attributes:
        id: Dataset id.
        name: Resource name.
        state: ``UPLOADING``, ``READY`` or ``STATE_UNSPECIFIED``.
        example_count: Rows, as the service counts them.
        display_name: Display name.
        status_message: The service's status message, if any.
        create_time: When it was created.
    """

    id: str
    name: str
    state: str
    example_count: int | None
    display_name: str
    status_message: str
    create_time: datetime | None

    @property
    def ready(self) -> bool:
        """Whether training can use it."""
        return self.state == "READY"


@dataclass(frozen=True)
class DatasetUpload:
    """What :meth:`FireworksApi.ensure_dataset` did.

    Attributes:
        dataset: The dataset now.
        sha256: SHA-256 of the local file (its id ends with the first 16 hex digits).
        rows: Non-empty lines in the local file.
        reused: ``True``: a dataset with this content was already there, nothing was uploaded.
        others: Ids of other datasets with the same prefix (earlier versions of the file).
    """

    dataset: DatasetInfo
    sha256: str
    rows: int
    reused: bool
    others: tuple[str, ...]


@dataclass(frozen=True)
class EvaluatorInfo:
    """An evaluator.

    Attributes:
        id: Evaluator id.
        name: Resource name.
        state: ``BUILDING``, ``ACTIVE``, ``BUILD_FAILED`` or ``STATE_UNSPECIFIED``.
        status_message: The service's status message.
        entry_point: The pytest entry point (``file.py::test_function``).
        display_name: Display name.
        create_time: When it was created.
        update_time: Last change.
        build_log_tail: The end of the build log (set by :meth:`FireworksApi.wait_for_evaluator`
            when the build failed).
        description: Its description (svgkit records the bundle's hash there: :mod:`svgkit.upload.publish`).
    """

    id: str
    name: str
    state: str
    status_message: str
    entry_point: str
    display_name: str
    create_time: datetime | None
    update_time: datetime | None
    build_log_tail: str | None = None
    description: str = ""

    @property
    def active(self) -> bool:
        """Whether RFT jobs can use it."""
        return self.state == "ACTIVE"


@dataclass(frozen=True)
class RftJobInfo:
    """A reinforcement fine-tuning job.

    Attributes:
        id: Job id.
        name: Resource name.
        state: ``CREATING``, ``PENDING``, ``VALIDATING``, ``RUNNING``, ``WRITING_RESULTS``, ...,
            or one of :data:`TERMINAL_JOB_STATES` (the ``JOB_STATE_`` prefix removed).
        percent: Progress percent (0-100) when reported.
        epoch: The epoch being reported, counted from 0.
        epochs: Epochs asked for.
        processed_requests: Requests (rollouts) processed so far.
        total_requests: Requests the job will process.
        failed_requests: Requests that failed.
        status_code: ``status.code`` (``OK``, ``FAILED_PRECONDITION``, ...).
        status_message: ``status.message`` (why a job failed).
        dataset: Dataset resource name.
        evaluator: Evaluator resource name.
        base_model: Base model.
        output_model: The model the job writes (resource name).
        output_metrics: ``outputMetrics`` parsed as JSON (``{"raw": text}`` when it is not JSON).
        accelerator_seconds: Accelerator seconds used, by accelerator type.
        create_time: When it was created.
        completed_time: When it ended.
    """

    id: str
    name: str
    state: str
    percent: int | None
    epoch: int | None
    epochs: int | None
    processed_requests: int | None
    total_requests: int | None
    failed_requests: int | None
    status_code: str
    status_message: str
    dataset: str
    evaluator: str
    base_model: str
    output_model: str
    output_metrics: dict[str, Any] | None
    accelerator_seconds: dict[str, float]
    create_time: datetime | None
    completed_time: datetime | None

    @property
    def terminal(self) -> bool:
        """Whether the job has ended (nothing will change)."""
        return self.state in TERMINAL_JOB_STATES

    @property
    def succeeded(self) -> bool:
        """Whether the job ended with an output model (``COMPLETED`` or ``EARLY_STOPPED``)."""
        return self.state in ("COMPLETED", "EARLY_STOPPED")


@dataclass(frozen=True)
class DeploymentInfo:
    """An on-demand deployment (billed per GPU-second while it exists).

    Attributes:
        id: Deployment id.
        name: Resource name.
        state: ``CREATING``, ``READY``, ``UPDATING``, ``FAILED``, ``DELETING``, ``DELETED``.
        base_model: The model it serves (a LoRA model is served by live merge).
        status_message: The service's status message.
        replica_count: Replicas up now.
        accelerator_type: GPU type.
        accelerator_count: GPUs per replica.
        create_time: When it was created.
    """

    id: str
    name: str
    state: str
    base_model: str
    status_message: str
    replica_count: int | None
    accelerator_type: str
    accelerator_count: int | None
    create_time: datetime | None

    @property
    def ready(self) -> bool:
        """Whether it serves requests."""
        return self.state == "READY"

    @property
    def inference_model(self) -> str:
        """The model id for chat completions on this deployment (``<model>#<deployment>``)."""
        return f"{self.base_model}#{self.name}"


@dataclass(frozen=True)
class ModelInfo:
    """A model.

    Attributes:
        id: Model id.
        name: Resource name (``accounts/<acct>/models/<id>``).
        state: ``UPLOADING``, ``READY`` or ``STATE_UNSPECIFIED``.
        kind: ``HF_BASE_MODEL``, ``HF_PEFT_ADDON`` (a LoRA), ...
        base_model: For a LoRA: the model it adapts.
        display_name: Display name.
        fine_tuning_job: The job that made it, if any.
        create_time: When it was created.
        supports_serverless: Whether Fireworks serves it serverless (``None``: the service did not say).
    """

    id: str
    name: str
    state: str
    kind: str
    base_model: str
    display_name: str
    fine_tuning_job: str
    create_time: datetime | None
    supports_serverless: bool | None = None


@dataclass(frozen=True)
class Progress:
    """One poll of a ``wait_for_*``, for a progress bar or a log line.

    Attributes:
        kind: ``dataset``, ``evaluator``, ``rft_job`` or ``deployment``.
        id: The resource id.
        state: Its state at this poll (``"?"`` when the poll failed).
        elapsed_s: Seconds since the wait began.
        percent: Progress percent, when the service reports one.
        detail: A short human-readable line (epoch, requests, the error being retried).
        dashboard_url: Where to look at it.
    """

    kind: str
    id: str
    state: str
    elapsed_s: float
    percent: float | None
    detail: str
    dashboard_url: str

    def __str__(self) -> str:
        pct = f" {self.percent:.0f}%" if self.percent is not None else ""
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} {self.id}: {self.state}{pct}{extra} after {self.elapsed_s:.0f} s"


#: Called with each :class:`Progress` while a long platform operation runs.
ProgressCallback = Callable[[Progress], None]


# --------------------------------------------------------------------------- module functions
def dashboard_url(kind: Kind, resource_id: str, *, api_base: str = PLATFORM.api_base) -> str:
    """The dashboard page of a resource, on the app host that belongs to ``api_base``.

    ``api.fireworks.ai`` maps to ``app.fireworks.ai`` and ``api.X`` to ``app.X`` (as eval-protocol
    does); any other host (the stand-in) keeps its own origin.
    """
    paths = {"evaluator": PLATFORM.evaluator_dashboard, "dataset": PLATFORM.dataset_dashboard,
             "rft_job": PLATFORM.rft_job_dashboard, "deployment": PLATFORM.deployment_dashboard,
             "model": PLATFORM.model_dashboard}
    return _app_base(api_base) + paths[kind].format(id=resource_id.rsplit("/", 1)[-1])


def _app_base(api_base: str) -> str:
    parts = urlsplit(api_base)
    if parts.netloc == urlsplit(PLATFORM.api_base).netloc:
        return PLATFORM.app_base
    if parts.netloc.startswith("api."):
        return f"{parts.scheme}://app.{parts.netloc[4:]}"
    return f"{parts.scheme}://{parts.netloc}"


def secret_resource_id(name: str) -> str:
    """The secret's resource id for an environment-variable name, as eval-protocol makes it.

    ``OPENAI_API_KEY`` -> ``openai-api-key`` (lower case, ``_`` -> ``-``).
    """
    return name.lower().replace("_", "-")


def _secret_key_name(name: str) -> str:
    key = name.upper().replace("-", "_")
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
        raise ValueError(f"secret name {name!r} must be an environment-variable name such as OPENAI_API_KEY")
    return key


def dataset_id_for(path: str | os.PathLike[str], *, prefix: str = "svgkit-train") -> str:
    """A dataset id that names the file's content: ``<prefix>-<first 16 hex digits of its SHA-256>``.

    The same file always gets the same id, a changed file a new one.

    Raises:
        ValueError: ``prefix`` is not lower-case letters, digits and hyphens, or is too long.
    """
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,45}", prefix) or prefix.endswith("-"):
        raise ValueError(f"dataset prefix {prefix!r}: use up to 46 lower-case letters, digits and hyphens")
    return f"{prefix}-{_sha256(Path(path).read_bytes())[:16]}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lookup_account(api_key: str | Secret, *, base_url: str = PLATFORM.api_base,
                   timeout_s: float = PLATFORM.request_timeout_s) -> AccountLookup:
    """The account a key belongs to, from ``GET /verifyApiKey`` (eval-protocol's lookup).

    eval-protocol's own ``verify_api_key_and_get_account_id`` makes the same request but
    answers ``None`` for every failure; this says which failure it was.

    Raises:
        KeyRejectedError: 401. AccessDeniedError: 403. ServiceUnavailableError: 5xx or no connection.
        FireworksApiError: The server answered without an account id.
    """
    key = api_key.get() if isinstance(api_key, Secret) else api_key
    if not key:
        raise MissingKeyError("FIREWORKS_API_KEY is not set: put it in the environment or .env")
    url = f"{base_url.rstrip('/')}/verifyApiKey"
    doing = "look up the account of the API key"
    try:
        resp = httpx.get(url, headers={"Authorization": f"Bearer {key}", "User-Agent": _USER_AGENT},
                         timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise _unreachable(base_url, doing, exc) from exc
    if resp.status_code != 200:
        raise _status_error(resp.status_code, _reason(resp), doing=doing, what="the verifyApiKey endpoint",
                            account="(unknown)", api_base=base_url, retry_after=resp.headers.get("retry-after"))
    account = (resp.headers.get("x-fireworks-account-id") or "").strip()
    if not account:
        raise FireworksApiError(f"{base_url} accepted the key but named no account: set FIREWORKS_ACCOUNT_ID.",
                                status=200)
    server = resp.headers.get("server", "").lower()
    return AccountLookup(account, "svgkit" in server and "standin" in server)


def connect(settings: Settings | None = None, *, api_key: str | Secret | None = None, base_url: str | None = None,
            account_id: str | None = None, max_retries: int = PLATFORM.max_retries,
            timeout_s: float = PLATFORM.request_timeout_s) -> "FireworksApi":
    """Check the key (a free ``/verifyApiKey`` call) and return a :class:`FireworksApi`.

    Args:
        settings: Where the defaults come from (default :func:`svgkit.config.get_settings`).
        api_key: The Fireworks key (default: ``FIREWORKS_API_KEY``).
        base_url: The control plane (default: ``FIREWORKS_API_BASE``/``FIREWORKS_BASE_URL``, else
            ``https://api.fireworks.ai``); the stand-in's :attr:`~svgkit.standin.fireworks.FireworksStandin.url`.
        account_id: Use this account instead of the key's own (``FIREWORKS_ACCOUNT_ID``).
        max_retries: SDK retries on 429/5xx/connection errors (it honours ``Retry-After``).
        timeout_s: Per-request timeout.

    Raises:
        MissingKeyError: No key. KeyRejectedError, AccessDeniedError, ServiceUnavailableError: see
            :func:`lookup_account`.
    """
    settings = settings or get_settings()
    key = api_key if api_key is not None else settings.fireworks_api_key
    key_value = key.get() if isinstance(key, Secret) else key
    if not key_value:
        raise MissingKeyError("FIREWORKS_API_KEY is not set: put it in the environment or .env "
                              "(or rehearse with svgkit.standin.fireworks.FireworksStandin)")
    base = (base_url or settings.fireworks_api_base).rstrip("/")
    lookup = lookup_account(key_value, base_url=base, timeout_s=timeout_s)
    account = account_id or settings.fireworks_account_id or lookup.account_id
    return FireworksApi(api_key=key_value, base_url=base, account_id=account, rehearsal=lookup.rehearsal,
                        max_retries=max_retries, timeout_s=timeout_s)


# --------------------------------------------------------------------------- the client
class FireworksApi:
    """A connection to one Fireworks account's control plane. Build it with :func:`connect`.

    Attributes:
        account_id: The account every call goes to.
        base_url: The control plane's base URL.
        rehearsal: ``True`` when the server is svgkit's local stand-in, not Fireworks.
        sdk: The underlying ``fireworks.Fireworks`` client, for anything not wrapped here.
    """

    def __init__(self, *, api_key: str, base_url: str, account_id: str, rehearsal: bool = False,
                 max_retries: int = PLATFORM.max_retries, timeout_s: float = PLATFORM.request_timeout_s) -> None:
        self.account_id = account_id
        self.base_url = base_url.rstrip("/")
        self.rehearsal = rehearsal
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self._key = Secret(api_key)
        self.sdk = fireworks.Fireworks(api_key=api_key, base_url=self.base_url, account_id=account_id,
                                       max_retries=max_retries, timeout=timeout_s)

    def __repr__(self) -> str:
        where = "svgkit stand-in" if self.rehearsal else "Fireworks"
        return f"FireworksApi(account_id={self.account_id!r}, base_url={self.base_url!r}, {where})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self.sdk.close()

    def __enter__(self) -> "FireworksApi":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def dashboard_url(self, kind: Kind, resource_id: str) -> str:
        """The dashboard page of a resource (on the stand-in: a page saying it is a rehearsal)."""
        return dashboard_url(kind, resource_id, api_base=self.base_url)

    # ------------------------------------------------------------------ secrets
    def secret_exists(self, name: str) -> bool:
        """Whether the account has the secret the evaluator sees as environment variable ``name``."""
        return self._maybe(lambda: self.sdk.secrets.get(secret_resource_id(name)),
                           f"look up secret {name}", f"secret {name}") is not None

    def list_secrets(self) -> list[SecretInfo]:
        """The account's secrets (names only: values are never returned)."""
        with self._calls("list secrets", "the secrets list"):
            return [_secret(s) for s in self.sdk.secrets.list()]

    def put_secret(self, name: str, value: str | Secret) -> SecretInfo:
        """Create or update secret ``name`` (an environment-variable name such as ``OPENAI_API_KEY``).

        The same resource id and ``keyName`` as eval-protocol's ``create_or_update_fireworks_secret``;
        unlike it, failures raise with their reason. The value is never logged or returned.

        Raises:
            ValueError: ``value`` is empty or ``name`` is not an environment-variable name.
        """
        secret = value.get() if isinstance(value, Secret) else value
        if not secret:
            raise ValueError(f"the value for secret {name} is empty: set it in the environment first")
        key_name, rid = _secret_key_name(name), secret_resource_id(name)
        exists = self.secret_exists(name)
        with _hide_from_logs(secret), self._calls(f"store secret {name}", f"secret {name}"):
            if exists:
                out = self.sdk.secrets.update(rid, key_name=key_name, value=secret)
            else:
                out = self.sdk.secrets.create(key_name=key_name, name=rid, value=secret)
        return _secret(out)

    def delete_secret(self, name: str) -> bool:
        """Delete secret ``name``; ``False`` when there was none (safe to rerun)."""
        return self._delete(lambda: self.sdk.secrets.delete(secret_resource_id(name)),
                            f"delete secret {name}", f"secret {name}")

    # ------------------------------------------------------------------ datasets
    def get_dataset(self, dataset_id: str) -> DatasetInfo | None:
        """The dataset, or ``None`` when it does not exist."""
        rid = _short(dataset_id)
        out = self._maybe(lambda: self.sdk.datasets.get(rid), f"look up dataset {rid}", f"dataset {rid}")
        return None if out is None else _dataset(out)

    def list_datasets(self) -> list[DatasetInfo]:
        """Every dataset in the account."""
        with self._calls("list datasets", "the datasets list"):
            return [_dataset(d) for d in self.sdk.datasets.list()]

    def upload_dataset(self, path: str | os.PathLike[str], dataset_id: str, *, display_name: str | None = None,
                       create: bool = True) -> DatasetInfo:
        """Create dataset ``dataset_id`` and upload the JSONL file at ``path`` into it.

        The same requests as eval-protocol's ``create_dataset_from_jsonl`` (``ep create rft``): a
        ``datasets.create`` with the row count, then a multipart ``:upload``. The dataset is
        ``UPLOADING`` until the service has processed it: see :meth:`wait_for_dataset`.

        Args:
            path: A ``.jsonl`` file, one Eval Protocol row per line.
            dataset_id: The new dataset's id.
            display_name: Display name (default: the id).
            create: ``False`` uploads into an existing, empty dataset.
        """
        file = Path(path)
        data = file.read_bytes()
        rows = _count_rows(data)
        rid = _check_id(_short(dataset_id), "dataset")
        if create:
            spec = {"display_name": display_name or rid, "eval_protocol": {}, "format": "FORMAT_UNSPECIFIED",
                    "example_count": str(rows)}
            with self._calls(f"create dataset {rid}", f"dataset {rid}"):
                self.sdk.datasets.create(dataset_id=rid, dataset=spec)  # type: ignore[arg-type]
        with self._calls(f"upload {file.name} into dataset {rid}", f"dataset {rid}"):
            self.sdk.datasets.upload(rid, file=(file.name, data))
        info = self.get_dataset(rid)
        if info is None:
            raise ResourceNotFoundError(f"dataset {rid} vanished right after its upload: rerun the cell.", status=404)
        return info

    def ensure_dataset(self, path: str | os.PathLike[str], *, prefix: str = "svgkit-train",
                       display_name: str | None = None, wait: bool = True,
                       timeout_s: float = PLATFORM.dataset_ready_timeout_s, poll_s: float = PLATFORM.poll_interval_s,
                       on_progress: ProgressCallback | None = None) -> DatasetUpload:
        """Upload ``path`` unless a dataset with exactly this content exists; then wait until it is READY.

        The id is :func:`dataset_id_for` (content hash), so an unchanged file reuses its dataset and
        a changed one gets a new dataset; :attr:`DatasetUpload.others` lists earlier versions.
        A dataset left ``UPLOADING`` by an interrupted run is uploaded into again.
        """
        data = Path(path).read_bytes()
        rid = dataset_id_for(path, prefix=prefix)
        existing = self.get_dataset(rid)
        others = tuple(sorted(d.id for d in self.list_datasets() if d.id.startswith(f"{prefix}-") and d.id != rid))
        reused = existing is not None and existing.ready
        if existing is None:
            self.upload_dataset(path, rid, display_name=display_name)
        elif not existing.ready:
            try:
                self.upload_dataset(path, rid, create=False)
            except RequestRejectedError:
                pass  # the interrupted run's upload got through; the service is processing it
        info = self.wait_for_dataset(rid, timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress) if wait \
            else (self.get_dataset(rid) or existing)
        assert info is not None
        return DatasetUpload(info, _sha256(data), _count_rows(data), reused, others)

    def wait_for_dataset(self, dataset_id: str, *, timeout_s: float = PLATFORM.dataset_ready_timeout_s,
                         poll_s: float = PLATFORM.poll_interval_s,
                         on_progress: ProgressCallback | None = None) -> DatasetInfo:
        """Poll until the dataset is READY.

        Raises:
            WaitTimeoutError: Not READY by the deadline. ResourceNotFoundError: It does not exist.
        """
        rid = _short(dataset_id)
        return self._wait("dataset", rid, lambda: self.get_dataset(rid), lambda d: d.ready,
                          lambda d: (d.state, None, f"{d.example_count} rows" if d.example_count else ""),
                          timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress)

    def delete_dataset(self, dataset_id: str) -> bool:
        """Delete the dataset; ``False`` when there was none (safe to rerun)."""
        rid = _short(dataset_id)
        return self._delete(lambda: self.sdk.datasets.delete(rid), f"delete dataset {rid}", f"dataset {rid}")

    # ------------------------------------------------------------------ evaluators
    def create_evaluator(self, directory: str | os.PathLike[str], evaluator_id: str, *,
                         entry_point: str | None = None, display_name: str | None = None,
                         description: str | None = None, replace: bool = False) -> EvaluatorInfo:
        """Upload ``directory`` as evaluator ``evaluator_id`` with eval-protocol's ``create_evaluation``.

        ``create_evaluation`` tars the *current* directory, so this runs it from ``directory``
        (process-wide: not from two threads at once), with ``FIREWORKS_API_BASE`` pointed at this
        connection. It only logs a failed code upload and still returns the evaluator: this raises
        :class:`EvaluatorUploadError` instead. The result is read back from the API, never taken
        from ``create_evaluation``'s return; the build then runs: see :meth:`wait_for_evaluator`.

        Args:
            directory: A staged evaluator directory with ``requirements.txt`` at its top.
            evaluator_id: The evaluator's id.
            entry_point: ``file.py::test_function`` inside ``directory``.
            display_name: Display name.
            description: Description.
            replace: Delete an existing evaluator with this id first (``force=True``); without it,
                an existing one is a :class:`RequestRejectedError` (409).
        """
        from eval_protocol.evaluation import create_evaluation  # imports pytest machinery: only when used

        folder = Path(directory).resolve()
        if not (folder / "requirements.txt").is_file():
            raise FileNotFoundError(f"{folder} has no requirements.txt: eval-protocol uploads only a directory "
                                    "that has one (stage the bundle first)")
        rid = _check_id(_short(evaluator_id), "evaluator")
        tarball = folder / f"{folder.name}.tar.gz"  # where create_evaluation writes it
        had_tarball = tarball.exists()
        try:
            with _UPLOAD_LOCK, patched_environ({"FIREWORKS_API_BASE": self.base_url}), contextlib.chdir(folder), \
                    _captured("eval_protocol.evaluation") as records, \
                    self._calls(f"create evaluator {rid}", f"evaluator {rid}"):
                create_evaluation(rid, display_name=display_name, description=description, force=replace,
                                  account_id=self.account_id, api_key=self._key.get(), entry_point=entry_point)
        finally:
            if not had_tarball:  # it is removed only after a successful upload: keep the bundle as staged
                tarball.unlink(missing_ok=True)
        failed = [r.getMessage() for r in records if "upload failed" in r.getMessage().lower()]
        if failed:
            raise EvaluatorUploadError(
                f"eval-protocol created evaluator {rid} but its code upload failed ({failed[0]}): it will never "
                "build, so fix the cause and upload again with replace=True.")
        info = self.get_evaluator(rid)
        if info is None:
            raise ResourceNotFoundError(f"evaluator {rid} is missing right after its upload: rerun the cell.",
                                        status=404)
        return info

    def get_evaluator(self, evaluator_id: str) -> EvaluatorInfo | None:
        """The evaluator, or ``None`` when it does not exist."""
        rid = _short(evaluator_id)
        out = self._maybe(lambda: self.sdk.evaluators.get(rid), f"look up evaluator {rid}", f"evaluator {rid}")
        return None if out is None else _evaluator(out)

    def list_evaluators(self) -> list[EvaluatorInfo]:
        """Every evaluator in the account."""
        with self._calls("list evaluators", "the evaluators list"):
            return [_evaluator(e) for e in self.sdk.evaluators.list()]

    def delete_evaluator(self, evaluator_id: str) -> bool:
        """Delete the evaluator; ``False`` when there was none (safe to rerun)."""
        rid = _short(evaluator_id)
        return self._delete(lambda: self.sdk.evaluators.delete(rid), f"delete evaluator {rid}", f"evaluator {rid}")

    def evaluator_build_log(self, evaluator_id: str, *, tail_lines: int | None = None) -> str:
        """The evaluator's build log (its last ``tail_lines`` lines), from its signed URL."""
        rid = _short(evaluator_id)
        with self._calls(f"get the build log of evaluator {rid}", f"evaluator {rid}"):
            url = self.sdk.evaluators.get_build_log_endpoint(rid).build_log_signed_uri
        if not url:
            return ""
        text = self._download(url, f"the build log of evaluator {rid}").decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-tail_lines:]) if tail_lines else text

    def evaluator_source(self, evaluator_id: str) -> dict[str, bytes]:
        """The files uploaded as the evaluator's code (file name -> bytes): proof of what landed."""
        rid = _short(evaluator_id)
        with self._calls(f"get the source of evaluator {rid}", f"evaluator {rid}"):
            urls = self.sdk.evaluators.get_source_code_endpoint(rid).filename_to_signed_urls or {}
        return {name: self._download(url, f"{name} of evaluator {rid}") for name, url in sorted(urls.items())}

    def wait_for_evaluator(self, evaluator_id: str, *, timeout_s: float = PLATFORM.evaluator_build_timeout_s,
                           poll_s: float = PLATFORM.poll_interval_s,
                           on_progress: ProgressCallback | None = None) -> EvaluatorInfo:
        """Poll until the evaluator is ACTIVE or BUILD_FAILED (then with :attr:`~EvaluatorInfo.build_log_tail`).

        Raises:
            WaitTimeoutError: Still building at the deadline. ResourceNotFoundError: It does not exist.
        """
        rid = _short(evaluator_id)
        info = self._wait("evaluator", rid, lambda: self.get_evaluator(rid),
                          lambda e: e.state in ("ACTIVE", "BUILD_FAILED"),
                          lambda e: (e.state, None, e.status_message), timeout_s=timeout_s, poll_s=poll_s,
                          on_progress=on_progress)
        if info.state == "BUILD_FAILED":
            tail = self.evaluator_build_log(rid, tail_lines=PLATFORM.build_log_tail_lines)
            info = replace(info, build_log_tail=tail)
        return info

    # ------------------------------------------------------------------ RFT jobs
    def create_rft_job(self, *, dataset: str, evaluator: str, training_config: Mapping[str, Any],
                       job_id: str | None = None, inference_parameters: Mapping[str, Any] | None = None,
                       loss_config: Mapping[str, Any] | None = None, chunk_size: int | None = None,
                       display_name: str | None = None, wandb_config: Mapping[str, Any] | None = None,
                       **options: Any) -> RftJobInfo:
        """Launch an RFT job (``reinforcement_fine_tuning_jobs.create``). This costs money on Fireworks.

        Args:
            dataset: Dataset id or resource name.
            evaluator: Evaluator id or resource name.
            training_config: SDK ``TrainingConfig`` fields (``base_model``, ``output_model``,
                ``epochs``, ``learning_rate``, ``lora_rank``, ``max_context_length``, ``batch_size``).
            job_id: The job's id (default: the service picks one).
            inference_parameters: ``response_candidates_count`` (group size), ``max_output_tokens``, ...
            loss_config: ``{"method": "GRPO"}`` and friends.
            chunk_size: Rows per rollout chunk.
            display_name: Display name.
            wandb_config: Weights & Biases settings (its ``api_key`` is kept out of logs).
            options: Any other ``create`` argument of the SDK.
        """
        kwargs: dict[str, Any] = {"dataset": self._full("datasets", dataset),
                                  "evaluator": self._full("evaluators", evaluator),
                                  "training_config": dict(training_config), **options}
        for key, val in (("reinforcement_fine_tuning_job_id", job_id), ("inference_parameters", inference_parameters),
                         ("loss_config", loss_config), ("chunk_size", chunk_size), ("display_name", display_name),
                         ("wandb_config", wandb_config)):
            if val is not None:
                kwargs[key] = dict(val) if isinstance(val, Mapping) else val
        if job_id is not None:
            _check_id(job_id, "RFT job")
        wandb_key = str((wandb_config or {}).get("api_key") or "")
        label = job_id or "(new)"
        with _hide_from_logs(wandb_key), self._calls(f"create RFT job {label}", f"RFT job {label}"):
            out = self.sdk.reinforcement_fine_tuning_jobs.create(**kwargs)
        return _job(out)

    def get_rft_job(self, job_id: str) -> RftJobInfo | None:
        """The job, or ``None`` when it does not exist (to reattach after a restart)."""
        rid = _short(job_id)
        out = self._maybe(lambda: self.sdk.reinforcement_fine_tuning_jobs.get(rid), f"look up RFT job {rid}",
                          f"RFT job {rid}")
        return None if out is None else _job(out)

    def list_rft_jobs(self) -> list[RftJobInfo]:
        """Every RFT job in the account."""
        with self._calls("list RFT jobs", "the RFT jobs list"):
            return [_job(j) for j in self.sdk.reinforcement_fine_tuning_jobs.list()]

    def cancel_rft_job(self, job_id: str) -> RftJobInfo:
        """Cancel the job (``:cancel`` with ``body={}``); a job that has ended is returned as it is.

        Raises:
            ResourceNotFoundError: There is no such job.
        """
        rid = _short(job_id)
        job = self.get_rft_job(rid)
        if job is None:
            raise _not_found(f"RFT job {rid}", self.account_id, "")
        if job.terminal or job.state == "CANCELLING":
            return job
        with self._calls(f"cancel RFT job {rid}", f"RFT job {rid}"):
            self.sdk.reinforcement_fine_tuning_jobs.cancel(rid, body={})
        return self.get_rft_job(rid) or job

    def wait_for_rft_job(self, job_id: str, *, timeout_s: float = PLATFORM.rft_job_timeout_s,
                         poll_s: float = PLATFORM.poll_interval_s, on_progress: ProgressCallback | None = None,
                         until: Callable[[RftJobInfo], bool] | None = None) -> RftJobInfo:
        """Poll until the job ends (or ``until(job)`` holds); a FAILED job is returned, not raised.

        Raises:
            WaitTimeoutError: Not done by the deadline (the job keeps running on Fireworks).
            ResourceNotFoundError: It does not exist.
        """
        rid = _short(job_id)
        done = until or (lambda j: j.terminal)
        return self._wait("rft_job", rid, lambda: self.get_rft_job(rid), done, _job_progress,
                          timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress)

    # ------------------------------------------------------------------ deployments
    def create_deployment(self, model: str, *, deployment_id: str | None = None, accelerator_type: str | None = None,
                          accelerator_count: int | None = None, min_replica_count: int = 0,
                          max_replica_count: int = 1, display_name: str | None = None,
                          **options: Any) -> DeploymentInfo:
        """Create an on-demand deployment of ``model`` (billed per GPU-second until deleted).

        Args:
            model: Model id in this account, or a full name (``accounts/fireworks/models/...``).
            deployment_id: The deployment's id (default: the service picks one).
            accelerator_type: GPU type (``NVIDIA_H100_80GB``, ...).
            accelerator_count: GPUs per replica.
            min_replica_count: Replicas kept up when idle (0 scales to zero).
            max_replica_count: Most replicas.
            display_name: Display name.
            options: Any other ``create`` argument of the SDK.
        """
        kwargs: dict[str, Any] = {"base_model": self._full("models", model), "min_replica_count": min_replica_count,
                                  "max_replica_count": max_replica_count, **options}
        for key, val in (("deployment_id", deployment_id), ("accelerator_type", accelerator_type),
                         ("accelerator_count", accelerator_count), ("display_name", display_name)):
            if val is not None:
                kwargs[key] = val
        if deployment_id is not None:
            _check_id(deployment_id, "deployment")
        label = deployment_id or "(new)"
        with self._calls(f"create deployment {label} of {kwargs['base_model']}", f"deployment {label}"):
            return _deployment(self.sdk.deployments.create(**kwargs))

    def get_deployment(self, deployment_id: str) -> DeploymentInfo | None:
        """The deployment, or ``None`` when it does not exist (or is gone)."""
        rid = _short(deployment_id)
        out = self._maybe(lambda: self.sdk.deployments.get(rid), f"look up deployment {rid}", f"deployment {rid}")
        return None if out is None else _deployment(out)

    def list_deployments(self) -> list[DeploymentInfo]:
        """Every deployment in the account (deleted ones excluded)."""
        with self._calls("list deployments", "the deployments list"):
            return [_deployment(d) for d in self.sdk.deployments.list()]

    def delete_deployment(self, deployment_id: str) -> bool:
        """Delete the deployment (billing stops); ``False`` when there was none (safe to rerun)."""
        rid = _short(deployment_id)
        return self._delete(lambda: self.sdk.deployments.delete(rid), f"delete deployment {rid}",
                            f"deployment {rid}")

    def wait_for_deployment(self, deployment_id: str, *, timeout_s: float = PLATFORM.deployment_ready_timeout_s,
                            poll_s: float = PLATFORM.poll_interval_s,
                            on_progress: ProgressCallback | None = None) -> DeploymentInfo:
        """Poll until the deployment is READY or FAILED.

        Raises:
            WaitTimeoutError: Still coming up at the deadline (it is still billed: delete it if unwanted).
            ResourceNotFoundError: It does not exist.
        """
        rid = _short(deployment_id)
        return self._wait("deployment", rid, lambda: self.get_deployment(rid),
                          lambda d: d.state in ("READY", "FAILED", "DELETING", "DELETED"),
                          lambda d: (d.state, None, d.status_message), timeout_s=timeout_s, poll_s=poll_s,
                          on_progress=on_progress)

    # ------------------------------------------------------------------ models
    def get_model(self, model: str) -> ModelInfo | None:
        """The model (an id in this account, or a full name in any account), or ``None``."""
        account, rid = self._split("models", model)
        out = self._maybe(lambda: self.sdk.models.get(rid, account_id=account), f"look up model {model}",
                          f"model {model}")
        return None if out is None else _model(out)

    def list_models(self, *, account_id: str | None = None) -> list[ModelInfo]:
        """The models of this account (or of ``account_id``, such as ``fireworks``)."""
        with self._calls("list models", "the models list"):
            return [_model(m) for m in self.sdk.models.list(account_id=account_id or self.account_id)]

    def delete_model(self, model: str) -> bool:
        """Delete the model; ``False`` when there was none (safe to rerun)."""
        account, rid = self._split("models", model)
        return self._delete(lambda: self.sdk.models.delete(rid, account_id=account), f"delete model {model}",
                            f"model {model}")

    # ------------------------------------------------------------------ internals
    def _full(self, kind: str, value: str) -> str:
        return value if value.startswith("accounts/") else f"accounts/{self.account_id}/{kind}/{value}"

    def _split(self, kind: str, value: str) -> tuple[str, str]:
        if value.startswith("accounts/"):
            parts = value.split("/")
            if len(parts) != 4 or parts[2] != kind:
                raise ValueError(f"{value!r} is not a {kind[:-1]} name like accounts/<account>/{kind}/<id>")
            return parts[1], parts[3]
        return self.account_id, value

    @contextlib.contextmanager
    def _calls(self, doing: str, what: str) -> Iterator[None]:
        """Translate SDK errors into :class:`FireworksApiError` subclasses."""
        try:
            yield
        except fireworks.APIStatusError as exc:
            raise _status_error(exc.status_code, _reason(exc.response), doing=doing, what=what,
                                account=self.account_id, api_base=self.base_url,
                                retry_after=exc.response.headers.get("retry-after"),
                                retries=self.max_retries) from exc
        except fireworks.APIConnectionError as exc:
            raise _unreachable(self.base_url, doing, exc) from exc

    def _maybe(self, call: Callable[[], _T], doing: str, what: str) -> _T | None:
        try:
            with self._calls(doing, what):
                return call()
        except ResourceNotFoundError:
            return None

    def _delete(self, call: Callable[[], object], doing: str, what: str) -> bool:
        try:
            with self._calls(doing, what):
                call()
        except ResourceNotFoundError:
            return False
        return True

    def _download(self, url: str, what: str) -> bytes:
        """A signed URL's content (no Fireworks credentials sent), at most ``PLATFORM.max_download_bytes``."""
        chunks, size = [], 0
        try:
            with httpx.stream("GET", url, timeout=self.timeout_s) as resp:
                if resp.status_code != 200:
                    raise ServiceUnavailableError(f"could not download {what} (HTTP {resp.status_code}): "
                                                  "rerun the cell to get a fresh link.", status=resp.status_code)
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > PLATFORM.max_download_bytes:
                        raise ServiceUnavailableError(f"{what} is larger than {PLATFORM.max_download_bytes} bytes: "
                                                      "open it from the dashboard instead.")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(f"could not download {what} ({type(exc).__name__}): "
                                          "check the network and rerun the cell.") from exc
        return b"".join(chunks)

    def _wait(self, kind: Kind, rid: str, fetch: Callable[[], _T | None], done: Callable[[_T], bool],
              describe: Callable[[_T], tuple[str, float | None, str]], *, timeout_s: float, poll_s: float,
              on_progress: ProgressCallback | None) -> _T:
        start = time.monotonic()
        deadline = start + timeout_s
        url = self.dashboard_url(kind, rid)
        label = kind.replace("_", " ").replace("rft", "RFT")
        last = "unknown"
        while True:
            try:
                info = fetch()
                if info is None:
                    raise _not_found(f"{label} {rid}", self.account_id, "")
                state, percent, detail = describe(info)
            except (RateLimitedError, ServiceUnavailableError) as exc:  # transient: keep polling
                info, state, percent, detail = None, "?", None, str(exc)
            if state != "?":
                last = state
            if on_progress is not None:
                on_progress(Progress(kind, rid, state, time.monotonic() - start, percent, detail, url))
            if info is not None and done(info):
                return info
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"{label} {rid} was still {last} after {timeout_s:g} s: it carries on without this cell, "
                    f"so wait again with a longer timeout or look at {url}.", last_state=last)
            time.sleep(min(poll_s, remaining))


# --------------------------------------------------------------------------- conversions
def _short(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def _check_id(value: str, what: str) -> str:
    """``value`` if it is a valid resource id, else a ``ValueError`` before anything is sent."""
    if not _ID_RX.fullmatch(value):
        raise ValueError(f"invalid {what} id {value!r}: use 1-63 lower-case letters, digits and hyphens, "
                         "starting and ending with a letter or digit")
    return value


def _count_rows(data: bytes) -> int:
    return sum(1 for line in data.splitlines() if line.strip())


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _secret(s: Any) -> SecretInfo:
    return SecretInfo(_short(s.name), s.name, s.key_name)


def _dataset(d: Any) -> DatasetInfo:
    return DatasetInfo(_short(d.name or ""), d.name or "", d.state or "STATE_UNSPECIFIED", _int(d.example_count),
                       d.display_name or "", (d.status.message if d.status else "") or "", _time(d.create_time))


def _evaluator(e: Any) -> EvaluatorInfo:
    return EvaluatorInfo(_short(e.name or ""), e.name or "", e.state or "STATE_UNSPECIFIED",
                         (e.status.message if e.status else "") or "", e.entry_point or "", e.display_name or "",
                         _time(e.create_time), _time(e.update_time), description=e.description or "")


def _job(j: Any) -> RftJobInfo:
    progress, training, status = j.job_progress, j.training_config, j.status
    metrics: dict[str, Any] | None = None
    if j.output_metrics:
        try:
            parsed = json.loads(j.output_metrics)
            metrics = parsed if isinstance(parsed, dict) else {"raw": j.output_metrics}
        except ValueError:
            metrics = {"raw": j.output_metrics}
    seconds = {}
    for k, v in (j.accelerator_seconds or {}).items():
        try:
            seconds[k] = float(v)
        except (TypeError, ValueError):
            continue
    return RftJobInfo(
        id=_short(j.name or ""), name=j.name or "",
        state=(j.state or "JOB_STATE_UNSPECIFIED").removeprefix("JOB_STATE_"),
        percent=progress.percent if progress else None, epoch=progress.epoch if progress else None,
        epochs=training.epochs if training else None,
        processed_requests=progress.total_processed_requests if progress else None,
        total_requests=progress.total_input_requests if progress else None,
        failed_requests=progress.failed_requests if progress else None,
        status_code=(status.code if status else "") or "", status_message=(status.message if status else "") or "",
        dataset=j.dataset, evaluator=j.evaluator, base_model=(training.base_model if training else "") or "",
        output_model=(training.output_model if training else "") or "", output_metrics=metrics,
        accelerator_seconds=seconds, create_time=_time(j.create_time), completed_time=_time(j.completed_time))


def _job_progress(job: RftJobInfo) -> tuple[str, float | None, str]:
    parts = []
    if job.epoch is not None and job.epochs and (job.state == "RUNNING" or job.percent):
        parts.append(f"epoch {min(job.epoch + 1, job.epochs)}/{job.epochs}")
    if job.total_requests:
        parts.append(f"{job.processed_requests or 0}/{job.total_requests} requests")
    if job.status_message:
        parts.append(job.status_message)
    return job.state, (float(job.percent) if job.percent is not None else None), ", ".join(parts)


def _deployment(d: Any) -> DeploymentInfo:
    return DeploymentInfo(_short(d.name or ""), d.name or "", d.state or "STATE_UNSPECIFIED", d.base_model,
                          (d.status.message if d.status else "") or "", d.replica_count, d.accelerator_type or "",
                          d.accelerator_count, _time(d.create_time))


def _model(m: Any) -> ModelInfo:
    return ModelInfo(_short(m.name or ""), m.name or "", m.state or "STATE_UNSPECIFIED", m.kind or "",
                     (m.peft_details.base_model if m.peft_details else "") or "", m.display_name or "",
                     m.fine_tuning_job or "", _time(m.create_time), m.supports_serverless)


# --------------------------------------------------------------------------- error messages
def _reason(resp: httpx.Response) -> str:
    """The server's message from a Fireworks (``{"message"}``) or OpenAI-style (``{"error": {...}}``) body."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    except httpx.ResponseNotRead:
        return ""
    if isinstance(body, dict):
        err = body.get("error")
        msg = body.get("message") or (err.get("message") if isinstance(err, dict) else err)
        if msg:
            return str(msg)[:500]
    return json.dumps(body)[:200]


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _status_error(status: int, reason: str, *, doing: str, what: str, account: str, api_base: str,
                  retry_after: str | None = None, retries: int = 0) -> FireworksApiError:
    said = f"{status}: {reason}" if reason else str(status)
    if status == 401:
        keys = _app_base(api_base) + PLATFORM.api_keys_page
        return KeyRejectedError(f"Fireworks rejected the API key while trying to {doing} ({said}): set "
                                f"FIREWORKS_API_KEY to a current key from {keys}.", status=status, reason=reason)
    if status == 403:
        return AccessDeniedError(f"Fireworks refused to {doing} for account {account} ({said}): the key's user "
                                 "needs a role on this account that allows it, or the account needs billing set up "
                                 "(a payment method or credits).", status=status, reason=reason)
    if status == 404:
        return _not_found(what, account, reason)
    if status == 429:
        wait = _retry_after(retry_after)
        after = f", retry after {wait:g} s" if wait is not None else ""
        return RateLimitedError(f"Fireworks is rate-limiting this key while trying to {doing} ({said}{after}): "
                                "wait a little and rerun the cell.", reason=reason, retry_after_s=wait)
    if status >= 500:
        return ServiceUnavailableError(f"Fireworks had a server error while trying to {doing} ({said}, after "
                                       f"{retries} retries): rerun the cell in a minute.", status=status,
                                       reason=reason)
    return RequestRejectedError(f"Fireworks refused the request to {doing} ({said}).", status=status, reason=reason)


def _not_found(what: str, account: str, reason: str) -> ResourceNotFoundError:
    said = f" (404: {reason})" if reason else ""
    return ResourceNotFoundError(f"{what} does not exist in account {account}{said}: check the id, or create it "
                                 "first.", status=404, reason=reason)


def _unreachable(base_url: str, doing: str, exc: Exception) -> ServiceUnavailableError:
    return ServiceUnavailableError(f"could not reach {base_url} to {doing} ({type(exc).__name__}): check the "
                                   "network, or that the stand-in is running.")


# --------------------------------------------------------------------------- process-wide helpers
class _Redact(logging.Filter):
    def __init__(self, values: tuple[str, ...]) -> None:
        super().__init__()
        self.values = values

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = scrub_secrets(msg, *self.values)  # also prefixes and URL-encoded copies
        if clean != msg:
            record.msg, record.args = clean, ()
        return True


@contextlib.contextmanager
def _hide_from_logs(*values: str) -> Iterator[None]:
    """Keep ``values`` out of the SDK's and httpx's log records (the SDK's debug log shows request bodies)."""
    kept = tuple(v for v in values if v)
    if not kept:
        yield
        return
    flt = _Redact(kept)
    loggers = [logging.getLogger(n) for n in ("fireworks", "fireworks._base_client", "httpx", "httpcore")]
    for lg in loggers:
        lg.addFilter(flt)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(flt)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _captured(name: str) -> Iterator[list[logging.LogRecord]]:
    """Warnings logged on logger ``name`` during the block (they still reach other handlers)."""
    logger = logging.getLogger(name)
    handler = _Collect()
    old_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
