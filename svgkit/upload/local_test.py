"""The free preflight (as ``ep local-test --ignore-docker``): run the staged bundle the way Fireworks will, here.

:func:`preflight` runs the bundle from its own folder, in a fresh virtual environment built
from the bundle's ``requirements.txt`` only (svgkit comes from the bundle, never from this
checkout), exactly as ``ep local-test --ignore-docker`` does (eval-protocol 0.3.33,
``cli_commands/local_test.py``)::

    python -m pytest --ep-success-threshold 0.001 test_svg_drawing.py::test_svg_drawing -vs

on the offline example rows (``SVGKIT_MODE=offline``: bundled answers, the rule judge, no
keys, no network). An all-zero score fails, as it does for ``ep local-test``. It proves that
the bundle imports without the checkout and that cairo draws there, and it costs nothing.

The environment is cached by the hash of ``requirements.txt`` (in the user cache folder, or
``SVGKIT_PREFLIGHT_VENVS``), so a rerun with the same requirements takes seconds. Three
things differ from a bare ``ep local-test``, all to leave the bundle exactly as staged:
pytest's cache plugin is off (``PYTEST_ADDOPTS``), no bytecode is written, and results and
example rows go to a temporary folder (``EP_OUTPUT_DIR``, ``SVGKIT_OUTPUT_DIR``). The bundle's
hash is checked again afterwards.

Where Docker works, ``preflight(..., docker=True)`` also builds the bundle's image and runs the
same command in it, as ``ep local-test`` without ``--ignore-docker`` would.
"""

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import UPLOAD
from ..evaluation import RowScore, read_results
from .bundle import Bundle, read_bundle

__all__ = [
    "DockerStatus",
    "PreflightResult",
    "PreflightVenv",
    "Status",
    "docker_status",
    "preflight",
    "preflight_command",
    "preflight_venv",
]

#: How a preflight ended.
Status = Literal["passed", "failed", "infrastructure failure", "timed out"]

#: Marker written into a venv once ``pip install`` finished; a venv without it is rebuilt.
_READY = ".svgkit-preflight-ready"
#: Environment variables the preflight passes through (no keys: the run is offline).
_PASS_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "TZ", "PIP_INDEX_URL",
             "PIP_EXTRA_INDEX_URL", "PIP_CACHE_DIR", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST", "XDG_CACHE_HOME",
             "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE")


@dataclass(frozen=True)
class DockerStatus:
    """Whether Docker can build and run the bundle's image here.

    Attributes:
        available: ``True`` when a Docker daemon answered.
        detail: What was found, in one sentence.
    """

    available: bool
    detail: str


@dataclass(frozen=True)
class PreflightVenv:
    """The virtual environment a preflight ran in.

    Attributes:
        python: Its interpreter.
        key: The first 16 hex digits of the ``requirements.txt`` hash it was built from.
        reused: ``True`` when it came from the cache.
        seconds: Time spent building it (0 when reused).
    """

    python: Path
    key: str
    reused: bool
    seconds: float


