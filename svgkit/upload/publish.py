"""Put the staged evaluator on Fireworks (or rehearse it on the local stand-in) and know its state.

Everything goes through :class:`svgkit.fireworks_api.FireworksApi` (the ``fireworks`` SDK, and
eval-protocol's ``create_evaluation`` for the code upload) of the notebook's session,
:func:`svgkit.rehearsal.open_platform`:

- live: Fireworks itself, when the notebook's ``GO_LIVE`` opt-in is set and ``FIREWORKS_API_KEY``
  is there; each write (the secret, the upload, the deletion) needs its own opt-in as well;
- rehearsal: :class:`svgkit.standin.fireworks.FireworksStandin`, a server on 127.0.0.1 that speaks
  the same API, with the same code and clients. Nothing leaves the machine, so the secret and
  the upload are rehearsed without opt-ins (deleting still asks: notebook 04's rehearsal needs
  the evaluator), and :func:`requests_table` shows what the live run would have sent.

The steps:

1. :func:`uploaded_judge` says which judge the uploaded evaluator will use, from the account's
   secrets (Fireworks passes them to the evaluator as environment variables);
   :func:`check_judge_secret` looks, :func:`put_judge_secret` creates or updates the key (never
   shown or logged).
2. :func:`upload_evaluator` checks that the bundle is the one the preflight passed, refuses a
   rule-judged upload unless asked for, then creates, replaces or reuses the evaluator: its
   description records the bundle's hash, so an unchanged bundle reuses the evaluator and a
   changed one replaces it, and says so. It proves the code landed (the uploaded files are read
   back and compared with the bundle) and waits, with a deadline and a progress bar, until the
   evaluator is ACTIVE or BUILD_FAILED (then with the tail of the build log).
3. :func:`delete_evaluator` removes it (safe to rerun).
"""

import contextlib
import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import PLATFORM, UPLOAD, Secret, get_settings
from ..fireworks_api import Progress, dashboard_url
from ..rehearsal import PlatformSession
from .bundle import Bundle, read_bundle

__all__ = [
    "JUDGE_KEY_NAMES",
    "JUDGE_SETTING_NAMES",
    "Action",
    "JudgeSecretCheck",
    "SecretPut",
    "UploadOutcome",
    "UploadRefused",
    "UploadedJudge",
    "check_judge_secret",
    "delete_evaluator",
    "put_judge_secret",
    "requests_table",
    "upload_evaluator",
    "upload_summary",
    "uploaded_judge",
]

#: What an upload did (or, planned, would do) with the evaluator on Fireworks.
Action = Literal["created", "replaced", "reused", "planned", "nothing to do"]

#: The environment variables that carry the judge's key, strongest first (see svgkit.config).
JUDGE_KEY_NAMES = ("SVGKIT_JUDGE_API_KEY", "OPENAI_API_KEY")
#: Settings of the vision judge the evaluator also reads from its environment.
JUDGE_SETTING_NAMES = ("SVGKIT_JUDGE_BASE_URL", "SVGKIT_JUDGE_MODEL")


class UploadRefused(RuntimeError):
    """The upload was not attempted: the message says what to do first."""


# =========================================================================== waits
def _waits(session: Any, timeout_s: float | None) -> tuple[float, float]:
    """Poll interval and deadline of a wait in wall seconds: the live values, divided by the
    stand-in's clock speed in a rehearsal (a 2-minute build is rehearsed in a fraction of a second)."""
    clock = getattr(session.standin, "clock", None) if session.standin is not None else None
    speed = max(1.0, float(getattr(clock, "speed", 1.0) or 1.0))
    timeout = timeout_s if timeout_s is not None else PLATFORM.evaluator_build_timeout_s / speed
    return PLATFORM.poll_interval_s / speed, float(timeout)


# =========================================================================== the judge
@dataclass(frozen=True)
class UploadedJudge:
    """Which judge the uploaded evaluator will score with.

    Attributes:
        judge: ``vision`` or ``rule``.
        model: The vision judge's model (``None`` for the rule judge).
        key_name: The environment variable its key comes from on Fireworks (a secret), if any.
        safe_for_training: ``False`` when live rollouts would be scored by the offline rule judge.
        reason: One sentence on why.
    """

    judge: Literal["vision", "rule"]
    model: str | None
    key_name: str | None
    safe_for_training: bool
    reason: str


