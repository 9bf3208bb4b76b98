"""Eval Protocol's forced PydanticDeprecatedSince20 warning stays out of notebooks and pytest runs."""

import re
import subprocess
import sys

from conftest import REPO

from svgkit import evaluation

WARNING = "PydanticDeprecatedSince20"


def _run(*args: str, cwd=REPO, pythonpath: str | None = None) -> str:
    env = {"PATH": "/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "SVGKIT_MODE": "offline",
           "EP_NO_UPLOAD": "1", "HOME": str(REPO), **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    return proc.stdout + proc.stderr


def test_the_warning_is_real_without_svgkit():
    """Guards the guard: if eval-protocol stops warning, this test says the workaround can go."""
    assert WARNING in _run("-W", "default", "-c", "import eval_protocol.models")


def test_importing_svgkit_shows_no_eval_protocol_deprecation():
    assert WARNING not in _run("-W", "default", "-c", "import svgkit.evaluation, svgkit.reward")


def test_only_that_warning_is_dropped_and_eval_protocol_keeps_its_filter(tmp_path):
    fake = tmp_path / "eval_protocol"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import warnings\nwarnings.filterwarnings('default', category=DeprecationWarning, module='eval_protocol')\n")
    (fake / "models.py").write_text(
        "import warnings\n"
        "warnings.warn('Support for class-based `config` is deprecated, use ConfigDict', DeprecationWarning)\n"
        "warnings.warn('another deprecation', DeprecationWarning)\n"
        "EvaluateResult = EvaluationRow = MetricResult = Status = object\n")
    out = _run("-c", "import svgkit._ep, warnings\n"
               "print('kept' if any(f[0] == 'default' and f[3] and f[3].pattern == 'eval_protocol' "
               "for f in warnings.filters) else 'lost')", pythonpath=f"{tmp_path}:{REPO}")
    assert "another deprecation" in out and "class-based" not in out and "kept" in out


def test_pytest_runs_show_no_warnings_summary(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    out = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "svgkit._ep", str(tmp_path / "test_x.py"),
               cwd=tmp_path)
    assert "1 passed" in out and "warning" not in out


def test_no_svgkit_module_imports_eval_protocol_models_around_the_guard():
    direct = re.compile(r"^from eval_protocol\.models import|^import eval_protocol\.models", re.M)
    offenders = [p.name for p in (REPO / "svgkit").rglob("*.py")
                 if direct.search(p.read_text()) and p.name not in ("_ep.py", "evaluator.py")]
    assert offenders == [], "import Eval Protocol's models from svgkit._ep (see its docstring)"


def test_evaluator_summary_drops_links_and_durations():
    output = (".                                                                        [100%]\n"
              "1 passed, 2 warnings in 46.31s\n\nEP Summary | suite=t model=m runs=1 rows=86\n"
              "  agg_score=0.310 (valid scores only)\n"
              "📊 Invocation x:\n  📊 Aggregate scores: http://localhost:8000/pivot?x\n")
    summary = evaluation._run_summary(output)
    assert summary.splitlines() == ["1 passed, 2 warnings", "EP Summary | suite=t model=m runs=1 rows=86",
                                    "  agg_score=0.310 (valid scores only)"]
    assert evaluation._run_summary("Traceback\nboom") == "Traceback\nboom", "a crash keeps its last lines"
