"""Stage the evaluator bundle: exactly what goes to Fireworks, nothing else, byte for byte the same.

``eval_protocol.evaluation.create_evaluation`` tars the *current directory*, so what it uploads
is whatever that folder holds. :func:`stage_bundle` writes a folder that holds only:

- the evaluator test file at the top level (``test_svg_drawing.py``, a copy of ``svgkit/evaluator.py``);
- the svgkit modules it imports, found by following its imports (every ``import``, lazy ones
  included), and the package data those modules name (``svgkit/data/prompts.jsonl``, ...);
- ``requirements.txt``: every distribution those imports need, with their dependencies, pinned
  to the versions installed here;
- a ``Dockerfile`` in the upstream quickstart's style that installs cairo and the fonts.

Staging refuses (:class:`BundleError`) when a file looks like a secret or the bundle exceeds
``UPLOAD.max_bundle_bytes``. The same inputs always give the same files, the same modification
times and the same :attr:`Bundle.sha256`: the hash of a tarball with sorted entries, fixed
times and no owners, which identifies the bundle on Fireworks (see :mod:`svgkit.upload.publish`).
"""

import ast
import gzip
import hashlib
import importlib.metadata as metadata
import io
import math
import os
import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from ..config import UPLOAD, output_path

__all__ = [
    "Bundle",
    "BundleError",
    "BundleFile",
    "Role",
    "SecretFinding",
    "dockerfile_text",
    "pinned_requirements",
    "read_bundle",
    "scan_for_secrets",
    "stage_bundle",
    "tarball_bytes",
    "third_party_imports",
    "trace_modules",
]

#: What a file in the bundle is for.
Role = Literal["evaluator", "module", "data", "requirements", "dockerfile"]

#: The package whose modules are traced and copied.
_PACKAGE = "svgkit"


class BundleError(RuntimeError):
    """The bundle cannot be staged or used as it is (a secret, too large, unexpected files)."""


@dataclass(frozen=True)
class BundleFile:
    """One file of the bundle.

    Attributes:
        path: Path inside the bundle, with ``/`` separators.
        size: Size in bytes.
        sha256: Hex digest of its content.
        role: Why it is there: ``evaluator``, ``module``, ``data``, ``requirements`` or ``dockerfile``.
    """

    path: str
    size: int
    sha256: str
    role: Role


@dataclass(frozen=True)
class SecretFinding:
    """Something in a file that looks like a secret (never the value itself).

    Attributes:
        path: The file, relative to the bundle.
        line: Line number (0 when the file name itself is the finding).
        kind: What it looks like (``OpenAI-style key``, ``high-entropy token``, ...).
    """

    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.kind}"


@dataclass(frozen=True)
class Bundle:
    """A staged evaluator bundle.

    Attributes:
        root: The staging folder (upload from here).
        files: Every file, sorted by path.
        sha256: Hash of the reproducible tarball of the folder: the bundle's identity.
        requirements_sha256: Hash of ``requirements.txt`` (the preflight venv is cached by it).
        entry_point: What Fireworks runs: ``test_svg_drawing.py::test_svg_drawing``.
    """

    root: Path
    files: tuple[BundleFile, ...]
    sha256: str
    requirements_sha256: str
    entry_point: str

    @property
    def total_bytes(self) -> int:
        """Sum of the file sizes."""
        return sum(f.size for f in self.files)

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of :attr:`sha256`."""
        return self.sha256[:12]

    def table(self) -> str:
        """Markdown: every file with its role and size, then the total and the tarball hash."""
        lines = ["| file | role | size |", "|---|---|---:|"]
        lines += [f"| `{f.path}` | {f.role} | {f.size:,} B |" for f in self.files]
        lines.append(f"| **{len(self.files)} files** | | **{self.total_bytes:,} B** |")
        lines += ["", f"Tarball sha256 `{self.sha256}` · entry point `{self.entry_point}`"]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.table()

    def __repr__(self) -> str:  # no local paths in notebooks or logs
        return f"Bundle({len(self.files)} files, {self.total_bytes:,} B, sha256 {self.short_hash})"


# =========================================================================== tracing imports
def _package_root() -> Path:
    """The ``svgkit`` folder of this checkout (or installation)."""
    return Path(__file__).resolve().parents[1]


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterable[tuple[str, tuple[str, ...]]]:
    """Every absolute module name imported anywhere in ``tree`` (with the names taken from it)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            names = tuple(a.name for a in node.names)
            if node.level:
                parts = module.split(".")
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, names


