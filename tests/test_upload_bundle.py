"""The staged evaluator bundle: exactly what the evaluator needs, reproducible, never a secret."""

import hashlib
import importlib.metadata as metadata
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import REPO

from svgkit.config import UPLOAD
from svgkit.upload import BundleError, read_bundle, scan_for_secrets, stage_bundle
from svgkit.upload.bundle import dockerfile_text, tarball_bytes, trace_modules

#: Modules only notebooks and benchmarks use: the evaluator never imports them.
NOTEBOOK_ONLY = ("plots", "gallery", "display", "runner", "bench", "calibrate", "stats", "upload", "standin")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return stage_bundle(tmp_path_factory.mktemp("stage") / "bundle")


def _runtime_svgkit_modules() -> set[str]:
    """svgkit files imported when the evaluator module is imported and scores a row, in a fresh process."""
    code = (
        "import json, sys, svgkit.evaluator\n"
        "from svgkit.reward import score_response\n"
        "score_response('```svg\\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\">"
        "<rect width=\"4\" height=\"4\" fill=\"red\"/></svg>\\n```', ['a red square'])\n"
        "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items()\n"
        "      if n.split('.')[0] == 'svgkit' and getattr(m, '__file__', None))))\n"
    )
    env = {**os.environ, "SVGKIT_MODE": "offline"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True)
    root = REPO / "svgkit"
    return {Path(p).resolve().relative_to(root).as_posix() for p in json.loads(out.stdout.strip().splitlines()[-1])}


def test_bundle_holds_the_evaluator_and_every_module_it_imports(bundle):
    paths = {f.path for f in bundle.files}
    assert (bundle.root / UPLOAD.entry_file).read_bytes() == (REPO / UPLOAD.evaluator_module).read_bytes()
    needed = {f"svgkit/{p}" for p in _runtime_svgkit_modules() if p != "evaluator.py"}
    assert needed <= paths, f"missing: {sorted(needed - paths)}"
    assert {"requirements.txt", "Dockerfile", "svgkit/data/prompts.jsonl", "svgkit/data/examples.jsonl"} <= paths


def test_bundle_leaves_out_what_the_evaluator_never_imports(bundle):
    paths = {f.path for f in bundle.files}
    for name in NOTEBOOK_ONLY:
        assert not any(p.startswith(f"svgkit/{name}") for p in paths), name
    assert "svgkit/evaluator.py" not in paths  # it is the top-level test file instead
    assert "svgkit/data/README.md" not in paths  # package data nothing imports
    assert not any(p.startswith(("tests/", "notebooks/", "outputs/")) or "__pycache__" in p for p in paths)
    assert set(os.listdir(bundle.root)) == {UPLOAD.entry_file, "requirements.txt", "Dockerfile", "svgkit"}


def test_tracing_follows_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "svgkit"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\nfrom .sub import c\n")
    (pkg / "b.py").write_text("def f():\n    import svgkit.lazy\n    from numpy import array\n")
    (pkg / "lazy.py").write_text("x = 1\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from ..b import f\nimport json\n")
    (pkg / "unused.py").write_text("import matplotlib\n")
    entry = tmp_path / "test_entry.py"
    entry.write_text("from svgkit.a import thing\n")
    modules, external = trace_modules(entry, package_root=pkg)
    names = {p.relative_to(pkg).as_posix() for p in modules}
    assert names == {"__init__.py", "a.py", "b.py", "lazy.py", "sub/__init__.py", "sub/c.py"}
    assert "numpy" in external and "json" in external and "matplotlib" not in external


def test_requirements_pin_every_distribution_to_the_installed_version(bundle):
    lines = [ln for ln in (bundle.root / "requirements.txt").read_text().splitlines() if not ln.startswith("#")]
    pins = dict(ln.split("==") for ln in lines)
    assert list(pins) == sorted(pins)
    for name, version in pins.items():
        assert metadata.version(name) == version, name
    # what the evaluator imports, and what those need (pytest runs it; cairocffi draws)
    for name in ("eval-protocol", "cairosvg", "cairocffi", "lxml", "tinycss2", "numpy", "pillow", "pytest",
                 "platformdirs", "python-dotenv", "openai", "fireworks-ai"):
        assert name in pins, name
    for name in ("matplotlib", "jupyterlab", "ipywidgets", "nbclient", "svgkit"):
        assert name not in pins, name