def uploaded_judge(secret_names: Iterable[str]) -> UploadedJudge:
    """The judge the evaluator will use on Fireworks, given the names of the account's secrets.

    Fireworks gives the evaluator its account's secrets as environment variables, so this runs
    the evaluator's own choice (:mod:`svgkit.config` and :func:`svgkit.judge.default_judge`) on an
    environment holding exactly those names. Today that choice falls back to the rule judge,
    silently, when no judge key is there; the reward-safety issue turns that into a refusal
    unless the rule judge is chosen explicitly. This function is the one place to align with it.
    """
    names = set(secret_names)
    env = {n: "(a Fireworks secret)" for n in names if n != "SVGKIT_MODE"}
    remote = get_settings(env, read_dotenv=False)
    key_name = next((n for n in JUDGE_KEY_NAMES if n in names), None)
    if remote.mode("judge") == "live":
        model = "a model set by the SVGKIT_JUDGE_MODEL secret" if "SVGKIT_JUDGE_MODEL" in names else remote.judge_model
        where = " on the endpoint in the SVGKIT_JUDGE_BASE_URL secret" if "SVGKIT_JUDGE_BASE_URL" in names else ""
        return UploadedJudge("vision", model, key_name, True,
                             f"the account has the secret {key_name}, so the evaluator asks the vision judge{where}")
    return UploadedJudge("rule", None, None, False,
                         f"none of {', '.join(JUDGE_KEY_NAMES)} is among the account's secrets, so the evaluator "
                         "would score live rollouts with the offline rule judge: a poor training reward")


def _local_values() -> dict[str, str]:
    """The judge's variables as svgkit reads them here (environment over ``.env``)."""
    from dotenv import dotenv_values, find_dotenv

    values: dict[str, str] = {}
    path = find_dotenv(usecwd=True)
    if path:
        values.update({k: v for k, v in dotenv_values(path).items() if v})
    values.update({k: v for k, v in os.environ.items() if v})
    return {k: v for k, v in values.items() if k in JUDGE_KEY_NAMES + JUDGE_SETTING_NAMES}


def _judge_key_name(local: Mapping[str, str]) -> str:
    """The variable to upload the key as: the one set here (``SVGKIT_JUDGE_API_KEY`` first)."""
    return next((n for n in JUDGE_KEY_NAMES if local.get(n)), "OPENAI_API_KEY")


@dataclass(frozen=True)
class JudgeSecretCheck:
    """What the account has and what the upload needs for the judge (names only, never values).

    Attributes:
        key_name: The secret the evaluator needs (``OPENAI_API_KEY``, or ``SVGKIT_JUDGE_API_KEY``).
        on_account: Whether the account has it.
        set_here: Whether it is set locally (so :func:`put_judge_secret` can upload it).
        settings_needed: Judge settings set here that the evaluator also needs as secrets
            (``SVGKIT_JUDGE_BASE_URL``, ``SVGKIT_JUDGE_MODEL``), with whether the account has each.
        judge: The judge the evaluator would use with the account's secrets as they are.
        rehearsal: ``True`` when this looked at the stand-in's account.
    """

    key_name: str
    on_account: bool
    set_here: bool
    settings_needed: tuple[tuple[str, bool], ...]
    judge: UploadedJudge
    rehearsal: bool

    def table(self) -> str:
        """Markdown: the secrets the evaluator needs, and the judge it will use."""
        where = "stand-in account" if self.rehearsal else "Fireworks account"
        rows = [(self.key_name, self.on_account, self.set_here)] + [(n, has, True) for n, has in self.settings_needed]
        lines = [f"| secret | on the {where} | set here |", "|---|---|---|"]
        lines += [f"| `{n}` | {'yes' if has else '**no**'} | {'yes' if here else 'no'} |" for n, has, here in rows]
        model = f" ({self.judge.model})" if self.judge.model else ""
        lines += ["", f"The uploaded evaluator will score with the **{self.judge.judge} judge**{model}: "
                  f"{self.judge.reason}."]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()