@dataclass(frozen=True)
class PreflightResult:
    """What the preflight showed.

    Attributes:
        status: ``passed``; ``failed`` (pytest failed: an import error, a failed threshold);
            ``infrastructure failure`` (the machinery, not the answers, failed: most often no
            cairo); ``timed out``.
        reason: One sentence on why.
        bundle_sha256: The bundle this ran on (an upload checks it is still the same).
        command: The pytest command, as ``ep local-test --ignore-docker`` runs it.
        returncode: pytest's exit code.
        venv: The environment it ran in.
        test_seconds: Wall time of the pytest run.
        scores: Every scored row.
        output_tail: The last lines of pytest's output.
        docker: Whether Docker was available (and, if asked, what it did).
        imported_from_bundle: ``import svgkit`` in the bundle folder found the bundle's copy.
        notes: Anything else worth knowing (cairo failing to load, Docker asked for but missing).
        live_collection: ``ok``, or why pytest could not even collect the evaluator with the
            variables Fireworks may set (``FIREWORKS_API_KEY``, the judge's key) present: on
            Fireworks that would fail every evaluation.
    """

    status: Status
    reason: str
    bundle_sha256: str
    command: tuple[str, ...]
    returncode: int
    venv: PreflightVenv
    test_seconds: float
    scores: tuple[RowScore, ...]
    output_tail: str
    docker: DockerStatus
    imported_from_bundle: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)
    live_collection: str = ""

    @property
    def ok(self) -> bool:
        """``True`` when the bundle passed."""
        return self.status == "passed"

    @property
    def n_valid(self) -> int:
        """Rows with a valid score."""
        return sum(s.valid for s in self.scores)

    @property
    def mean_score(self) -> float:
        """Mean over the valid rows (what Eval Protocol reports)."""
        valid = [s.score for s in self.scores if s.valid]
        return sum(valid) / len(valid) if valid else 0.0

    def table(self) -> str:
        """Markdown summary: status, scores, times, environment, Docker."""
        venv = f"a fresh venv with only `requirements.txt` installed, cached by its hash (`{self.venv.key}`)"
        lines = [
            "| preflight | |", "|---|---|",
            f"| status | **{self.status}**: {self.reason} |",
            f"| command (in the bundle folder) | `{' '.join(self.command)}` |",
            f"| rows scored | {len(self.scores)} ({len(self.scores) - self.n_valid} invalid) |",
            f"| mean score (valid rows) | {self.mean_score:.3f} |",
            f"| svgkit imported from | {'the bundle' if self.imported_from_bundle else '**not the bundle**'} |",
            f"| pytest time | {self.test_seconds:.1f} s |",
            f"| environment | {venv} |",
            f"| Docker | {self.docker.detail} |",
        ]
        if self.live_collection:
            shown = "ok" if self.live_collection == "ok" else f"**FAILED**: {self.live_collection}"
            lines.append(f"| collects with `FIREWORKS_API_KEY` and the judge's key set | {shown} |")
        lines += [f"| note | {n} |" for n in self.notes]
        return "\n".join(lines)

    def scores_table(self, *, limit: int = 10) -> str:
        """Markdown: the first ``limit`` scored rows with their reasons."""
        lines = ["| row | score | valid | reason |", "|---|---:|---|---|"]
        for s in self.scores[:limit]:
            reason = s.reason.replace("|", "/").replace("\n", " ")
            reason = reason if len(reason) <= 90 else reason[:89] + "…"
            lines.append(f"| {s.row_id} | {s.score:.2f} | {'yes' if s.valid else 'no'} | {reason} |")
        if len(self.scores) > limit:
            lines.append(f"| … {len(self.scores) - limit} more | | | |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.table()

    def __repr__(self) -> str:  # no local paths in notebooks or logs
        return f"PreflightResult({self.status}: {self.reason})"


# =========================================================================== docker
def docker_status(*, timeout_s: float = 15.0) -> DockerStatus:
    """Whether a Docker daemon answers here (``docker info``)."""
    unavailable = "no working Docker here (no docker CLI, or no daemon answering): the image is built on Fireworks only"
    exe = shutil.which("docker")
    if exe is None:
        return DockerStatus(False, unavailable)
    try:
        proc = subprocess.run([exe, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                              timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return DockerStatus(False, unavailable)
    if proc.returncode != 0 or not proc.stdout.strip():
        return DockerStatus(False, unavailable)
    return DockerStatus(True, "Docker is available: preflight(..., docker=True) also builds and runs the image")


# =========================================================================== the venv
def _venv_root() -> Path:
    configured = os.environ.get("SVGKIT_PREFLIGHT_VENVS")
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("svgkit")) / UPLOAD.venv_cache_dir


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _base_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASS_ENV if k in os.environ}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1")
    return env


def preflight_venv(bundle: Bundle, *, rebuild: bool = False) -> PreflightVenv:
    """A virtual environment with exactly the bundle's ``requirements.txt`` installed (cached by its hash).

    Built with this Python (the one the requirements were pinned from) and ``pip install -r``;
    pip's own download cache is used. A half-built environment (interrupted) is rebuilt.

    Raises:
        RuntimeError: ``pip install`` failed (its last lines are in the message).
    """
    key = bundle.requirements_sha256[:16]
    root = _venv_root()
    path = root / key
    python = path / "bin" / "python"
    with _locked(root / f"{key}.lock"):
        if not rebuild and (path / _READY).is_file() and python.exists():
            return PreflightVenv(python, key, True, 0.0)
        start = time.perf_counter()
        shutil.rmtree(path, ignore_errors=True)
        env = _base_env()
        steps = [[sys.executable, "-m", "venv", str(path)],
                 [str(python), "-m", "pip", "install", "-q", "-r", str(bundle.root / "requirements.txt")]]
        for cmd in steps:
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=UPLOAD.venv_build_timeout_s)
            except subprocess.TimeoutExpired as exc:
                raise RuntimeError(f"building the preflight environment timed out after "
                                   f"{UPLOAD.venv_build_timeout_s:.0f} s ({cmd[2]})") from exc
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise RuntimeError(f"building the preflight environment failed ({' '.join(cmd[2:4])}):\n{tail}")
        (path / _READY).write_text(bundle.requirements_sha256 + "\n")
        return PreflightVenv(python, key, False, time.perf_counter() - start)