def _module_file(name: str, package_root: Path) -> Path | None:
    """The file of svgkit module ``name`` (``svgkit.judge`` -> ``.../svgkit/judge.py``), if any."""
    parts = name.split(".")
    if parts[0] != _PACKAGE:
        return None
    base = package_root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py") if len(parts) > 1 else None, base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _module_name(path: Path, package_root: Path) -> tuple[str, bool]:
    rel = path.relative_to(package_root).with_suffix("")
    parts = [_PACKAGE, *rel.parts]
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def trace_modules(entry: Path, *, package_root: Path | None = None) -> tuple[list[Path], set[str]]:
    """Follow the imports of ``entry``: the svgkit modules it needs and the other top-level imports.

    Every ``import`` statement counts, including those inside functions (a lazy import runs
    on the evaluator's machine too). A package's ``__init__.py`` comes with each of its modules.

    Args:
        entry: The evaluator file.
        package_root: The ``svgkit`` folder (default: this one).

    Returns:
        The svgkit module files, sorted, and the top-level names of every other import.
    """
    root = (package_root or _package_root()).resolve()
    found: set[Path] = set()
    external: set[str] = set()
    queue: list[tuple[Path, str, bool]] = [(entry.resolve(), "__evaluator__", False)]
    while queue:
        path, name, is_package = queue.pop()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, names in _imports(tree, name, is_package):
            top = target.split(".")[0]
            if top != _PACKAGE:
                if top and top != "__future__":
                    external.add(top)
                continue
            parts = target.split(".")
            candidates = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
            candidates += [f"{target}.{n}" for n in names]  # from svgkit import judge
            for mod in candidates:
                file = _module_file(mod, root)
                if file is not None and file not in found:
                    found.add(file)
                    queue.append((file, *_module_name(file, root)))
    return sorted(found), external


def _data_files(modules: Sequence[Path], package_root: Path) -> list[Path]:
    """Package data the traced modules name: a file in ``svgkit/data`` whose name is a string in their code."""
    data_dir = package_root / "data"
    if not data_dir.is_dir():
        return []
    strings: set[str] = set()
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
                strings.add(node.value)
    return sorted(p for p in data_dir.iterdir() if p.is_file() and p.name in strings)


# =========================================================================== requirements
def third_party_imports(names: Iterable[str]) -> dict[str, str]:
    """Map top-level import names to the installed distributions that provide them.

    Names from the standard library are dropped; a name no installed distribution provides
    (an optional import) is dropped as well.
    """
    provided = metadata.packages_distributions()
    out: dict[str, str] = {}
    for name in sorted(set(names)):
        if name in sys.stdlib_module_names or name in sys.builtin_module_names:
            continue
        dists = provided.get(name)
        if dists:
            out[name] = sorted(dists)[0]
    return out


def _requires(dist_name: str, extras: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    from packaging.requirements import Requirement

    dist = metadata.distribution(dist_name)
    wanted = ["", *extras]
    out = []
    for raw in dist.requires or []:
        req = Requirement(raw)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in wanted):
            continue
        out.append((req.name, tuple(sorted(req.extras))))
    return out


def pinned_requirements(distributions: Iterable[str]) -> str:
    """``requirements.txt`` text: ``distributions`` and all they depend on, pinned to the installed versions.

    Dependencies are followed through their markers as evaluated here (this Python, this
    platform) and the extras they ask for. Sorted by normalised name, one ``name==version`` per line.

    Raises:
        BundleError: A required distribution is not installed here.
    """
    from packaging.utils import canonicalize_name

    versions: dict[str, str] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    stack = [(d, ()) for d in distributions]
    while stack:
        name, extras = stack.pop()
        key = (canonicalize_name(name), extras)
        if key in seen:
            continue
        seen.add(key)
        try:
            versions[key[0]] = metadata.version(name)
        except metadata.PackageNotFoundError as exc:
            raise BundleError(f"{name} is required but not installed here: run `make setup` first") from exc
        stack.extend(_requires(name, extras))
    info = sys.version_info
    head = (f"# Pinned by svgkit.upload from the environment that staged this bundle "
            f"(Python {info.major}.{info.minor}, {sys.platform}).\n")
    return head + "".join(f"{n}=={versions[n]}\n" for n in sorted(versions))


