"""A local stand-in of the Fireworks control-plane REST API: a rehearsal tool, not Fireworks.

:class:`FireworksStandin` is a real HTTP server on ``127.0.0.1`` that speaks the part of the
Fireworks REST API that notebooks 03-05 use, with the paths, methods, JSON field names
(camelCase), pagination (``pageSize``/``pageToken`` -> ``nextPageToken``) and states that
eval-protocol 0.3.33 and the ``fireworks`` SDK 1.2.30 send and expect. Nothing it answers comes
from Fireworks: its ``server`` header, its account (``svgkit-standin``), the account's display
name and every page it serves say so.

What it speaks (``{a}`` is the account id, ``{id}`` a resource id):

====================================================  ==============================================
``GET /verifyApiKey``                                 eval-protocol ``verify_api_key_and_get_account_id``
                                                      (the account id comes back in the
                                                      ``x-fireworks-account-id`` header)
``GET /v1/accounts``, ``GET /v1/accounts/{a}``        SDK ``accounts.list`` / ``accounts.get``
``/v1/accounts/{a}/secrets[/{id}]``                   SDK ``secrets.*`` (eval-protocol
                                                      ``create_or_update_fireworks_secret``, ...):
                                                      GET, POST, PATCH, DELETE; values are write-only
``/v1/accounts/{a}/datasets[/{id}]``                  SDK ``datasets.create/get/list/delete``
``POST .../datasets/{id}:upload``                     SDK ``datasets.upload``, eval-protocol
                                                      ``create_dataset_from_jsonl`` (multipart)
``POST .../datasets/{id}:getUploadEndpoint``,         the signed-URL flow (PUT to the URL, then
``:validateUpload``, ``:getDownloadEndpoint``         validate); signed URLs are served here
``POST /v1/accounts/{a}/evaluatorsV2``                SDK ``evaluators.create`` (``create_evaluation``)
``/v1/accounts/{a}/evaluators[/{id}]``                SDK ``evaluators.get/list/delete/update``
``POST .../evaluators/{id}:getUploadEndpoint``,       the tarball upload of ``create_evaluation``
``PUT <signed url>``, ``POST ...:validateUpload``
``GET .../evaluators/{id}:getBuildLogEndpoint``,      build log and uploaded source, as signed URLs
``GET ...:getSourceCodeSignedUrl``
``/v1/accounts/{a}/reinforcementFineTuningJobs``      SDK ``reinforcement_fine_tuning_jobs.create/
``[/{id}[:cancel]]``                                  get/list/delete/cancel``
``/v1/accounts/{a}/deployments[/{id}]``               SDK ``deployments.create/get/list/delete``
``/v1/accounts/{a}/models[/{id}]``                    SDK ``models.get/list/delete`` (``accounts/
                                                      fireworks/models/...`` is a small catalogue)
``GET /dashboard/...``                                a page saying this is a rehearsal, so dashboard
                                                      links built from the base URL lead somewhere
====================================================  ==============================================

Resources move through their real states on a :class:`Clock` (``speed`` times the wall clock,
plus :meth:`FireworksStandin.advance` for deterministic tests): datasets ``UPLOADING -> READY``;
evaluators ``BUILDING -> ACTIVE`` or ``BUILD_FAILED`` (with a build log); RFT jobs
``JOB_STATE_CREATING -> PENDING -> VALIDATING -> RUNNING -> WRITING_RESULTS -> COMPLETED`` (or
``FAILED``, ``CANCELLING -> CANCELLED``, ``EXPIRED``, ``EARLY_STOPPED``) with ``jobProgress``;
a completed job's output model appears under models; deployments ``CREATING -> READY`` and
``DELETING -> DELETED``. With ``state_dir`` everything is kept as JSON on disk, so a restarted
stand-in (a restarted kernel) finds the same resources, and simulated time resumes where it stopped.

Faults: per request with :meth:`~svgkit.standin.base.StandinServer.push` and
:meth:`FireworksStandin.error` (401, 403, 429 with ``Retry-After``, 5xx, ...); per resource with
:meth:`~FireworksStandin.plan_build` (``BUILD_FAILED`` with a log, a build that never finishes),
:meth:`~FireworksStandin.plan_job` (a job that fails with a status message, expires, stops
early), :meth:`~FireworksStandin.plan_deployment`, :meth:`~FireworksStandin.forbid` (a lasting
403: a missing role, no billing) and :meth:`~FireworksStandin.reject_key` (401).

Keys: any non-empty bearer key is accepted unless rejected. Every key and secret value the
stand-in sees (bearer keys, secret values, W&B keys, direct-route keys) is registered with
:meth:`~svgkit.standin.base.StandinServer.add_secret` before the request is recorded, so the
records (:attr:`~svgkit.standin.base.StandinServer.requests`, :meth:`FireworksStandin.transcript`)
never hold one, and secret values are never stored, returned or written to disk.

Pointing the clients at it: eval-protocol reads ``FIREWORKS_API_BASE``, the SDK reads
``FIREWORKS_BASE_URL`` (or ``base_url=``); :meth:`FireworksStandin.environment` gives both (and
``FIREWORKS_ACCOUNT_ID``), :meth:`FireworksStandin.activate` sets them for a ``with`` block.
Neither sets ``FIREWORKS_API_KEY``: pass a key explicitly (:attr:`FireworksStandin.rehearsal_key`
is a random one), so no other step mistakes a rehearsal for a configured live key. Nothing in
eval-protocol or the SDK insists on https or on the fireworks.ai host for these calls, except
``fireworks.lib.dataset_upload.upload_dataset_shards``, which refuses non-https signed URLs:
upload datasets with ``datasets.upload`` (what eval-protocol does) when rehearsing.

Example::

    with FireworksStandin(speed=0) as fw:          # the clock moves only with fw.advance()
        client = fireworks.Fireworks(api_key=fw.rehearsal_key, base_url=fw.url,
                                     account_id=fw.account_id)
        ...
        fw.advance(3600)

Command line: ``python -m svgkit.standin.fireworks --port 8765 --speed 60`` serves until
interrupted and prints the environment to set.
"""

import argparse
import base64
import contextlib
import email.parser
import email.policy
import hashlib
import io
import json
import os
import re
import secrets
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..config import MODELS
from ..environ import patched_environ
from .base import Request, Response, StandinServer

__all__ = [
    "STANDIN_ACCOUNT",
    "BuildPlan",
    "Call",
    "Clock",
    "DeploymentPlan",
    "FireworksStandin",
    "JobPlan",
    "Timings",
    "main",
]

#: The stand-in's account id: every resource name it makes says so.
STANDIN_ACCOUNT = "svgkit-standin"

_SERVER_NAME = "svgkit-fireworks-standin"
_NOTE = "svgkit local stand-in of the Fireworks API (a rehearsal; nothing here comes from Fireworks)"
_ID = r"[^/:]+"
_ACCT = r"/v1/accounts/(?P<acct>[^/:]+)"
_ID_RX = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_KEY_NAME_RX = re.compile(r"[A-Z_][A-Z0-9_]*")
_MAX_PAGE = 200
_DEFAULT_PAGE = 50
_MAX_TAR_MEMBERS = 5000

#: gRPC status codes, as the Fireworks REST gateway puts them in error bodies.
_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 412: 9, 429: 8, 500: 13, 501: 12, 502: 14, 503: 14, 504: 4}

#: Base models the stand-in knows under ``accounts/fireworks/models`` (a catalogue, not a copy).
_CATALOGUE = (MODELS.training_base, MODELS.eval_policy)

_TERMINAL_JOB = {"JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
                 "JOB_STATE_EARLY_STOPPED"}