# =========================================================================== the run
def preflight_command() -> tuple[str, ...]:
    """The command ``ep local-test --ignore-docker`` runs in the evaluator folder (``python`` = the venv's)."""
    return ("python", "-m", "pytest", "--ep-success-threshold", f"{UPLOAD.success_threshold:g}",
            f"{UPLOAD.entry_file}::{UPLOAD.entry_function}", "-vs")


def _classify(returncode: int, scores: Sequence[RowScore], output: str, timed_out: float | None,
              from_bundle: bool) -> tuple[Status, str]:
    invalid = [s for s in scores if not s.valid]
    if timed_out is not None:
        return "timed out", f"pytest did not finish within {timed_out:g} s"
    if not from_bundle:
        return "failed", "svgkit was not imported from the bundle: the bundle is not self-contained"
    infra = [s for s in invalid if "not the answer's fault" in s.reason or "renderer unavailable" in s.reason]
    if scores and len(infra) * 2 >= len(scores):
        return "infrastructure failure", (f"{len(infra)} of {len(scores)} rows could not be scored, not because "
                                          f"of the answers: {infra[0].reason}")
    if returncode == 0 and scores:
        return "passed", (f"{len(scores)} rows scored, {len(invalid)} invalid, "
                          f"mean {sum(s.score for s in scores if s.valid) / max(1, len(scores) - len(invalid)):.3f}")
    if not scores:
        lines = [ln for ln in output.splitlines() if "Error" in ln or "error" in ln]
        return "failed", f"pytest exit code {returncode} and no rows scored" + (f": {lines[-1].strip()}" if lines
                                                                                 else "")
    return "failed", (f"pytest exit code {returncode}: the mean score is below the "
                      f"{UPLOAD.success_threshold:g} threshold or a row failed")


def _imports_from_bundle(python: Path, bundle: Bundle, env: Mapping[str, str]) -> tuple[bool, str]:
    """Whether ``import svgkit`` in the bundle folder picks the bundle's copy (and cairo loads)."""
    code = ("import os, svgkit; print(os.path.realpath(svgkit.__file__))\n"
            "import cairosvg  # the cairo C library loads here or not at all\n")
    proc = subprocess.run([str(python), "-c", code], cwd=bundle.root, env=dict(env), capture_output=True,
                          text=True, timeout=120)
    first = proc.stdout.strip().splitlines()[:1]
    inside = bool(first) and Path(first[0]).is_relative_to(bundle.root.resolve())
    problem = (proc.stderr.strip().splitlines() or [""])[-1] if proc.returncode else ""
    return inside, problem