def dockerfile_text() -> str:
    """The bundle's ``Dockerfile``: the upstream quickstart's layout, with cairo and fonts instead of Chromium.

    The last step draws a tiny SVG, so an image without a working cairo fails to *build*,
    with the reason in the build log, instead of scoring every answer as a render failure.
    """
    packages = " \\\n    ".join(UPLOAD.apt_packages)
    return f"""# The svgkit evaluator's image (staged by svgkit.upload). Same layout as the Eval Protocol
# quickstart's evaluator Dockerfile, with cairo (for cairosvg) and the fonts instead of Chromium.
FROM {UPLOAD.docker_base_image}

WORKDIR /app

# cairosvg needs the cairo C library; the Liberation fonts give browser-like text metrics
RUN apt-get update && apt-get install -y --no-install-recommends \\
    {packages} \\
    && rm -rf /var/lib/apt/lists/*

# Copy requirements first for better Docker caching
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# Copy the evaluator and the svgkit modules it imports
COPY . .

ENV PYTHONUNBUFFERED=1 \\
    LITELLM_LOCAL_MODEL_COST_MAP=True

# Fail the build here, with the reason in the build log, if cairo cannot draw in this image
RUN python -c "{_CAIRO_CHECK}"
"""


#: The Dockerfile's last step: draw a 2x2 SVG, so an image without a working cairo fails to build.
_CAIRO_CHECK = ("import cairosvg; cairosvg.svg2png(bytestring=b'<svg xmlns=\\\"http://www.w3.org/2000/svg\\\" "
                "width=\\\"2\\\" height=\\\"2\\\"/>')")


# =========================================================================== secrets
_KEY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("OpenAI-style key (sk-...)", re.compile(r"\bsk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}")),
    ("Fireworks key (fw_...)", re.compile(r"\bfw_[A-Za-z0-9]{16,}")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}")),
    ("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("private key block", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("credential assigned in code", re.compile(
        r"(?i)\b\w*(?:api[_-]?key|secret|token|passw(?:or)?d)\w*['\"]?\s*[:=]\s*['\"]([^'\"\s]{12,})['\"]")),
)
#: File names that hold secrets by convention.
_SECRET_FILES = re.compile(r"^(?:\.env(?:\..*)?|.*\.pem|.*\.key|.*\.p12|id_[rd]sa.*|id_ed25519.*|\.netrc|"
                           r"\.npmrc|\.pypirc|credentials(?:\..*)?|.*secret.*\.json)$", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=]{32,}")
#: Names of environment variables whose values are treated as secrets.
_SECRET_ENV_NAME = re.compile(r"(?i)(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL)")
#: Bits per character above which a long token without spaces looks random (hex digests stay at most 4).
_ENTROPY_BITS = 4.5