# --------------------------------------------------------------------------- clock, timings, plans
class Clock:
    """Simulated time in seconds since the epoch, for the stand-in's state machines.

    It runs ``speed`` times as fast as the wall clock (``0`` freezes it) and jumps forward with
    :meth:`advance`, so a test can walk a job through every state without waiting.

    Args:
        speed: Simulated seconds per wall-clock second.
        start: Simulated time to start from (default: now).
    """

    def __init__(self, *, speed: float = 1.0, start: float | None = None) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._base = time.time() if start is None else float(start)
        self._wall = time.monotonic()

    def now(self) -> float:
        """The simulated time."""
        with self._lock:
            return self._base + (time.monotonic() - self._wall) * self._speed

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._base += seconds

    @property
    def speed(self) -> float:
        """Simulated seconds per wall-clock second (settable)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value < 0:
            raise ValueError("speed must be >= 0")
        now = self.now()
        with self._lock:
            self._base, self._wall, self._speed = now, time.monotonic(), float(value)


@dataclass(frozen=True)
class Timings:
    """How long each phase lasts, in simulated seconds (defaults: plausible orders of magnitude).

    Attributes:
        dataset_processing_s: From upload to ``READY``.
        evaluator_build_s: From ``validateUpload`` to ``ACTIVE`` (or ``BUILD_FAILED``).
        job_creating_s: ``JOB_STATE_CREATING``.
        job_pending_s: ``JOB_STATE_PENDING`` (waiting for capacity).
        job_validating_s: ``JOB_STATE_VALIDATING`` (dataset and evaluator checks).
        job_epoch_s: One epoch of ``JOB_STATE_RUNNING``.
        job_writing_results_s: ``JOB_STATE_WRITING_RESULTS``.
        job_cancelling_s: From ``:cancel`` to ``JOB_STATE_CANCELLED``.
        deployment_creating_s: ``CREATING`` to ``READY``.
        deployment_deleting_s: ``DELETING`` to gone.
        signed_url_ttl_s: How long a signed upload or download URL stays valid.
    """

    dataset_processing_s: float = 5.0
    evaluator_build_s: float = 120.0
    job_creating_s: float = 20.0
    job_pending_s: float = 60.0
    job_validating_s: float = 30.0
    job_epoch_s: float = 300.0
    job_writing_results_s: float = 60.0
    job_cancelling_s: float = 5.0
    deployment_creating_s: float = 300.0
    deployment_deleting_s: float = 30.0
    signed_url_ttl_s: float = 3600.0


@dataclass(frozen=True)
class BuildPlan:
    """How the next evaluator build ends.

    Attributes:
        outcome: ``ACTIVE``, ``BUILD_FAILED`` (with ``log`` in the build log and ``message`` as
            the status), or ``NEVER`` (stays ``BUILDING``).
        log: Extra build-log lines (a failed ``pip install``, say).
        message: The evaluator's status message when the build fails.
    """

    outcome: Literal["ACTIVE", "BUILD_FAILED", "NEVER"] = "ACTIVE"
    log: str = ""
    message: str = "evaluator image build failed (stand-in)"


@dataclass(frozen=True)
class JobPlan:
    """How the next RFT job ends.

    Attributes:
        outcome: ``COMPLETED``, ``FAILED``, ``EXPIRED`` or ``EARLY_STOPPED``.
        during: The state in which a non-completed outcome happens (``VALIDATING`` or ``RUNNING``).
        at_percent: How far through ``RUNNING`` it happens.
        message: The job's ``status.message``.
        code: The job's ``status.code`` (a gRPC code name).
    """

    outcome: Literal["COMPLETED", "FAILED", "EXPIRED", "EARLY_STOPPED"] = "COMPLETED"
    during: Literal["VALIDATING", "RUNNING"] = "RUNNING"
    at_percent: int = 40
    message: str = ""
    code: str = "INTERNAL"


@dataclass(frozen=True)
class DeploymentPlan:
    """How the next deployment comes up.

    Attributes:
        outcome: ``READY``, ``FAILED`` (with ``message``) or ``NEVER`` (stays ``CREATING``).
        message: The deployment's status message when it fails.
    """

    outcome: Literal["READY", "FAILED", "NEVER"] = "READY"
    message: str = "deployment failed to start (stand-in)"


@dataclass(frozen=True)
class Call:
    """One request in :meth:`FireworksStandin.transcript`: what the live run would have sent.

    Attributes:
        method: ``GET``, ``POST``, ...
        path: The path with its query string (no secrets).
        status: The status the stand-in answered.
    """

    method: str
    path: str
    status: int

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class _Fail(Exception):
    """Raised inside handlers: answered as a Fireworks-style error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- the server