def check_judge_secret(session: PlatformSession) -> JudgeSecretCheck:
    """Whether the account has the judge's key as a secret, and which judge the evaluator will use.

    Args:
        session: From :func:`svgkit.rehearsal.open_platform` (live, or the stand-in).
    """
    names = {s.key_name for s in session.api.list_secrets()}
    local = _local_values()
    key = _judge_key_name(local)
    needed = tuple((n, n in names) for n in JUDGE_SETTING_NAMES if local.get(n))
    return JudgeSecretCheck(key, key in names, bool(local.get(key)), needed, uploaded_judge(names), session.rehearsal)


@dataclass(frozen=True)
class SecretPut:
    """What :func:`put_judge_secret` did (names only).

    Attributes:
        action: ``created``, ``replaced`` (an existing secret updated), ``planned`` (the opt-in is
            off) or ``nothing to do`` (no local value).
        names: The secrets written (or that would be).
        message: One sentence for the notebook.
    """

    action: Action
    names: tuple[str, ...]
    message: str

    def _repr_markdown_(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message


def put_judge_secret(session: PlatformSession, *, allow: bool) -> SecretPut:
    """Create or update the judge's key (and its judge settings) as account secrets, from this environment.

    Live, nothing is written unless ``allow`` is true. A rehearsal with no local key stores a
    random placeholder on the stand-in, and says so. Values are never shown, logged or returned.

    Args:
        target: From :func:`open_target`.
        allow: The cell's explicit opt-in (live only).
    """
    local = _local_values()
    key = _judge_key_name(local)
    names = (key, *(n for n in JUDGE_SETTING_NAMES if local.get(n)))
    existing = {s.key_name for s in session.api.list_secrets()}
    values = {n: Secret(local.get(n)) for n in names}
    placeholder = False
    if not values[key]:
        if not session.rehearsal:
            return SecretPut("nothing to do", (), f"{key} is not set here, so there is nothing to upload: set it in "
                             "the environment or .env and rerun this cell (or add it in the Fireworks dashboard).")
        values[key], placeholder = Secret("rehearsal-placeholder-" + os.urandom(12).hex()), True
    action: Action = "replaced" if key in existing else "created"
    listed = ", ".join(f"`{n}`" for n in names)
    if not allow and not session.rehearsal:
        return SecretPut("planned", names, f"Would {'update' if action == 'replaced' else 'create'} {listed} on "
                         "Fireworks from this environment: set ALLOW_SECRET = True in this cell to do it.")
    for name in names:
        session.api.put_secret(name, values[name])
    note = " (a random placeholder: no judge key is set here)" if placeholder else " (value not shown)"
    where = "the stand-in" if session.rehearsal else "Fireworks"
    verb = "Updated" if action == "replaced" else "Created"
    return SecretPut(action, names, f"{verb} {listed} on {where}{note}.")


# =========================================================================== upload
@dataclass(frozen=True)
class UploadOutcome:
    """What :func:`upload_evaluator` did and where the evaluator stands.

    Attributes:
        action: ``created``, ``replaced`` (the bundle changed, or the last build failed),
            ``reused`` (unchanged bundle, nothing uploaded) or ``planned`` (live without the opt-in).
        evaluator_id: The evaluator.
        state: ``ACTIVE``, ``BUILD_FAILED``, ``BUILDING`` (planned) or ``absent`` (planned, none yet).
        bundle_sha256: The bundle's hash.
        previous_sha256: The hash recorded on the evaluator before, if any.
        code_verified: The uploaded files were read back and match the bundle file for file.
        judge: The judge it scores with.
        dashboard_url: Its page on the Fireworks dashboard (for a rehearsal: the page it would have live).
        message: What happened, in a sentence or two.
        build_log_tail: The end of the build log after BUILD_FAILED.
        rehearsal: ``True`` on the stand-in.
        seconds: Wall time of the wait.
    """

    action: Action
    evaluator_id: str
    state: str
    bundle_sha256: str
    previous_sha256: str | None
    code_verified: bool
    judge: UploadedJudge
    dashboard_url: str
    message: str
    build_log_tail: str = ""
    rehearsal: bool = False
    seconds: float = 0.0
    states: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """``True`` when the evaluator is ACTIVE (ready for RFT)."""
        return self.state == "ACTIVE"

    def table(self) -> str:
        """Markdown: the outcome, with the build log's tail after a failure."""
        lines = [
            "| evaluator | |", "|---|---|",
            f"| id | `{self.evaluator_id}`{' (on the stand-in)' if self.rehearsal else ''} |",
            f"| action | {self.action} |",
            f"| state | **{self.state}** |",
            f"| bundle | `{self.bundle_sha256[:12]}`" + (f" (was `{self.previous_sha256[:12]}`)" if self.previous_sha256
                                                         and self.previous_sha256 != self.bundle_sha256 else "") + " |",
            f"| code read back and compared | {'yes, file for file' if self.code_verified else 'no'} |",
            f"| judge | {self.judge.judge}" + (f" ({self.judge.model})" if self.judge.model else "") + " |",
            f"| dashboard | {self.dashboard_url}" + (" (live; the rehearsal's page is on the stand-in)"
                                                     if self.rehearsal else "") + " |",
            "", self.message,
        ]
        if self.build_log_tail:
            lines += ["", "Build log (last lines):", "", "```", self.build_log_tail.rstrip(), "```"]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()


def _recorded_hash(description: str | None) -> str | None:
    text = description or ""
    at = text.find(UPLOAD.bundle_hash_marker)
    if at < 0:
        return None
    digest = text[at + len(UPLOAD.bundle_hash_marker):][:64]
    return digest if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None


def _description(bundle: Bundle) -> str:
    return (f"svgkit SVG-drawing evaluator (extract, sanitise, render, judge each requirement); "
            f"{UPLOAD.bundle_hash_marker}{bundle.sha256}")


def _uploaded_files(source: Mapping[str, bytes]) -> dict[str, str] | None:
    """``path -> sha256`` of the files in the uploaded tarball (its top folder removed), or ``None``."""
    for data in source.values():
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                out = {}
                for member in tar:
                    if member.isfile() and "/" in member.name:
                        fh = tar.extractfile(member)
                        out[member.name.split("/", 1)[1]] = hashlib.sha256(fh.read() if fh else b"").hexdigest()
                return out
        except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile):
            continue
    return None