def _entropy(token: str) -> float:
    counts = {c: token.count(c) for c in set(token)}
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def _looks_random(token: str) -> bool:
    classes = sum(bool(re.search(rx, token)) for rx in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes == 3 and _entropy(token) > _ENTROPY_BITS


def _environment() -> dict[str, str]:
    """``os.environ`` over the nearest ``.env`` (svgkit reads keys from both; neither may leak)."""
    from dotenv import dotenv_values, find_dotenv

    path = find_dotenv(usecwd=True)
    values = {k: v for k, v in dotenv_values(path).items() if v} if path else {}
    return {**values, **os.environ}


def scan_for_secrets(files: Mapping[str, bytes], *, environ: Mapping[str, str] | None = None) -> list[SecretFinding]:
    """Everything in ``files`` that looks like a secret.

    Checks file names (``.env``, ``*.pem``, ...), known key formats, credentials assigned in
    code, random-looking tokens of 32+ characters, and the exact values of the environment's
    key-like variables (``*_KEY``, ``*_TOKEN``, ...). Findings never contain the value.

    Args:
        files: Bundle-relative path -> content.
        environ: Environment whose secret values must not appear (default: ``os.environ`` and ``.env``).
    """
    env = _environment() if environ is None else environ
    values = {v for k, v in env.items() if _SECRET_ENV_NAME.search(k) and len(v or "") >= 8
              and v.lower() not in ("true", "false")}
    findings: list[SecretFinding] = []
    for path, data in sorted(files.items()):
        if _SECRET_FILES.match(PurePosixPath(path).name):
            findings.append(SecretFinding(path, 0, "file name used for secrets"))
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            kinds = [kind for kind, rx in _KEY_PATTERNS if rx.search(line)]
            if any(v in line for v in values):
                kinds.append("value of a key in this environment")
            if not kinds and any(_looks_random(t) for t in _TOKEN.findall(line)):
                kinds.append("high-entropy token")
            findings += [SecretFinding(path, number, k) for k in kinds]
    return findings


# =========================================================================== staging
def _collect(environ: Mapping[str, str] | None) -> dict[str, tuple[bytes, Role]]:
    """The bundle's files, in memory: path -> (content, role)."""
    package_root = _package_root()
    entry = package_root.parent / UPLOAD.evaluator_module
    if not entry.is_file():
        raise BundleError(f"the evaluator {entry} does not exist")
    modules, external = trace_modules(entry, package_root=package_root)
    files: dict[str, tuple[bytes, Role]] = {UPLOAD.entry_file: (entry.read_bytes(), "evaluator")}
    for module in modules:
        rel = PurePosixPath(_PACKAGE, *module.relative_to(package_root).parts)
        files[str(rel)] = (module.read_bytes(), "module")
    for data in _data_files(modules, package_root):
        rel = PurePosixPath(_PACKAGE, *data.relative_to(package_root).parts)
        files[str(rel)] = (data.read_bytes(), "data")
    dists = third_party_imports(external)
    files["requirements.txt"] = (pinned_requirements(sorted(set(dists.values()))).encode(), "requirements")
    files["Dockerfile"] = (dockerfile_text().encode(), "dockerfile")
    return files


def _bundle_files(files: Mapping[str, tuple[bytes, Role]]) -> tuple[BundleFile, ...]:
    return tuple(BundleFile(p, len(b), hashlib.sha256(b).hexdigest(), r) for p, (b, r) in sorted(files.items()))


def tarball_bytes(files: Mapping[str, bytes]) -> bytes:
    """A reproducible ``.tar.gz`` of ``files`` under ``UPLOAD.tarball_root/``.

    Entries are sorted, every file is ``0644`` with ``UPLOAD.fixed_mtime`` and no owner, and
    the gzip header carries no time or name: the same files always give the same bytes.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(p) for path in files for p in PurePosixPath(path).parents if str(p) != "."})
        for name in [None, *dirs]:
            info = tarfile.TarInfo(UPLOAD.tarball_root + (f"/{name}" if name else ""))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, UPLOAD.fixed_mtime
            tar.addfile(info)
        for path in sorted(files):
            info = tarfile.TarInfo(f"{UPLOAD.tarball_root}/{path}")
            info.size, info.mode, info.mtime = len(files[path]), 0o644, UPLOAD.fixed_mtime
            tar.addfile(info, io.BytesIO(files[path]))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _looks_staged(folder: Path) -> bool:
    return all((folder / n).is_file() for n in (UPLOAD.entry_file, "requirements.txt", "Dockerfile",
                                                  f"{_PACKAGE}/__init__.py"))


def _write(folder: Path, files: Mapping[str, bytes]) -> None:
    for path, data in files.items():
        target = folder.joinpath(*PurePosixPath(path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, 0o644)
    for item in sorted(folder.rglob("*"), reverse=True):
        if item.is_dir():
            os.chmod(item, 0o755)
        os.utime(item, (UPLOAD.fixed_mtime, UPLOAD.fixed_mtime))
    os.chmod(folder, 0o755)
    os.utime(folder, (UPLOAD.fixed_mtime, UPLOAD.fixed_mtime))


def stage_bundle(dest: Path | str | None = None, *, max_bytes: int = UPLOAD.max_bundle_bytes,
                 environ: Mapping[str, str] | None = None) -> Bundle:
    """Write the evaluator bundle to ``dest`` and describe it.

    ``dest`` is replaced as a whole: it must not exist, be empty, or hold an earlier bundle
    (anything else is refused, so staging never deletes your files).

    Args:
        dest: The staging folder (default ``outputs/evaluator_bundle``).
        max_bytes: Largest total size accepted.
        environ: Environment whose key values must not appear in the bundle (default: ``os.environ``
            and the nearest ``.env``).

    Raises:
        BundleError: Something looks like a secret, the bundle is too large, or ``dest``
            holds files that are not a bundle.
    """
    folder = Path(dest) if dest is not None else output_path(UPLOAD.bundle_dir)
    files = _collect(environ)
    contents = {p: b for p, (b, _r) in files.items()}
    findings = scan_for_secrets(contents, environ=environ)
    if findings:
        listed = "; ".join(str(f) for f in findings[:10])
        raise BundleError(f"refusing to stage: {len(findings)} thing(s) look like secrets ({listed}). "
                          "Remove them from the code, or keep keys in the environment only.")
    total = sum(len(b) for b in contents.values())
    if total > max_bytes:
        biggest = max(contents, key=lambda p: len(contents[p]))
        raise BundleError(f"refusing to stage: the bundle is {total:,} B, more than the {max_bytes:,} B budget "
                          f"(UPLOAD.max_bundle_bytes); the largest file is {biggest} ({len(contents[biggest]):,} B)")
    if folder.exists() and not folder.is_dir():
        raise BundleError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not _looks_staged(folder):
        raise BundleError(f"{folder} holds files that are not an evaluator bundle: choose an empty or new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        _write(tmp, contents)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _write(folder, {})  # the rename gave the folder a new time
    return _describe(folder.resolve(), files)


def _describe(folder: Path, files: Mapping[str, tuple[bytes, Role]]) -> Bundle:
    contents = {p: b for p, (b, _r) in files.items()}
    return Bundle(folder, _bundle_files(files), hashlib.sha256(tarball_bytes(contents)).hexdigest(),
                  hashlib.sha256(contents["requirements.txt"]).hexdigest(),
                  f"{UPLOAD.entry_file}::{UPLOAD.entry_function}")


#: Every path staging may write; :func:`read_bundle` refuses anything else.
_BUNDLE_LAYOUT = re.compile(rf"(?:{re.escape(UPLOAD.entry_file)}|requirements\.txt|Dockerfile|"
                            rf"{_PACKAGE}/(?:[A-Za-z_][A-Za-z0-9_]*/)*[A-Za-z_][A-Za-z0-9_]*\.py|"
                            rf"{_PACKAGE}/data/[A-Za-z0-9_.-]+)")


def _role(path: str) -> Role:
    if path == UPLOAD.entry_file:
        return "evaluator"
    if path == "requirements.txt":
        return "requirements"
    if path == "Dockerfile":
        return "dockerfile"
    return "module" if path.endswith(".py") else "data"


def read_bundle(folder: Path | str, *, environ: Mapping[str, str] | None = None) -> Bundle:
    """Describe the bundle in ``folder`` as it is now (every file in it), checking it again for secrets.

    Use it right before uploading: a file added after staging (a ``.env``, a leftover tarball)
    shows up here and is refused.

    Raises:
        BundleError: The folder is not a bundle, or something in it looks like a secret.
    """
    root = Path(folder).resolve()
    if not root.is_dir() or not _looks_staged(root):
        raise BundleError(f"{root} is not a staged evaluator bundle: run stage_bundle() first")
    files: dict[str, tuple[bytes, Role]] = {}
    for item in sorted(root.rglob("*")):
        if item.is_dir() and not item.is_symlink():
            continue
        rel = item.relative_to(root).as_posix()
        if item.is_symlink() or not _BUNDLE_LAYOUT.fullmatch(rel):
            raise BundleError(f"{root} holds {rel}, which staging never writes (a cache, a leftover tarball, "
                              "a file added by hand?): stage the bundle again")
        files[rel] = (item.read_bytes(), _role(rel))
    findings = scan_for_secrets({p: b for p, (b, _r) in files.items()}, environ=environ)
    if findings:
        listed = "; ".join(str(f) for f in findings[:10])
        raise BundleError(f"{root} now holds something that looks like a secret ({listed}): stage it again")
    return _describe(root, files)