def test_staging_twice_gives_the_same_bytes_and_hash(tmp_path, bundle):
    again = stage_bundle(tmp_path / "again")
    assert again.sha256 == bundle.sha256 and again.files == bundle.files
    for f in bundle.files:
        a, b = bundle.root / f.path, again.root / f.path
        assert a.read_bytes() == b.read_bytes()
        assert a.stat().st_mtime == b.stat().st_mtime == UPLOAD.fixed_mtime
    # the hash describes the folder as it is on disk, and the tarball is byte for byte stable
    assert read_bundle(again.root).sha256 == bundle.sha256
    files = {f.path: (again.root / f.path).read_bytes() for f in again.files}
    assert tarball_bytes(files) == tarball_bytes(dict(reversed(list(files.items()))))
    with tarfile.open(fileobj=__import__("io").BytesIO(tarball_bytes(files))) as tar:
        members = tar.getmembers()
    assert {m.uid for m in members} == {0} and {m.uname for m in members} == {""}
    assert {m.mtime for m in members} == {UPLOAD.fixed_mtime}


def test_restaging_replaces_an_earlier_bundle_and_a_change_changes_the_hash(tmp_path, bundle, monkeypatch):
    first = stage_bundle(tmp_path / "b")
    (first.root / "svgkit" / "stale.py").write_text("old = 1\n")
    second = stage_bundle(tmp_path / "b")
    assert not (second.root / "svgkit" / "stale.py").exists() and second.sha256 == first.sha256
    import svgkit.upload.bundle as mod

    original = mod.dockerfile_text
    monkeypatch.setattr(mod, "dockerfile_text", lambda: original() + "# changed\n")
    assert stage_bundle(tmp_path / "c").sha256 != first.sha256


def test_eval_protocol_would_tar_exactly_the_bundle(bundle, tmp_path):
    from eval_protocol.evaluation import Evaluator

    out = tmp_path / "ep.tar.gz"
    Evaluator._create_tar_gz_with_ignores(str(out), str(bundle.root))
    with tarfile.open(out) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
    assert names == {f.path for f in bundle.files}