def _verify_code(session: PlatformSession, evaluator_id: str, bundle: Bundle) -> tuple[bool, str]:
    files = _uploaded_files(session.api.evaluator_source(evaluator_id))
    if files is None:
        return False, "the service gave no readable copy of the uploaded code, so it could not be compared"
    expected = {f.path: f.sha256 for f in bundle.files}
    if files != expected:
        missing = sorted(set(expected) - set(files))
        extra = sorted(set(files) - set(expected))
        changed = sorted(p for p in set(files) & set(expected) if files[p] != expected[p])
        raise UploadRefused(f"the code that landed on evaluator {evaluator_id} is not the staged bundle (missing "
                            f"{missing or 'none'}, extra {extra or 'none'}, different {changed or 'none'}): "
                            "stage, preflight and upload again")
    return True, ""


@contextlib.contextmanager
def _progress_bar(enabled: bool, evaluator_id: str) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    with tqdm(total=1, desc=f"evaluator {evaluator_id}") as bar:
        yield bar
        bar.update(1)


def upload_evaluator(bundle: Bundle, *, session: PlatformSession, preflight: Any, allow: bool,
                     allow_rule_judge: bool = False, evaluator_id: str = UPLOAD.evaluator_id,
                     timeout_s: float | None = None, progress: bool = True) -> UploadOutcome:
    """Create, replace or reuse the evaluator from the staged bundle, and wait until it is ACTIVE or BUILD_FAILED.

    Args:
        bundle: From :func:`svgkit.upload.stage_bundle`; its folder is uploaded as it is now.
        target: From :func:`open_target` (or any object with ``api``, ``standin`` and ``rehearsal``).
        preflight: The passed :class:`svgkit.upload.PreflightResult` of this very bundle.
        allow: The cell's explicit opt-in; live, without it nothing is written and the outcome
            says what would happen. Rehearsals always run.
        allow_rule_judge: Upload even though the evaluator would score with the offline rule judge.
        evaluator_id: The evaluator's id.
        timeout_s: Longest wait for the build, in wall seconds (default: ``PLATFORM.evaluator_build_timeout_s``,
            divided by the stand-in's clock speed in a rehearsal).
        progress: Show a progress bar while waiting.

    Returns:
        The outcome; a build that failed is an outcome with ``state == "BUILD_FAILED"`` and the
        tail of its build log, not an exception.

    Raises:
        UploadRefused: No passed preflight of this bundle, the bundle changed since, a rule-judged
            upload not asked for, or the code that landed differs from the bundle.
        svgkit.upload.BundleError: The folder holds something staging never writes, or a secret.
        svgkit.fireworks_api.FireworksApiError: 401 (the key), 403 (role or billing), 429, 5xx, or
            :class:`~svgkit.fireworks_api.WaitTimeoutError` (still building at the deadline); each
            message says what to do in one sentence.
    """
    current = read_bundle(bundle.root)
    if current.sha256 != bundle.sha256:
        raise UploadRefused(f"{bundle.root} changed since it was staged ({bundle.short_hash} -> {current.short_hash}): "
                            "stage it again and rerun the preflight")
    if preflight is None or getattr(preflight, "bundle_sha256", None) != bundle.sha256:
        raise UploadRefused("no preflight of this bundle: run svgkit.upload.preflight(bundle.root) first "
                            "(it is free and catches a broken bundle before Fireworks builds it)")
    if not preflight.ok:
        raise UploadRefused(f"the preflight of this bundle did not pass ({preflight.status}: {preflight.reason}): "
                            "fix that first")
    api = session.api
    judge = uploaded_judge(s.key_name for s in api.list_secrets())
    if not judge.safe_for_training and not allow_rule_judge:
        raise UploadRefused(f"refusing to upload: {judge.reason}. Store the judge's key first "
                            "(put_judge_secret), or pass allow_rule_judge=True to choose the rule judge on purpose")
    url = api.dashboard_url("evaluator", evaluator_id)
    shown_url = dashboard_url("evaluator", evaluator_id) if session.rehearsal else url
    existing = api.get_evaluator(evaluator_id)
    previous = _recorded_hash(existing.description) if existing else None
    same = existing is not None and previous == bundle.sha256
    where = "the stand-in" if session.rehearsal else "Fireworks"

    if same and existing.state in ("ACTIVE", "BUILDING"):
        action: Action = "reused"
        message = (f"The bundle is unchanged ({bundle.short_hash}): reusing evaluator {evaluator_id} on {where}, "
                   "nothing uploaded.")
    elif existing is not None:
        action = "replaced"
        why = ("its last build failed" if same else
               f"the bundle changed ({previous[:12] if previous else 'not recorded'} -> {bundle.short_hash})")
        message = f"Replaced evaluator {evaluator_id} on {where}: {why}."
    else:
        action = "created"
        message = f"Created evaluator {evaluator_id} on {where} from bundle {bundle.short_hash}."

    if action != "reused" and not allow and not session.rehearsal:
        verb = {"replaced": "replace", "created": "create"}[action]
        return UploadOutcome("planned", evaluator_id, existing.state if existing else "absent", bundle.sha256, previous,
                             False, judge, shown_url, f"Would {verb} evaluator {evaluator_id} from bundle "
                             f"{bundle.short_hash}: set ALLOW_UPLOAD = True in this cell to do it.")
    verified = False
    if action != "reused":
        api.create_evaluator(bundle.root, evaluator_id, entry_point=bundle.entry_point, display_name=evaluator_id,
                             description=_description(bundle), replace=existing is not None)
        verified, note = _verify_code(session, evaluator_id, bundle)
        if note:
            message += f" Note: {note}."
    states: list[str] = []

    def on_progress(p: Progress) -> None:
        if not states or states[-1] != p.state:
            states.append(p.state)
        if bar is not None:
            bar.set_postfix_str(f"{p.state} · {url}", refresh=True)

    with _progress_bar(progress, evaluator_id) as bar:
        poll_s, deadline_s = _waits(session, timeout_s)
        info = api.wait_for_evaluator(evaluator_id, timeout_s=deadline_s, poll_s=poll_s,
                                      on_progress=on_progress)
    tail = info.build_log_tail or ""
    if info.state == "BUILD_FAILED":
        message += (f" The build FAILED ({info.status_message or 'no reason given'}): read the build log below, fix "
                    "the cause, stage and preflight again, then rerun this cell (it replaces the failed evaluator).")
    else:
        message += " It is ACTIVE: RFT jobs can use it (notebook 04)."
    return UploadOutcome(action, evaluator_id, info.state, bundle.sha256, previous, verified, judge, shown_url, message,
                         tail, session.rehearsal, states=tuple(states))