def preflight(folder: Path | str, *, max_rows: int | None = None, docker: bool = False,
              extra_env: Mapping[str, str] | None = None, rebuild_venv: bool = False,
              timeout_s: float = UPLOAD.preflight_timeout_s, progress: bool = False) -> PreflightResult:
    """Run the staged bundle as Fireworks will, offline and free, and report the outcome.

    Args:
        folder: The staged bundle (from :func:`svgkit.upload.stage_bundle`).
        max_rows: Score only the first this many example rows (Eval Protocol's ``EP_MAX_DATASET_ROWS``;
            default: all 86).
        docker: Also build the image and run the same command in it, where Docker works.
        extra_env: More environment for the run (tests use it to hide cairo); never keys.
        rebuild_venv: Build the environment again even if one is cached.
        timeout_s: Longest the pytest run may take.
        progress: Show a progress bar naming the phase (building the environment, running pytest).

    Raises:
        svgkit.upload.BundleError: ``folder`` is not a bundle, or holds a secret.
        RuntimeError: The environment could not be built, or the run changed the bundle.
    """
    bundle = read_bundle(folder)
    with _phases(progress) as phase:
        phase("building the environment from requirements.txt (first run only: a minute or two)")
        venv = preflight_venv(bundle, rebuild=rebuild_venv)
        phase(f"running pytest in the bundle folder ({'all' if max_rows is None else max_rows} example rows)")
        return _run(bundle, venv, max_rows=max_rows, docker=docker, extra_env=extra_env, timeout_s=timeout_s)


@contextlib.contextmanager
def _phases(enabled: bool) -> Iterator[Any]:
    """A two-step progress bar whose description names the current phase (nothing when disabled)."""
    if not enabled:
        yield lambda text: None
        return
    from tqdm.auto import tqdm

    with tqdm(total=2, desc="preflight") as bar:
        started = False

        def phase(text: str) -> None:
            nonlocal started
            if started:
                bar.update(1)
            started = True
            bar.set_description_str(f"preflight: {text}")
        yield phase
        bar.update(1)
        bar.set_description_str("preflight: done")


def _run(bundle: Bundle, venv: PreflightVenv, *, max_rows: int | None, docker: bool,
         extra_env: Mapping[str, str] | None, timeout_s: float) -> PreflightResult:
    with tempfile.TemporaryDirectory(prefix="svgkit-preflight-") as work:
        env = _base_env()
        env["PATH"] = os.pathsep.join([str(venv.python.parent), env.get("PATH", "")])
        env.update(VIRTUAL_ENV=str(venv.python.parent.parent), SVGKIT_MODE="offline", EP_NO_UPLOAD="1",
                   LITELLM_LOCAL_MODEL_COST_MAP="True", EP_PRINT_SUMMARY="1", MPLBACKEND="Agg",
                   PYTEST_ADDOPTS="-p no:cacheprovider", EP_OUTPUT_DIR=str(Path(work) / "ep_results"),
                   SVGKIT_OUTPUT_DIR=str(Path(work) / "outputs"),
                   SVGKIT_JUDGE_CACHE=str(Path(work) / "judge-cache.sqlite"),
                   PYTHONPYCACHEPREFIX=str(Path(work) / "pycache"))
        if max_rows is not None:
            env["EP_MAX_DATASET_ROWS"] = str(int(max_rows))
        env.update(extra_env or {})
        from_bundle, import_problem = _imports_from_bundle(venv.python, bundle, env)
        cmd = [str(venv.python), *preflight_command()[1:]]
        start = time.perf_counter()
        timed_out = None
        try:
            proc = subprocess.run(cmd, cwd=bundle.root, env=env, capture_output=True, text=True, timeout=timeout_s)
            returncode, output = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            timed_out, returncode = timeout_s, 124
            output = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                             for x in (exc.stdout, exc.stderr))
        seconds = time.perf_counter() - start
        scores = tuple(read_results(Path(work) / "ep_results"))
        live_collection = _collect_with_keys(venv.python, bundle, env, Path(work))
    status, reason = _classify(returncode, scores, output, timed_out, from_bundle)
    notes = []
    if import_problem:
        notes.append(f"`import cairosvg` in the environment: {import_problem}")
    dstatus = docker_status()
    if docker and dstatus.available:
        dstatus = _docker_run(bundle)
    elif docker:
        notes.append("Docker was asked for but is not available here")
    after = read_bundle(bundle.root)
    if after.sha256 != bundle.sha256:
        raise RuntimeError("the preflight changed the bundle (a file was added or modified): stage it again")
    tail = "\n".join(output.strip().splitlines()[-15:])
    return PreflightResult(status, reason, bundle.sha256, preflight_command(), returncode, venv, seconds, scores,
                           tail, dstatus, from_bundle, tuple(notes), live_collection)