def test_refuses_a_folder_holding_other_files(tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("my notes")
    with pytest.raises(BundleError, match="not an evaluator bundle"):
        stage_bundle(dest)
    assert (dest / "notes.txt").read_text() == "my notes"


def test_refuses_a_bundle_over_budget_and_writes_nothing(tmp_path):
    with pytest.raises(BundleError, match=r"budget.*largest file is svgkit/data/examples\.jsonl"):
        stage_bundle(tmp_path / "big", max_bytes=100_000)
    assert not (tmp_path / "big").exists()


def test_refuses_when_a_key_value_from_the_environment_is_in_the_code(tmp_path):
    # a string that really is in svgkit/config.py, posing as the value of a key
    from svgkit.config import DATASET

    with pytest.raises(BundleError, match="value of a key in this environment") as err:
        stage_bundle(tmp_path / "b", environ={"SOME_API_KEY": DATASET.svgbench_sha256})
    assert DATASET.svgbench_sha256 not in str(err.value)
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("text, kind", [
    ("k = 'sk-proj-" + "Ab3dE" * 6 + "'", "OpenAI-style key"),
    ("key = 'fw_" + "3ZkQ9x" * 4 + "'", "Fireworks key"),
    ("aws = 'AKIA" + "ABCDEFGHIJKLMNOP" + "'", "AWS access key id"),
    ("t = 'ghp_" + "a1B2c3" * 6 + "'", "GitHub token"),
    ("-----BEGIN RSA PRIVATE KEY-----", "private key block"),
    ("password = 'correct-horse-battery'", "credential assigned in code"),
    ("blob = 'q8Z3xL0pW7vN2mK5tR9yB4cD6fH1jS0aQeUiOo'", "high-entropy token"),
])
def test_secret_scan_finds_each_kind_without_repeating_it(text, kind):
    findings = scan_for_secrets({"svgkit/x.py": text.encode()}, environ={})
    assert [f.kind.split(" (")[0] for f in findings] == [kind]
    assert findings[0].line == 1 and text not in str(findings[0])


@pytest.mark.parametrize("name", [".env", ".env.local", "server.pem", "id_rsa", "credentials.json"])
def test_secret_scan_refuses_secret_file_names(name):
    assert [f.kind for f in scan_for_secrets({name: b"x = 1\n"}, environ={})] == ["file name used for secrets"]


def test_secret_scan_passes_ordinary_code_and_digests(bundle):
    files = {f.path: (bundle.root / f.path).read_bytes() for f in bundle.files}
    files["digest.py"] = f"SHA = '{hashlib.sha256(b'x').hexdigest()}'\n".encode()
    files["path.svg"] = b'<path d="M10 20 L30 40 C50 60 70 80 90 100 Z" fill="#ff0000"/>'
    assert scan_for_secrets(files, environ={"PATH": "/usr/bin", "SVGKIT_MODE": "offline"}) == []


def test_read_bundle_refuses_files_added_after_staging(tmp_path):
    b = stage_bundle(tmp_path / "b")
    (b.root / ".env").write_text("OPENAI_API_KEY=x\n")
    with pytest.raises(BundleError, match=r"holds \.env"):
        read_bundle(b.root)
    (b.root / ".env").unlink()
    (b.root / "svgkit" / "__pycache__").mkdir()
    (b.root / "svgkit" / "__pycache__" / "config.cpython-311.pyc").write_bytes(b"\0")
    with pytest.raises(BundleError, match="__pycache__"):
        read_bundle(b.root)
    with pytest.raises(BundleError, match="not a staged evaluator bundle"):
        read_bundle(tmp_path)


def test_dockerfile_follows_upstream_and_checks_cairo(tmp_path):
    text = dockerfile_text()
    lines = text.splitlines()
    assert lines[2] == f"FROM {UPLOAD.docker_base_image}" == "FROM python:3.11-slim"
    assert "libcairo2" in text and "fonts-liberation" in text and "WORKDIR /app" in text
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(p))
             for p in ("COPY requirements.txt", "RUN pip install --no-cache-dir -r requirements.txt", "COPY . .")]
    assert order == sorted(order)
    check = lines[-1]
    assert check.startswith("RUN ")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    assert subprocess.run(["sh", "-c", check[4:]], env=env, capture_output=True).returncode == 0
    stub = tmp_path / "cairocffi"
    stub.mkdir()
    (stub / "__init__.py").write_text('raise OSError("no library called \\"cairo-2\\" was found")\n')
    failed = subprocess.run(["sh", "-c", check[4:]], env={**env, "PYTHONPATH": str(tmp_path)}, capture_output=True,
                            text=True)
    assert failed.returncode != 0 and "cairo-2" in failed.stderr


def test_cli_stages_and_lists_files(tmp_path):
    out = subprocess.run([sys.executable, "-m", "svgkit.upload", "stage", str(tmp_path / "cli")],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "| `requirements.txt` | requirements |" in out.stdout and "Tarball sha256" in out.stdout
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "a.txt").write_text("x")
    refused = subprocess.run([sys.executable, "-m", "svgkit.upload", "stage", str(tmp_path / "foreign")],
                             capture_output=True, text=True, cwd=REPO)
    assert refused.returncode == 1 and "not an evaluator bundle" in refused.stderr


def test_a_key_only_in_dot_env_is_refused_too(tmp_path, monkeypatch):
    from svgkit.config import DATASET

    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"MY_SERVICE_TOKEN={DATASET.svgbench_sha256}\n")  # a string that is in the code
    monkeypatch.chdir(project)
    with pytest.raises(BundleError, match="value of a key in this environment"):
        stage_bundle(tmp_path / "b")