def delete_evaluator(session: PlatformSession, *, allow: bool, evaluator_id: str = UPLOAD.evaluator_id) -> str:
    """Delete the evaluator if ``allow``; safe to rerun: a missing one is not an error.

    Unlike the other writes this asks for the opt-in in rehearsals too: the stand-in keeps its
    resources under ``outputs/standin`` and notebook 04's rehearsal trains with this evaluator.

    Returns:
        One sentence saying what happened.
    """
    where = "the stand-in" if session.rehearsal else "Fireworks"
    if not allow:
        exists = session.api.get_evaluator(evaluator_id) is not None
        return (f"Evaluator {evaluator_id} is {'still there' if exists else 'not there'} on {where}; set "
                "ALLOW_DELETE = True in this cell to delete it (notebook 04 needs it for training).")
    if session.api.delete_evaluator(evaluator_id):
        return f"Deleted evaluator {evaluator_id} on {where}."
    return f"Evaluator {evaluator_id} does not exist on {where}: nothing to delete."


# =========================================================================== what was sent
def requests_table(session: PlatformSession) -> str:
    """Markdown: the requests a rehearsal sent, in order (what the live run would have sent; no secrets).

    Repeated identical requests (the polls of a wait, whose number depends on timing) are folded
    into one row marked ``repeated``, and signed-URL transfers are shown without their token.
    """
    if not session.rehearsal:
        return "Live run: the requests went to Fireworks (the stand-in records requests in rehearsals only)."
    rows: list[list[Any]] = []
    for call in session.standin.transcript(include_storage=True):
        path = call.path.split("?")[0]
        if path.startswith("/standin-storage/"):
            path = f"(signed URL: {path.rsplit('/', 1)[-1]})"
        if rows and rows[-1][:3] == [call.method, path, call.status]:
            rows[-1][3] += 1
        else:
            rows.append([call.method, path, call.status, 1])
    lines = ["| # | method | path | status | sent |", "|---:|---|---|---:|---|"]
    lines += [f"| {i} | {m} | `{p}` | {s} | {'once' if n == 1 else 'repeated'} |"
              for i, (m, p, s, n) in enumerate(rows, 1)]
    return "\n".join(lines)


def upload_summary(*, bundle: Bundle, restaged: Bundle, preflight: Any, outcome: UploadOutcome,
                   rerun: UploadOutcome) -> str:
    """Markdown: notebook 03's closing figures (deterministic offline: no times, ports or run history)."""
    valid = preflight.n_valid
    built = outcome.state == "ACTIVE" and rerun.action == "reused" and rerun.bundle_sha256 == bundle.sha256
    lines = [
        "| figure | value |", "|---|---|",
        f"| bundle staged twice, same tarball hash | {'yes' if restaged.sha256 == bundle.sha256 else '**no**'} |",
        f"| preflight (as `ep local-test --ignore-docker`) | {preflight.status}: {len(preflight.scores)} rows, "
        f"{len(preflight.scores) - valid} invalid, mean {preflight.mean_score:.3f}; svgkit from "
        f"{'the bundle' if preflight.imported_from_bundle else 'elsewhere'} |",
        f"| judge of the uploaded evaluator | {outcome.judge.judge} |",
        f"| evaluator{' (rehearsal)' if outcome.rehearsal else ''} | {outcome.state}, built from this bundle: "
        f"{'yes' if built else 'no'} |",
        f"| same bundle uploaded again | {rerun.action} |",
    ]
    return "\n".join(lines)