#: Stand-ins for the keys Fireworks may hand the evaluator; nothing is called with them (collection only).
_PLACEHOLDER_KEYS = {"FIREWORKS_API_KEY": "svgkit-preflight-placeholder-not-a-key",
                     "OPENAI_API_KEY": "svgkit-preflight-placeholder-not-a-key"}


def _collect_with_keys(python: Path, bundle: Bundle, env: Mapping[str, str], work: Path) -> str:
    """``ok``, or why ``pytest --collect-only`` fails when the evaluator starts with keys set (as on Fireworks).

    Collection imports the evaluator module, which chooses its plan and judge from the
    environment; nothing is sent anywhere. The example-rows folder is a fresh one, as on Fireworks.
    """
    child = {k: v for k, v in env.items() if k != "SVGKIT_MODE"}
    child.update(_PLACEHOLDER_KEYS, SVGKIT_OUTPUT_DIR=str(work / "outputs-as-on-fireworks"))
    cmd = [str(python), "-m", "pytest", "--collect-only", "-q", f"{UPLOAD.entry_file}::{UPLOAD.entry_function}"]
    try:
        proc = subprocess.run(cmd, cwd=bundle.root, env=child, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "pytest --collect-only did not finish within 120 s"
    if proc.returncode == 0:
        return "ok"
    lines = (proc.stdout + proc.stderr).splitlines()
    errors = [ln[1:].strip() for ln in lines if ln.startswith("E   ")] or [ln for ln in lines if ln.startswith("ERROR")]
    return (errors[-1] if errors else f"pytest --collect-only exit code {proc.returncode}").replace(str(work), "…")


def _docker_run(bundle: Bundle) -> DockerStatus:
    """Build the bundle's image and run the preflight command in it (as ``ep local-test`` does)."""
    tag = f"svgkit-evaluator:{bundle.short_hash}"
    build = subprocess.run(["docker", "build", "-t", tag, str(bundle.root)], capture_output=True, text=True,
                           timeout=UPLOAD.venv_build_timeout_s)
    if build.returncode != 0:
        tail = (build.stdout + build.stderr).strip().splitlines()[-3:]
        return DockerStatus(True, f"image build FAILED: {' / '.join(tail)}")
    run = subprocess.run(["docker", "run", "--rm", "-e", "SVGKIT_MODE=offline", "-e", "EP_NO_UPLOAD=1",
                          "-e", "PYTEST_ADDOPTS=-p no:cacheprovider", "-e", "SVGKIT_OUTPUT_DIR=/tmp/svgkit-outputs",
                          tag, "pytest", *preflight_command()[3:]],
                         capture_output=True, text=True, timeout=UPLOAD.preflight_timeout_s)
    verdict = "passed" if run.returncode == 0 else f"FAILED (exit code {run.returncode})"
    return DockerStatus(True, f"image `{tag}` built; the same command in it {verdict}")