class FireworksStandin(StandinServer):
    """The Fireworks control-plane stand-in: a threaded server on ``127.0.0.1``, as a context manager.

    Args:
        port: The port (0: any free one).
        speed: Simulated seconds per wall-clock second (``0``: only :meth:`advance` moves time).
        timings: Phase durations (simulated seconds).
        account_id: The one account this stand-in serves.
        state_dir: Keep every resource (and simulated time) in JSON files here, so a new
            stand-in on the same directory finds them; ``None`` keeps them in memory only.
        clock: A clock to share (overrides ``speed``).
    """

    def __init__(self, *, port: int = 0, speed: float = 1.0, timings: Timings | None = None,
                 account_id: str = STANDIN_ACCOUNT, state_dir: str | os.PathLike[str] | None = None,
                 clock: Clock | None = None) -> None:
        super().__init__(port=port, name=_SERVER_NAME)
        self.account_id = account_id
        self.timings = timings or Timings()
        self.clock = clock or Clock(speed=speed)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        #: A random key the stand-in accepts (any non-empty key works unless rejected).
        self.rehearsal_key = f"standin-rehearsal-{secrets.token_hex(12)}"
        self._db_lock = threading.RLock()
        self._db: dict[str, dict[str, dict[str, Any]]] = {
            k: {} for k in ("secrets", "datasets", "evaluators", "jobs", "deployments", "models")}
        self._blobs: dict[str, dict[str, Any]] = {}
        self._blob_data: dict[str, bytes] = {}
        self._rejected_keys: set[str] = set()
        self._reject_all = False
        self._forbidden: list[tuple[str | None, re.Pattern[str], int, str]] = []
        self._build_plans: dict[str, BuildPlan] = {}
        self._job_plans: dict[str, JobPlan] = {}
        self._deployment_plans: dict[str, DeploymentPlan] = {}
        self._counter = 0
        if self.state_dir is not None:
            self._load()
        self._routes_fireworks()

    # ------------------------------------------------------------------ public knobs
    @property
    def base_url(self) -> str:
        """The control-plane base URL for both eval-protocol and the SDK (``http://127.0.0.1:PORT``)."""
        return self.url

    def environment(self) -> dict[str, str]:
        """The environment that points eval-protocol and the ``fireworks`` SDK here.

        ``FIREWORKS_API_BASE`` (eval-protocol), ``FIREWORKS_BASE_URL`` (the SDK) and
        ``FIREWORKS_ACCOUNT_ID``. No key: pass one explicitly (:attr:`rehearsal_key`).
        """
        return {"FIREWORKS_API_BASE": self.url, "FIREWORKS_BASE_URL": self.url,
                "FIREWORKS_ACCOUNT_ID": self.account_id}

    @contextlib.contextmanager
    def activate(self) -> Iterator["FireworksStandin"]:
        """Set :meth:`environment` in ``os.environ`` for a ``with`` block, then restore it."""
        with patched_environ(self.environment()):
            yield self

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` and apply every transition that became due."""
        self.clock.advance(seconds)
        with self._db_lock:
            self._tick()
            self._save()

    @staticmethod
    def error(status: int, message: str | None = None, *, retry_after: float | None = None) -> Response:
        """A Fireworks-style error response to :meth:`push` (``{"code", "message", "details"}``).

        Args:
            status: HTTP status (401, 403, 429, 500, 503, ...).
            message: The message (default: a stand-in message naming the status).
            retry_after: ``Retry-After`` seconds (429 gets ``1`` unless given).
        """
        headers: dict[str, str] = {}
        if retry_after is not None or status == 429:
            headers["retry-after"] = _num(1 if retry_after is None else retry_after)
        text = message or f"stand-in fault: HTTP {status}"
        return Response.json({"code": _GRPC.get(status, 2), "message": text, "details": []}, status,
                             headers=headers)

    def reject_key(self, key: str | None = None) -> None:
        """Answer 401 to requests with ``key`` (``None``: to every key from now on)."""
        if key is None:
            self._reject_all = True
        else:
            self.add_secret(key)
            self._rejected_keys.add(key)

    def accept_keys(self) -> None:
        """Undo :meth:`reject_key`."""
        self._reject_all = False
        self._rejected_keys.clear()

    def forbid(self, method: str | None, path: str, *, message: str | None = None, status: int = 403) -> None:
        """Answer ``status`` (403 by default) to every request matching ``method`` and ``path``, lastingly.

        For a key whose user lacks a role on the account, or an account without billing.

        Args:
            method: Only this method (``None``: any).
            path: A regex matched against the path (``search``, so ``"reinforcementFineTuningJobs"`` works).
            message: The error message.
            status: The status to answer.
        """
        text = message or "stand-in: permission denied (the key's user lacks a role, or billing is not set up)"
        self._forbidden.append((method.upper() if method else None, re.compile(path), status, text))

    def allow_all(self) -> None:
        """Undo :meth:`forbid`."""
        self._forbidden.clear()

    def plan_build(self, plan: BuildPlan, *, evaluator_id: str | None = None) -> None:
        """How builds of ``evaluator_id`` (``None``: every evaluator without its own plan) end."""
        self._build_plans[evaluator_id or "*"] = plan

    def plan_job(self, plan: JobPlan, *, job_id: str | None = None) -> None:
        """How RFT job ``job_id`` (``None``: every job without its own plan) ends; read at creation."""
        self._job_plans[job_id or "*"] = plan

    def plan_deployment(self, plan: DeploymentPlan, *, deployment_id: str | None = None) -> None:
        """How deployment ``deployment_id`` (``None``: every one without its own plan) comes up."""
        self._deployment_plans[deployment_id or "*"] = plan

    def transcript(self, *, include_storage: bool = False) -> list[Call]:
        """The API requests received so far (method, path, status), no secrets.

        Args:
            include_storage: Also list the signed-URL uploads and downloads (not Fireworks API calls).
        """
        return [Call(r.method, r.path, r.status) for r in self.requests
                if include_storage or not r.path.startswith("/standin-storage/")]

    def resource(self, kind: str, resource_id: str) -> dict[str, Any] | None:
        """The JSON a GET of ``kind`` (``datasets``, ``evaluators``, ``jobs``, ``deployments``,
        ``models``, ``secrets``) ``resource_id`` would answer now, or ``None``."""
        with self._db_lock:
            self._tick()
            res = self._db[kind].get(resource_id)
            return None if res is None else self._render(kind, res)

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, request: Request) -> Response:
        self._learn_secrets(request)
        return super()._dispatch(request)

    def _learn_secrets(self, request: Request) -> None:
        """Register every key and secret value in ``request`` before it is recorded or answered."""
        self.add_secret(request.bearer)
        body = request.json()
        if not isinstance(body, dict):
            return
        if "/secrets" in request.path:
            self.add_secret(_str(body.get("value")))
        wandb = body.get("wandbConfig")
        if isinstance(wandb, dict):
            self.add_secret(_str(wandb.get("apiKey")))
        for key in body.get("directRouteApiKeys") or ():
            self.add_secret(_str(key))

    def _api(self, method: str, pattern: str, handler: Callable[[Request], Any], *, auth: bool = True,
             account: bool = True) -> None:
        def wrapped(request: Request) -> Response:
            try:
                if auth:
                    self._check_key(request)
                if account and request.params.get("acct") != self.account_id:
                    if not (request.method == "GET" and request.params.get("acct") == "fireworks"
                            and "/models" in request.path):
                        raise _Fail(403, f"the API key has no access to account {request.params.get('acct')!r} "
                                         f"(this stand-in serves only {self.account_id!r})")
                for m, rx, status, text in self._forbidden:
                    if (m in (None, request.method)) and rx.search(request.path):
                        raise _Fail(status, text)
                with self._db_lock:
                    self._tick()
                    out = handler(request)
                    # Every request saves, polls too: the saved clock is then the last time anyone
                    # looked, so a stand-in reopened on this state (the next notebook) does not go
                    # back to before a build or job it already reported finished.
                    self._save()
                return out if isinstance(out, Response) else Response.json(out)
            except _Fail as fail:
                return self.error(fail.status, fail.args[0])

        self.add_route(method, pattern, wrapped)

    def _check_key(self, request: Request) -> None:
        key = request.bearer
        if not key:
            raise _Fail(401, "missing API key: send 'Authorization: Bearer <FIREWORKS_API_KEY>'")
        if self._reject_all or key in self._rejected_keys:
            raise _Fail(401, "the API key is invalid or has been revoked (stand-in)")

    def _routes_fireworks(self) -> None:
        a, i = _ACCT, _ID
        self._api("GET", r"/verifyApiKey", self._verify_api_key, account=False)
        self._api("GET", r"/v1/accounts", self._list_accounts, account=False)
        self._api("GET", rf"{a}", self._get_account)
        # secrets
        self._api("GET", rf"{a}/secrets", lambda r: self._list(r, "secrets", "secrets"))
        self._api("POST", rf"{a}/secrets", self._create_secret)
        self._api("GET", rf"{a}/secrets/(?P<id>{i})", lambda r: self._get(r, "secrets"))
        self._api("PATCH", rf"{a}/secrets/(?P<id>{i})", self._update_secret)
        self._api("DELETE", rf"{a}/secrets/(?P<id>{i})", lambda r: self._delete_plain(r, "secrets"))
        # datasets
        self._api("GET", rf"{a}/datasets", lambda r: self._list(r, "datasets", "datasets"))
        self._api("POST", rf"{a}/datasets", self._create_dataset)
        self._api("GET", rf"{a}/datasets/(?P<id>{i})", lambda r: self._get(r, "datasets"))
        self._api("DELETE", rf"{a}/datasets/(?P<id>{i})", self._delete_dataset)
        self._api("POST", rf"{a}/datasets/(?P<id>{i}):upload", self._upload_dataset)
        self._api("POST", rf"{a}/datasets/(?P<id>{i}):getUploadEndpoint",
                  lambda r: self._upload_endpoint(r, "datasets"))
        self._api("POST", rf"{a}/datasets/(?P<id>{i}):validateUpload", self._validate_dataset)
        self._api("GET", rf"{a}/datasets/(?P<id>{i}):getDownloadEndpoint",
                  lambda r: self._download_endpoint(r, "datasets"))
        # evaluators
        self._api("POST", rf"{a}/evaluatorsV2", self._create_evaluator)
        self._api("GET", rf"{a}/evaluators", lambda r: self._list(r, "evaluators", "evaluators"))
        self._api("GET", rf"{a}/evaluators/(?P<id>{i})", lambda r: self._get(r, "evaluators"))
        self._api("PATCH", rf"{a}/evaluators/(?P<id>{i})", self._update_evaluator)
        self._api("DELETE", rf"{a}/evaluators/(?P<id>{i})", self._delete_evaluator)
        self._api("POST", rf"{a}/evaluators/(?P<id>{i}):getUploadEndpoint",
                  lambda r: self._upload_endpoint(r, "evaluators"))
        self._api("POST", rf"{a}/evaluators/(?P<id>{i}):validateUpload", self._validate_evaluator)
        self._api("GET", rf"{a}/evaluators/(?P<id>{i}):getBuildLogEndpoint", self._build_log_endpoint)
        self._api("GET", rf"{a}/evaluators/(?P<id>{i}):getSourceCodeSignedUrl",
                  lambda r: self._download_endpoint(r, "evaluators"))
        # RFT jobs
        jobs = rf"{a}/reinforcementFineTuningJobs"
        self._api("POST", jobs, self._create_job)
        self._api("GET", jobs, lambda r: self._list(r, "jobs", "reinforcementFineTuningJobs"))
        self._api("GET", rf"{jobs}/(?P<id>{i})", lambda r: self._get(r, "jobs"))
        self._api("DELETE", rf"{jobs}/(?P<id>{i})", self._delete_job)
        self._api("POST", rf"{jobs}/(?P<id>{i}):cancel", self._cancel_job)
        # deployments
        self._api("POST", rf"{a}/deployments", self._create_deployment)
        self._api("GET", rf"{a}/deployments", self._list_deployments)
        self._api("GET", rf"{a}/deployments/(?P<id>{i})", self._get_deployment)
        self._api("DELETE", rf"{a}/deployments/(?P<id>{i})", self._delete_deployment)
        # models
        self._api("GET", rf"{a}/models", self._list_models)
        self._api("GET", rf"{a}/models/(?P<id>{i})", self._get_model)
        self._api("DELETE", rf"{a}/models/(?P<id>{i})", self._delete_model)
        # signed URLs and dashboard pages (no Fireworks key: signed URLs carry their own token)
        self._api("PUT", r"/standin-storage/(?P<token>[0-9a-f]+)/(?P<file>[^/]+)", self._storage_put,
                  auth=False, account=False)
        self._api("GET", r"/standin-storage/(?P<token>[0-9a-f]+)/(?P<file>[^/]+)", self._storage_get,
                  auth=False, account=False)
        self._api("GET", r"/dashboard(?:/.*)?", self._dashboard, auth=False, account=False)

    # ------------------------------------------------------------------ account
    def _verify_api_key(self, request: Request) -> Response:
        return Response.json({"note": _NOTE}, headers={"x-fireworks-account-id": self.account_id})

    def _account(self) -> dict[str, Any]:
        return {"name": f"accounts/{self.account_id}", "displayName": "svgkit stand-in account (rehearsal)",
                "email": "rehearsal@svgkit-standin.invalid", "state": "READY",
                "status": {"code": "OK", "message": _NOTE}, "accountType": "ACCOUNT_TYPE_UNSPECIFIED"}

    def _list_accounts(self, request: Request) -> dict[str, Any]:
        return {"accounts": [self._account()], "nextPageToken": "", "totalSize": 1}

    def _get_account(self, request: Request) -> dict[str, Any]:
        return self._account()

    # ------------------------------------------------------------------ generic helpers
    def _name(self, kind: str, rid: str) -> str:
        segment = {"jobs": "reinforcementFineTuningJobs"}.get(kind, kind)
        return f"accounts/{self.account_id}/{segment}/{rid}"

    def _now(self) -> float:
        return self.clock.now()

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-standin-{self._counter:04d}-{secrets.token_hex(2)}"

    def _require(self, kind: str, rid: str) -> dict[str, Any]:
        res = self._db[kind].get(rid)
        if res is None or res.get("_gone"):
            label = {"jobs": "reinforcementFineTuningJob"}.get(kind, kind.rstrip("s"))
            raise _Fail(404, f"{label} {self._name(kind, rid)} not found")
        return res

    def _get(self, request: Request, kind: str) -> dict[str, Any]:
        return self._render(kind, self._require(kind, request.params["id"]))

    def _list(self, request: Request, kind: str, key: str, *, keep: Callable[[dict], bool] | None = None,
              items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        rows = items if items is not None else [r for r in self._db[kind].values() if not r.get("_gone")]
        if keep is not None:
            rows = [r for r in rows if keep(r)]
        rows.sort(key=lambda r: (r.get("_created", 0.0), r["name"]))
        try:
            size = min(int(request.query.get("pageSize") or _DEFAULT_PAGE), _MAX_PAGE)
            start = int(base64.urlsafe_b64decode(request.query["pageToken"]).decode()) \
                if request.query.get("pageToken") else 0
        except ValueError as exc:
            raise _Fail(400, f"invalid pageSize or pageToken: {exc}") from None
        size = size if size > 0 else _DEFAULT_PAGE
        page = rows[start:start + size]
        nxt = base64.urlsafe_b64encode(str(start + size).encode()).decode() if start + size < len(rows) else ""
        return {key: [self._render(kind, r) for r in page], "nextPageToken": nxt, "totalSize": len(rows)}

    def _delete_plain(self, request: Request, kind: str) -> dict[str, Any]:
        self._require(kind, request.params["id"])
        del self._db[kind][request.params["id"]]
        return {}

    def _new_id(self, rid: Any, what: str) -> str:
        if not isinstance(rid, str) or not _ID_RX.fullmatch(rid):
            raise _Fail(400, f"invalid {what} id {rid!r}: use 1-63 lower-case letters, digits and hyphens, "
                             "starting and ending with a letter or digit")
        return rid

    @staticmethod
    def _state(res: dict[str, Any], now: float) -> str:
        state = res["_schedule"][0][0]
        for name, at in res["_schedule"]:
            if at <= now:
                state = name
        return state

    @staticmethod
    def _entered(res: dict[str, Any], state: str) -> float | None:
        for name, at in res["_schedule"]:
            if name == state:
                return at
        return None

    def _render(self, kind: str, res: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        out = {k: v for k, v in res.items() if not k.startswith("_")}
        out["createTime"] = _ts(res["_created"])
        if "_schedule" in res:
            state = self._state(res, now)
            out["state"] = state
            changed = max(at for _, at in res["_schedule"] if at <= now) if any(
                at <= now for _, at in res["_schedule"]) else res["_created"]
            out["updateTime"] = _ts(changed)
            render = getattr(self, f"_render_{kind}", None)
            if render is not None:
                render(res, out, state, now)
        return out

    # ------------------------------------------------------------------ transitions
    def _tick(self) -> None:
        """Apply side effects of transitions that became due (idempotent)."""
        now = self._now()
        for job in self._db["jobs"].values():
            state = self._state(job, now)
            if state in ("JOB_STATE_COMPLETED", "JOB_STATE_EARLY_STOPPED") and not job.get("_model_done"):
                self._make_output_model(job, self._entered(job, state) or now)
                job["_model_done"] = True
        for rid, dep in list(self._db["deployments"].items()):
            if self._state(dep, now) == "DELETED":
                del self._db["deployments"][rid]

    # ------------------------------------------------------------------ secrets
    def _create_secret(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        key_name = body.get("keyName")
        rid = self._new_id(str(body.get("name") or "").rsplit("/", 1)[-1], "secret")
        if not isinstance(key_name, str) or not _KEY_NAME_RX.fullmatch(key_name):
            raise _Fail(400, f"invalid keyName {key_name!r}: use an environment-variable name (A-Z, 0-9, _)")
        if rid in self._db["secrets"]:
            raise _Fail(409, f"secret {self._name('secrets', rid)} already exists")
        self._db["secrets"][rid] = {"name": self._name("secrets", rid), "keyName": key_name,
                                    "_created": self._now(), "_has_value": bool(body.get("value"))}
        return self._render("secrets", self._db["secrets"][rid])

    def _update_secret(self, request: Request) -> dict[str, Any]:
        res = self._require("secrets", request.params["id"])
        body = _body(request)
        if isinstance(body.get("keyName"), str):
            if not _KEY_NAME_RX.fullmatch(body["keyName"]):
                raise _Fail(400, f"invalid keyName {body['keyName']!r}")
            res["keyName"] = body["keyName"]
        if body.get("value"):
            res["_has_value"] = True
        return self._render("secrets", res)

    # ------------------------------------------------------------------ datasets
    def _create_dataset(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        rid = self._new_id(body.get("datasetId"), "dataset")
        if rid in self._db["datasets"]:
            raise _Fail(409, f"dataset {self._name('datasets', rid)} already exists")
        spec = body.get("dataset") if isinstance(body.get("dataset"), dict) else {}
        allowed = ("displayName", "exampleCount", "format", "evalProtocol", "userUploaded", "externalUrl",
                   "sourceJobName")
        res = {k: spec[k] for k in allowed if k in spec}
        res.update({"name": self._name("datasets", rid), "status": {"code": "OK", "message": ""},
                    "_created": self._now(), "_schedule": [["UPLOADING", self._now()]], "_files": {}})
        res.setdefault("displayName", rid)
        res.setdefault("format", "FORMAT_UNSPECIFIED")
        self._db["datasets"][rid] = res
        return self._render("datasets", res)

    def _render_datasets(self, res: dict[str, Any], out: dict[str, Any], state: str, now: float) -> None:
        out.pop("files", None)

    def _dataset_ready_at(self, res: dict[str, Any], data: list[bytes]) -> None:
        rows = 0
        for blob in data:
            rows += _count_jsonl(blob)
        res["exampleCount"] = str(rows)
        res["estimatedTokenCount"] = str(sum(len(b) for b in data) // 4)
        res["_schedule"] = [res["_schedule"][0], ["READY", self._now() + self.timings.dataset_processing_s]]

    def _upload_dataset(self, request: Request) -> dict[str, Any]:
        rid = request.params["id"]
        res = self._require("datasets", rid)
        if self._state(res, self._now()) == "READY" or len(res["_schedule"]) > 1:
            raise _Fail(400, f"dataset {res['name']} already has its data; create a new dataset for new data")
        filename, data = _multipart_file(request)
        if not filename.endswith(".jsonl"):
            raise _Fail(400, f"dataset file must have a .jsonl extension, got {filename!r}")
        try:
            self._dataset_ready_at(res, [data])
        except ValueError as exc:
            raise _Fail(400, f"invalid dataset file {filename}: {exc}") from None
        token = self._store_blob("datasets", rid, filename, len(data), data)
        res["_files"] = {filename: token}
        return {"id": rid, "bytes": len(data), "created_at": int(self._now()), "filename": filename,
                "object": "file", "purpose": "fine-tune"}

    def _validate_dataset(self, request: Request) -> dict[str, Any]:
        res = self._require("datasets", request.params["id"])
        if len(res["_schedule"]) > 1:
            return {}
        tokens = list(res["_files"].values())
        missing = [name for name, t in res["_files"].items() if t not in self._blob_data]
        if not tokens or missing:
            raise _Fail(400, f"dataset {res['name']}: nothing uploaded yet for {', '.join(missing) or 'any file'}; "
                             "PUT each file to its signed URL first")
        try:
            self._dataset_ready_at(res, [self._blob_data[t] for t in tokens])
        except ValueError as exc:
            raise _Fail(400, f"invalid dataset file: {exc}") from None
        return {}

    def _delete_dataset(self, request: Request) -> dict[str, Any]:
        rid = request.params["id"]
        res = self._require("datasets", rid)
        now = self._now()
        for job in self._db["jobs"].values():
            if job["dataset"] == res["name"] and self._state(job, now) not in _TERMINAL_JOB:
                raise _Fail(400, f"dataset {res['name']} is in use by running job {job['name']}")
        del self._db["datasets"][rid]
        return {}

    # ------------------------------------------------------------------ signed URLs
    def _store_blob(self, kind: str, rid: str, filename: str, size: int, data: bytes | None) -> str:
        token = secrets.token_hex(16)
        self._blobs[token] = {"kind": kind, "id": rid, "file": filename, "size": size,
                              "expires": self._now() + self.timings.signed_url_ttl_s}
        if data is not None:
            self._blob_data[token] = data
            self._write_blob(token, data)
        return token

    def _signed(self, token: str, filename: str) -> str:
        return f"{self.url}/standin-storage/{token}/{filename}?X-Goog-Signature=standin-{token[:8]}"

    def _upload_endpoint(self, request: Request, kind: str) -> dict[str, Any]:
        rid = request.params["id"]
        res = self._require(kind, rid)
        sizes = _body(request).get("filenameToSize")
        if not isinstance(sizes, dict) or not sizes:
            raise _Fail(400, "filenameToSize must map each file name to its size in bytes")
        urls, files = {}, {}
        for filename, size in sizes.items():
            if "/" in filename or not str(size).isdigit():
                raise _Fail(400, f"invalid file entry {filename!r}: {size!r}")
            token = self._store_blob(kind, rid, filename, int(size), None)
            urls[filename], files[filename] = self._signed(token, filename), token
        res["_files"] = files  # the endpoint replaces the registered files, as Fireworks does
        return {"filenameToSignedUrls": urls}

    def _download_endpoint(self, request: Request, kind: str) -> dict[str, Any]:
        res = self._require(kind, request.params["id"])
        urls = {}
        for filename, token in res.get("_files", {}).items():
            data = self._blob_data.get(token)
            if data is not None:
                fresh = self._store_blob(kind, request.params["id"], filename, len(data), data)
                urls[filename] = self._signed(fresh, filename)
        return {"filenameToSignedUrls": urls}

    def _blob(self, request: Request) -> dict[str, Any]:
        blob = self._blobs.get(request.params["token"])
        if blob is None or blob["file"] != request.params["file"] or "X-Goog-Signature" not in request.query:
            raise _Fail(403, "signed URL is not valid (stand-in storage)")
        if self._now() > blob["expires"]:
            raise _Fail(400, "signed URL has expired (stand-in storage); request a new one")
        return blob

    def _storage_put(self, request: Request) -> Response:
        blob = self._blob(request)
        declared = request.headers.get("x-goog-content-length-range")
        size = len(request.body)
        if declared is not None and declared != f"{blob['size']},{blob['size']}":
            raise _Fail(400, f"X-Goog-Content-Length-Range {declared!r} does not match the signed size {blob['size']}")
        if size != blob["size"]:
            raise _Fail(400, f"uploaded {size} bytes but the signed URL is for {blob['size']}")
        self._blob_data[request.params["token"]] = request.body
        self._write_blob(request.params["token"], request.body)
        return Response(200, b"", content_type="text/plain")

    def _storage_get(self, request: Request) -> Response:
        blob = self._blob(request)
        if blob["kind"] == "logs":
            res = self._db["evaluators"].get(blob["id"])
            text = self._build_log(res) if res else "evaluator deleted\n"
            return Response.text(text, content_type="text/plain; charset=utf-8")
        data = self._blob_data.get(request.params["token"])
        if data is None:
            raise _Fail(404, "no object at this signed URL (stand-in storage)")
        return Response(200, data, content_type="application/octet-stream")

    # ------------------------------------------------------------------ evaluators
    def _create_evaluator(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        rid = self._new_id(body.get("evaluatorId"), "evaluator")
        if rid in self._db["evaluators"]:
            raise _Fail(409, f"evaluator {self._name('evaluators', rid)} already exists")
        spec = body.get("evaluator") if isinstance(body.get("evaluator"), dict) else {}
        allowed = ("displayName", "description", "commitHash", "entryPoint", "requirements", "criteria",
                   "defaultDataset")
        res = {k: spec[k] for k in allowed if k in spec}
        res.update({"name": self._name("evaluators", rid), "source": {"type": "TYPE_UPLOAD"},
                    "createdBy": "rehearsal@svgkit-standin.invalid", "_created": self._now(),
                    "_schedule": [["BUILDING", self._now()]], "_files": {}, "_log": ""})
        self._db["evaluators"][rid] = res
        return self._render("evaluators", res)

    def _render_evaluators(self, res: dict[str, Any], out: dict[str, Any], state: str, now: float) -> None:
        if state == "BUILD_FAILED":
            out["status"] = {"code": "FAILED_PRECONDITION", "message": res.get("_fail_message", "build failed")}
        elif state == "ACTIVE":
            out["status"] = {"code": "OK", "message": ""}
        else:
            waiting = "waiting for the code upload" if len(res["_schedule"]) == 1 and not res.get("_building") \
                else "building the evaluator image"
            out["status"] = {"code": "OK", "message": f"{waiting} (stand-in)"}

    def _update_evaluator(self, request: Request) -> dict[str, Any]:
        res = self._require("evaluators", request.params["id"])
        body = _body(request)
        for k in ("displayName", "description", "commitHash", "entryPoint", "requirements", "criteria",
                  "defaultDataset"):
            if k in body:
                res[k] = body[k]
        if request.query.get("prepareCodeUpload") == "true":
            res.update({"_schedule": [["BUILDING", self._now()]], "_files": {}, "_building": False, "_log": ""})
        return self._render("evaluators", res)

    def _validate_evaluator(self, request: Request) -> dict[str, Any]:
        rid = request.params["id"]
        res = self._require("evaluators", rid)
        tokens = [t for t in res["_files"].values() if t in self._blob_data]
        if not tokens:
            raise _Fail(400, f"evaluator {res['name']}: no code uploaded; PUT the tarball to the signed URL first")
        plan = self._build_plans.get(rid) or self._build_plans.get("*") or BuildPlan()
        filename = next(name for name, t in res["_files"].items() if t in tokens)
        problems, lines = _inspect_tarball(self._blob_data[tokens[0]], res.get("entryPoint"))
        now = self._now()
        lines.insert(0, f"{_NOTE}\nbuild of {res['name']} from {filename}")
        done = now + self.timings.evaluator_build_s
        if problems or plan.outcome == "BUILD_FAILED":
            lines += problems + ([plan.log] if plan.log else []) + ["ERROR: build failed"]
            res["_fail_message"] = problems[0] if problems else plan.message
            res["_schedule"] = [res["_schedule"][0], ["BUILD_FAILED", done]]
        elif plan.outcome == "ACTIVE":
            lines += ([plan.log] if plan.log else []) + ["build succeeded: evaluator is ACTIVE"]
            res["_schedule"] = [res["_schedule"][0], ["ACTIVE", done]]
        else:
            res["_schedule"] = [res["_schedule"][0]]
        res["_building"] = True
        res["_log"] = "\n".join(lines) + "\n"
        return {}

    def _build_log(self, res: dict[str, Any]) -> str:
        state = self._state(res, self._now())
        if not res.get("_building"):
            return f"{_NOTE}\nno build has started: the code has not been uploaded and validated\n"
        if state == "BUILDING":
            head = res["_log"].splitlines()[:2]
            return "\n".join(head) + "\nbuild in progress...\n"
        return res["_log"]

    def _build_log_endpoint(self, request: Request) -> dict[str, Any]:
        rid = request.params["id"]
        self._require("evaluators", rid)
        token = self._store_blob("logs", rid, "build.log", 0, None)
        return {"buildLogSignedUri": self._signed(token, "build.log")}

    def _delete_evaluator(self, request: Request) -> dict[str, Any]:
        rid = request.params["id"]
        res = self._require("evaluators", rid)
        now = self._now()
        for job in self._db["jobs"].values():
            if job["evaluator"] == res["name"] and self._state(job, now) not in _TERMINAL_JOB:
                raise _Fail(400, f"evaluator {res['name']} is in use by running job {job['name']}")
        del self._db["evaluators"][rid]
        return {}

    # ------------------------------------------------------------------ RFT jobs
    def _resolve(self, value: Any, kind: str, field_name: str) -> tuple[str, dict[str, Any]]:
        if not isinstance(value, str) or not value:
            raise _Fail(400, f"{field_name} is required")
        rid = value.rsplit("/", 1)[-1]
        full = value if value.startswith("accounts/") else self._name(kind, value)
        if full != self._name(kind, rid) or rid not in self._db[kind]:
            raise _Fail(404, f"{field_name} {full} not found")
        return full, self._db[kind][rid]

    def _create_job(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        rid = request.query.get("reinforcementFineTuningJobId") or self._next_id("rft")
        rid = self._new_id(rid, "reinforcement fine-tuning job")
        if rid in self._db["jobs"]:
            raise _Fail(409, f"reinforcementFineTuningJob {self._name('jobs', rid)} already exists")
        dataset_name, dataset = self._resolve(body.get("dataset"), "datasets", "dataset")
        evaluator_name, evaluator = self._resolve(body.get("evaluator"), "evaluators", "evaluator")
        training = dict(body.get("trainingConfig") or {})
        if not training.get("baseModel") and not training.get("warmStartFrom"):
            raise _Fail(400, "trainingConfig.baseModel (or warmStartFrom) is required")
        output = training.get("outputModel") or rid
        output = output if output.startswith("accounts/") else f"accounts/{self.account_id}/models/{output}"
        out_id = output.rsplit("/", 1)[-1]
        if output != f"accounts/{self.account_id}/models/{out_id}" or not _ID_RX.fullmatch(out_id):
            raise _Fail(400, f"invalid trainingConfig.outputModel {output!r}")
        now = self._now()
        if out_id in self._db["models"]:
            raise _Fail(409, f"output model {output} already exists; choose another outputModel")
        for other in self._db["jobs"].values():
            if other["trainingConfig"].get("outputModel") == output and self._state(other, now) not in _TERMINAL_JOB:
                raise _Fail(409, f"output model {output} is already the target of job {other['name']}")
        training["outputModel"] = output
        training.setdefault("epochs", 1)
        inference = dict(body.get("inferenceParameters") or {})
        inference.setdefault("responseCandidatesCount", 8)
        wandb = dict(body.get("wandbConfig") or {})
        wandb.pop("apiKey", None)  # write-only: never stored or returned
        res = {k: body[k] for k in ("displayName", "chunkSize", "lossConfig", "evalAutoCarveout",
                                     "evaluationDataset", "maxConcurrentRollouts", "maxConcurrentEvaluations",
                                     "nodeCount", "mcpServer") if k in body}
        res.update({"name": self._name("jobs", rid), "dataset": dataset_name, "evaluator": evaluator_name,
                    "trainingConfig": training, "inferenceParameters": inference,
                    "createdBy": "rehearsal@svgkit-standin.invalid", "_created": now})
        if wandb:
            res["wandbConfig"] = wandb
        rows = int(dataset.get("exampleCount") or 0)
        epochs = max(1, int(training["epochs"]))
        res["_total"] = rows * int(inference["responseCandidatesCount"]) * epochs
        res["_epochs"] = epochs
        plan = self._job_plans.get(rid) or self._job_plans.get("*") or JobPlan()
        not_ready = []
        if self._state(dataset, now) != "READY":
            not_ready.append(f"dataset {dataset_name} is not READY")
        if self._state(evaluator, now) != "ACTIVE":
            not_ready.append(f"evaluator {evaluator_name} is not ACTIVE")
        if not_ready:
            plan = JobPlan("FAILED", "VALIDATING", message="; ".join(not_ready), code="FAILED_PRECONDITION")
        res["_schedule"], res["_status"] = self._job_schedule(now, epochs, plan)
        self._db["jobs"][rid] = res
        return self._render("jobs", res)

    def _job_schedule(self, t: float, epochs: int, plan: JobPlan) -> tuple[list[list[Any]], dict[str, str]]:
        tm = self.timings
        sched: list[list[Any]] = [["JOB_STATE_CREATING", t]]
        t += tm.job_creating_s
        sched.append(["JOB_STATE_PENDING", t])
        t += tm.job_pending_s
        sched.append(["JOB_STATE_VALIDATING", t])
        t += tm.job_validating_s
        outcome = f"JOB_STATE_{plan.outcome}"
        status = {"code": plan.code if plan.outcome != "COMPLETED" else "OK",
                  "message": plan.message or ("" if plan.outcome == "COMPLETED" else
                                              f"job {plan.outcome.lower().replace('_', ' ')} (stand-in)")}
        if plan.outcome != "COMPLETED" and plan.during == "VALIDATING":
            sched.append([outcome, t])
            return sched, status
        sched.append(["JOB_STATE_RUNNING", t])
        running = epochs * tm.job_epoch_s
        if plan.outcome == "COMPLETED":
            t += running
            sched.append(["JOB_STATE_WRITING_RESULTS", t])
            sched.append(["JOB_STATE_COMPLETED", t + tm.job_writing_results_s])
        else:
            sched.append([outcome, t + running * max(0, min(100, plan.at_percent)) / 100])
        if plan.outcome == "EARLY_STOPPED":
            status["code"] = "OK"
        return sched, status

    def _render_jobs(self, res: dict[str, Any], out: dict[str, Any], state: str, now: float) -> None:
        run_start = self._entered(res, "JOB_STATE_RUNNING")
        frac = 0.0
        if run_start is not None and now >= run_start:
            later = [at for name, at in res["_schedule"] if at > run_start]
            run_end = min(later) if later else run_start + res["_epochs"] * self.timings.job_epoch_s
            planned = res["_epochs"] * self.timings.job_epoch_s
            frac = max(0.0, min(1.0, (min(now, run_end) - run_start) / planned)) if planned else 1.0
        total = res["_total"]
        done = int(total * frac)
        epoch = min(int(frac * res["_epochs"]), res["_epochs"] - 1)
        out["jobProgress"] = {"percent": int(frac * 100), "epoch": epoch, "totalInputRequests": total,
                              "totalProcessedRequests": done, "successfullyProcessedRequests": done,
                              "failedRequests": 0}
        if state in _TERMINAL_JOB:
            out["status"] = res["_status"] if state not in ("JOB_STATE_CANCELLED",) else res.get(
                "_cancel_status", {"code": "CANCELLED", "message": "cancelled"})
            end = self._entered(res, state) or now
            out["completedTime"] = _ts(end)
            used = max(0.0, min(end, now) - run_start) if run_start is not None and end > run_start else 0.0
            out["acceleratorSeconds"] = {"NVIDIA_H100_80GB": str(int(used))}
            if state in ("JOB_STATE_COMPLETED", "JOB_STATE_EARLY_STOPPED"):
                out["outputMetrics"] = json.dumps({
                    "note": f"{_NOTE}: no training happened, so there are no metrics",
                    "rollouts": done, "epochs": res["_epochs"]})
        else:
            out["status"] = {"code": "OK", "message": ""}

    def _cancel_job(self, request: Request) -> dict[str, Any]:
        res = self._require("jobs", request.params["id"])
        now = self._now()
        state = self._state(res, now)
        if state in _TERMINAL_JOB or state == "JOB_STATE_CANCELLING":
            raise _Fail(400, f"job {res['name']} is already {state}; nothing to cancel")
        res["_schedule"] = [e for e in res["_schedule"] if e[1] <= now]
        res["_schedule"] += [["JOB_STATE_CANCELLING", now],
                             ["JOB_STATE_CANCELLED", now + self.timings.job_cancelling_s]]
        res["_cancel_status"] = {"code": "CANCELLED", "message": "the job was cancelled by the user"}
        return {}

    def _delete_job(self, request: Request) -> dict[str, Any]:
        res = self._require("jobs", request.params["id"])
        if self._state(res, self._now()) not in _TERMINAL_JOB:
            raise _Fail(400, f"job {res['name']} is still running; cancel it before deleting it")
        del self._db["jobs"][request.params["id"]]
        return {}

    def _make_output_model(self, job: dict[str, Any], at: float) -> None:
        name = job["trainingConfig"]["outputModel"]
        mid = name.rsplit("/", 1)[-1]
        if mid in self._db["models"]:
            return
        training = job["trainingConfig"]
        self._db["models"][mid] = {
            "name": name, "displayName": f"{mid} (stand-in: no weights)", "kind": "HF_PEFT_ADDON",
            "description": f"{_NOTE}: a placeholder for the output of {job['name']}",
            "fineTuningJob": job["name"], "state": "READY", "status": {"code": "OK", "message": ""},
            "peftDetails": {"baseModel": training.get("baseModel") or training.get("warmStartFrom", ""),
                            "r": int(training.get("loraRank") or 8), "targetModules": ["all-linear"]},
            "public": False, "supportsLora": False, "_created": at}
        if training.get("maxContextLength"):
            self._db["models"][mid]["contextLength"] = int(training["maxContextLength"])

    # ------------------------------------------------------------------ deployments
    def _create_deployment(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        rid = self._new_id(request.query.get("deploymentId") or self._next_id("dep"), "deployment")
        if rid in self._db["deployments"]:
            raise _Fail(409, f"deployment {self._name('deployments', rid)} already exists")
        base = body.get("baseModel")
        if not isinstance(base, str) or not base.startswith("accounts/") or "/models/" not in base:
            raise _Fail(400, "baseModel must be a model name like accounts/<account>/models/<model>")
        acct, _, mid = base[len("accounts/"):].partition("/models/")
        if acct == self.account_id:
            model = self._db["models"].get(mid)
            if model is None:
                raise _Fail(404, f"model {base} not found")
        elif acct != "fireworks":
            raise _Fail(403, f"the API key has no access to model {base}")
        now = self._now()
        plan = self._deployment_plans.get(rid) or self._deployment_plans.get("*") or DeploymentPlan()
        sched: list[list[Any]] = [["CREATING", now]]
        if plan.outcome != "NEVER":
            sched.append([plan.outcome, now + self.timings.deployment_creating_s])
        keep = ("displayName", "description", "acceleratorType", "acceleratorCount", "minReplicaCount",
                "maxReplicaCount", "precision", "autoscalingPolicy", "maxContextLength", "enableAddons",
                "deploymentShape")
        res = {k: body[k] for k in keep if k in body}
        res.setdefault("acceleratorType", "NVIDIA_H100_80GB")
        res.setdefault("acceleratorCount", 1)
        res.setdefault("minReplicaCount", 0)
        res.setdefault("maxReplicaCount", 1)
        res.update({"name": self._name("deployments", rid), "baseModel": base, "_created": now,
                    "_schedule": sched, "_fail": plan.message,
                    "createdBy": "rehearsal@svgkit-standin.invalid"})
        self._db["deployments"][rid] = res
        return self._render("deployments", res)

    def _render_deployments(self, res: dict[str, Any], out: dict[str, Any], state: str, now: float) -> None:
        ready = 1 if state == "READY" else 0
        out["replicaCount"] = ready
        out["desiredReplicaCount"] = 0 if state in ("DELETING", "DELETED", "FAILED") else max(
            1, int(res.get("minReplicaCount") or 0))
        out["status"] = {"code": "FAILED_PRECONDITION", "message": res["_fail"]} if state == "FAILED" else {
            "code": "OK", "message": ""}
        if state in ("DELETING", "DELETED"):
            out["deleteTime"] = _ts(self._entered(res, "DELETING") or now)

    def _get_deployment(self, request: Request) -> dict[str, Any]:
        return self._get(request, "deployments")

    def _list_deployments(self, request: Request) -> dict[str, Any]:
        return self._list(request, "deployments", "deployments")

    def _delete_deployment(self, request: Request) -> dict[str, Any]:
        res = self._require("deployments", request.params["id"])
        now = self._now()
        if self._state(res, now) not in ("DELETING", "DELETED"):
            res["_schedule"] = [e for e in res["_schedule"] if e[1] <= now]
            res["_schedule"] += [["DELETING", now], ["DELETED", now + self.timings.deployment_deleting_s]]
        return {}

    # ------------------------------------------------------------------ models
    def _public_model(self, mid: str) -> dict[str, Any] | None:
        for full in _CATALOGUE:
            if full == f"accounts/fireworks/models/{mid}":
                return {"name": full, "displayName": f"{mid} (stand-in catalogue entry, no weights)",
                        "kind": "HF_BASE_MODEL", "state": "READY", "status": {"code": "OK", "message": ""},
                        "public": True, "supportsLora": True, "tunable": True, "rlTunable": True,
                        "description": _NOTE, "_created": 1_700_000_000.0}
        return None

    def _get_model(self, request: Request) -> dict[str, Any]:
        mid = request.params["id"]
        if request.params["acct"] == "fireworks":
            res = self._public_model(mid)
            if res is None:
                raise _Fail(404, f"model accounts/fireworks/models/{mid} not found")
            return self._render("models", res)
        return self._get(request, "models")

    def _list_models(self, request: Request) -> dict[str, Any]:
        if request.params["acct"] == "fireworks":
            items = [m for m in (self._public_model(f.rsplit("/", 1)[-1]) for f in _CATALOGUE) if m]
            return self._list(request, "models", "models", items=items)
        return self._list(request, "models", "models")

    def _delete_model(self, request: Request) -> dict[str, Any]:
        mid = request.params["id"]
        res = self._require("models", mid)
        for dep in self._db["deployments"].values():
            if dep["baseModel"] == res["name"] and self._state(dep, self._now()) not in ("DELETING", "DELETED"):
                raise _Fail(400, f"model {res['name']} is deployed on {dep['name']}; delete the deployment first")
        del self._db["models"][mid]
        return {}

    # ------------------------------------------------------------------ dashboard
    def _dashboard(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        kinds = {"evaluators": "evaluators", "datasets": "datasets", "deployments": "deployments",
                 "reinforcement": "jobs", "models": "models"}
        found = None
        with self._db_lock:
            self._tick()
            for part in parts:
                if part in kinds and parts[-1] != part:
                    res = self._db[kinds[part]].get(parts[-1])
                    found = self._render(kinds[part], res) if res else None
        detail = (f"<pre>{_html(json.dumps(found, indent=2))}</pre>" if found
                  else "<p>No such resource on this stand-in.</p>")
        page = (f"<!doctype html><title>svgkit stand-in</title><h1>Not the Fireworks dashboard</h1>"
                f"<p>{_html(_NOTE)}. On Fireworks this link opens the dashboard page for "
                f"<code>{_html(request.path)}</code>.</p>{detail}")
        return Response.text(page)

    # ------------------------------------------------------------------ persistence
    def _state_file(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / "fireworks-standin.json"

    def _write_blob(self, token: str, data: bytes) -> None:
        if self.state_dir is not None:
            folder = self.state_dir / "blobs"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / token).write_bytes(data)

    def _save(self) -> None:
        path = self._state_file()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"note": _NOTE, "version": 1, "account_id": self.account_id, "clock": self.clock.now(),
               "counter": self._counter, "db": self._db, "blobs": self._blobs}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
        tmp.replace(path)

    def _load(self) -> None:
        path = self._state_file()
        if path is None or not path.is_file():
            return
        doc = json.loads(path.read_text())
        if doc.get("account_id") != self.account_id:
            raise ValueError(f"{path} belongs to account {doc.get('account_id')!r}, not {self.account_id!r}")
        self.clock = Clock(speed=self.clock.speed, start=max(float(doc["clock"]), self.clock.now()))
        self._counter = int(doc.get("counter", 0))
        self._db.update(doc["db"])
        self._blobs = doc.get("blobs", {})
        for token in self._blobs:
            blob = self.state_dir / "blobs" / token if self.state_dir else None
            if blob is not None and blob.is_file():
                self._blob_data[token] = blob.read_bytes()


# --------------------------------------------------------------------------- helpers
def _ts(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _str(x: Any) -> str | None:
    return x if isinstance(x, str) and x else None


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _body(request: Request) -> dict[str, Any]:
    body = request.json()
    if body is None and request.body:
        raise _Fail(400, "the request body is not valid JSON")
    if body is not None and not isinstance(body, dict):
        raise _Fail(400, "the request body must be a JSON object")
    return body or {}


def _multipart_file(request: Request) -> tuple[str, bytes]:
    """The ``file`` part of a ``multipart/form-data`` body: (filename, bytes)."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise _Fail(400, "upload a multipart/form-data body with a 'file' part")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + request.body)
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            return part.get_filename() or "upload.jsonl", part.get_payload(decode=True) or b""
    raise _Fail(400, "the multipart body has no 'file' part")


def _count_jsonl(data: bytes) -> int:
    """Rows of a JSONL file; ``ValueError`` naming the first bad line."""
    rows = 0
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise ValueError(f"line {n} is not JSON") from None
        if not isinstance(row, dict):
            raise ValueError(f"line {n} is not a JSON object")
        rows += 1
    if not rows:
        raise ValueError("the file has no rows")
    return rows


def _inspect_tarball(data: bytes, entry_point: str | None) -> tuple[list[str], list[str]]:
    """What a build would find in the uploaded tarball: (problems, log lines). Nothing is extracted."""
    lines = [f"received {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"]
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            names = []
            for member in tar:
                names.append(member.name)
                if len(names) > _MAX_TAR_MEMBERS:
                    return [f"the tarball has more than {_MAX_TAR_MEMBERS} files"], lines
    except (tarfile.TarError, OSError, EOFError) as exc:
        return [f"the upload is not a gzipped tar archive ({type(exc).__name__})"], lines
    roots = {n.split("/", 1)[0] for n in names}
    files = {n.split("/", 1)[1] for n in names if "/" in n}
    lines.append(f"archive root {', '.join(sorted(roots)) or '(none)'}: {len(files)} files")
    problems = []
    if "requirements.txt" not in files:
        problems.append("requirements.txt not found at the top of the uploaded directory")
    else:
        lines.append("would run: pip install -r requirements.txt (the stand-in installs nothing)")
    if "Dockerfile" in files:
        lines.append("would build the image from the uploaded Dockerfile (the stand-in builds nothing)")
    if entry_point:
        path = entry_point.split("::", 1)[0]
        if path.endswith(".py") and path not in files:
            problems.append(f"entry point file {path} not found in the upload")
        else:
            lines.append(f"entry point {entry_point}")
    return problems, lines


def main(argv: list[str] | None = None) -> int:
    """``python -m svgkit.standin.fireworks``: serve the stand-in until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m svgkit.standin.fireworks",
        description="A local stand-in of the Fireworks REST API for rehearsals (not Fireworks).")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per real second (60: a 20-minute job takes 20 s)")
    parser.add_argument("--state-dir", default=None, help="keep resources in JSON files here across restarts")
    parser.add_argument("--account", default=STANDIN_ACCOUNT, help="the account id it serves")
    args = parser.parse_args(argv)
    standin = FireworksStandin(port=args.port, speed=args.speed, state_dir=args.state_dir, account_id=args.account)
    with standin:
        print(f"svgkit Fireworks stand-in (a local rehearsal server, not Fireworks) on {standin.url}")
        print("Point eval-protocol and the fireworks SDK at it:")
        for k, v in standin.environment().items():
            print(f"  export {k}={v}")
        print("  export FIREWORKS_API_KEY=<any non-empty value; never your real key>")
        print(f"Clock speed {args.speed:g}x; state {'in ' + args.state_dir if args.state_dir else 'in memory'}. "
              "Ctrl-C stops it.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
