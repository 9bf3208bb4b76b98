"""svgkit's declared public surface: what each module exports, that it is documented, and who uses privates.

Like httpx's and attrs' exported-members tests: every module says what is public in a sorted,
complete ``__all__``; every exported name exists and has a docstring (or a ``#:`` comment for a
constant); the packages export what their docstrings say; and no svgkit module reaches into
another module's private names. Tests use public names too, apart from the short list below.
"""

import ast
import dataclasses
import importlib
import importlib.util
import inspect
import pkgutil
import re
import types
from pathlib import Path

import pytest
from conftest import REPO

import svgkit

SVGKIT = REPO / "svgkit"

#: Every module and package of svgkit (``__main__`` scripts are entry points, not an API).
MODULES = sorted(m.name for m in pkgutil.walk_packages(svgkit.__path__, "svgkit.") if not m.name.endswith("__main__"))

#: Module-level names that are public by spelling but not part of the API.
NOT_EXPORTED = {"log", "logger"}

#: The only private svgkit names tests may touch, each where a public route would not test the
#: same thing. A new entry needs a reason as good as these; prefer testing through public API.
TEST_PRIVATE_USES = {
    # the coroutine runner's thread handle and its module, to prove cancellation reaches the worker
    ("test_aio.py", "svgkit._aio"),
    # the renderer's worker pool and its environment filter: process isolation is the behaviour under test
    ("test_render.py", "_pool"),
    ("test_render.py", "_exception_failure"),
    ("test_render.py", "_worker_env"),
    # faults injected into the worker protocol (a dead worker, a garbled reply, a slow machine)
    ("test_render.py", "_Worker"),
    ("test_render.py", "_WorkerDied"),
    ("test_render.py", "_decode_reply"),
    # the data-URI fetcher cairosvg calls back into: only reachable from inside a render worker
    ("test_hostile.py", "_fetch_data_only"),
    # the think-section stripper, checked against its regex definition on random input
    ("test_svg.py", "_strip_think"),
    # the SVGBench parser, fed the real upstream file from ../shared (the public loader downloads)
    ("test_dataset.py", "_parse_questions"),
    # the browser check's page rules, tested without starting Chromium
    ("test_browser_check.py", "_has_banner"),
    ("test_browser_check.py", "_problems_in_outputs"),
    # its screenshot retry, against a fake driver that loses the viewport (real Chromium does so only under load)
    ("test_browser_check.py", "_page_shot"),
    # the bench report's formatting, without running the benchmarks it reports
    ("test_bench.py", "_report"),
    # the pytest output summariser, on output a real failing run would print
    ("test_quiet_import.py", "_run_summary"),
}


def _module(name: str) -> types.ModuleType:
    return importlib.import_module(name)


def _is_private(name: str) -> bool:
    """``_x`` is private; dunders and IPython's ``_repr_*_`` display hooks are protocols."""
    return name.startswith("_") and not name.endswith("_")


def _sort_key(name: str) -> tuple[int, list]:
    """ruff's RUF022 "isort-style" order: SCREAMING_CASE, then CamelCase, then the rest, naturally."""
    group = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return group, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _defined_names(module: types.ModuleType) -> list[tuple[str, ast.stmt, ast.stmt | None]]:
    """Top-level ``def``, ``class`` and assignments of a module's source: (name, node, next node)."""
    body = ast.parse(inspect.getsource(module)).body
    out = []
    for i, node in enumerate(body):
        following = body[i + 1] if i + 1 < len(body) else None
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.append((node.name, node, following))
        elif isinstance(node, ast.Assign):
            out += [(t.id, node, following) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.append((node.target.id, node, following))
    return out


def _own_doc(obj: object) -> str:
    doc = obj.__doc__ or ""
    if dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""  # the signature dataclasses write when a class has no docstring
    return doc.strip()


# --------------------------------------------------------------------------- every module
def test_every_module_is_found():
    assert {"svgkit.config", "svgkit.judge", "svgkit.judge.rules", "svgkit.standin.chat", "svgkit.rft.spec"} <= set(
        MODULES)


@pytest.mark.parametrize("name", ["svgkit", *MODULES])
def test_all_is_sorted_and_complete(name):
    module = _module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
    assert exported == sorted(exported, key=_sort_key), f"{name}.__all__ is not sorted (ruff --select RUF022 --fix)"
    missing = [n for n, _, _ in _defined_names(module) if not n.startswith("_") and n not in NOT_EXPORTED
               and n not in exported]
    assert not missing, f"{name} defines public names it does not export (export them or rename them _x): {missing}"


@pytest.mark.parametrize("name", ["svgkit", *MODULES])
def test_every_exported_name_exists_and_is_documented(name):
    module = _module(name)
    comments = {}
    lines = inspect.getsource(module).splitlines()
    previous = None  # a comment above a block of assignments (no blank line between) documents the block
    for defined, node, following in _defined_names(module):
        above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
        docstring_below = (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                           and isinstance(following.value.value, str))
        in_block = previous is not None and previous[0].end_lineno == node.lineno - 1 and previous[1]
        comments[defined] = above.startswith("#") or docstring_below or in_block
        previous = (node, comments[defined])
    undocumented = []
    for export in module.__all__:
        assert hasattr(module, export), f"{name}.__all__ names {export!r}, which it does not define"
        obj = getattr(module, export)
        if export == "__version__":
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
            if not _own_doc(obj):
                undocumented.append(export)
        elif export in comments:  # a constant or alias defined here: a comment above or a docstring below
            documented_type = type(obj).__module__.startswith("svgkit") and _own_doc(type(obj))
            if not (comments[export] or documented_type):
                undocumented.append(export)
    assert not undocumented, f"{name} exports names without a docstring (or a #: comment): {undocumented}"


# --------------------------------------------------------------------------- the packages
def _documented_modules(package: types.ModuleType) -> set[str]:
    return {m.lstrip("~") for m in re.findall(r":mod:`([~\w.]+)`", package.__doc__ or "")}


@pytest.mark.parametrize("name", ["svgkit", *(m for m in MODULES if hasattr(_module(m), "__path__"))])
def test_package_docstring_lists_exactly_its_modules(name):
    package = _module(name)
    children = {f"{name}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
                if not m.name.startswith("_")}
    listed = {m for m in _documented_modules(package) if m.count(".") == name.count(".") + 1 and m.startswith(name)}
    assert listed == children, f"{name}'s docstring and its modules differ"


def test_top_level_package_exports_only_its_version():
    """``import svgkit`` is cheap: the modules are imported by name, ``svgkit.__all__`` holds the version."""
    assert svgkit.__all__ == ["__version__"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", svgkit.__version__)


def test_judge_package_keeps_its_documented_names():
    """The names notebooks and older code import from ``svgkit.judge`` (the issue's compatibility promise)."""
    import svgkit.judge as judge

    assert {"Judge", "JudgeCache", "JudgeUsage", "RequirementVerdict", "RuleJudge", "Verdict", "VisionJudge",
            "ajudge", "default_judge", "judge", "rule_coverage"} <= set(judge.__all__)
    from svgkit.guards import ink_stats, written_requirements

    assert judge.ink_stats is ink_stats and judge.written_requirements is written_requirements


@pytest.mark.parametrize("name", ["svgkit.rft", "svgkit.standin"])
def test_subpackage_re_exports_come_from_its_modules(name):
    """A subpackage's ``__all__`` is assembled from its modules' ``__all__`` (nothing defined only in ``__init__``)."""
    package = _module(name)
    exported_by_modules = {export for m in pkgutil.iter_modules(package.__path__)
                           for export in _module(f"{name}.{m.name}").__all__}
    assert set(package.__all__) <= exported_by_modules
    for export in package.__all__:
        assert getattr(package, export) is next(getattr(_module(f"{name}.{m.name}"), export)
                                                for m in pkgutil.iter_modules(package.__path__)
                                                if export in _module(f"{name}.{m.name}").__all__)


def test_rft_package_re_exports_everything_its_docstring_promises():
    import svgkit.rft as rft

    assert "everything is re-exported here" in rft.__doc__
    every = {export for m in pkgutil.iter_modules(rft.__path__) for export in _module(f"svgkit.rft.{m.name}").__all__}
    assert set(rft.__all__) == every


# --------------------------------------------------------------------------- private names
def _private_uses(path: Path, *, package: str | None) -> list[tuple[str, int]]:
    """Private names ``path`` takes from svgkit modules: ``from m import _x`` and ``m._x`` on an imported module.

    ``package`` is the dotted package of ``path`` for resolving relative imports (None outside svgkit).
    Private *modules* (``svgkit._ep``) are svgkit-internal by design: importing their public names is fine.
    """
    tree = ast.parse(path.read_text())
    modules: set[str] = set()  # local names bound to svgkit modules
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("svgkit"):
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level and package:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            if not source.startswith("svgkit"):
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if _is_submodule(full):
                    modules.add(alias.asname or alias.name)
                    if _is_private(alias.name) and package is None:
                        uses.append((full, node.lineno))
                elif _is_private(alias.name):
                    uses.append((alias.name, node.lineno))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _is_private(node.attr) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            uses.append((node.attr, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setattr"
              and len(node.args) >= 2 and isinstance(node.args[0], ast.Name) and node.args[0].id in modules
              and isinstance(node.args[1], ast.Constant) and _is_private(str(node.args[1].value))):
            uses.append((str(node.args[1].value), node.lineno))  # monkeypatch.setattr(module, "_x", ...)
    return uses


def _is_submodule(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):
        return False


def test_no_svgkit_module_imports_another_modules_private_names():
    offenders = []
    for path in sorted(SVGKIT.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        package = ".".join(parts if path.name == "__init__.py" else parts[:-1])
        offenders += [f"{path.relative_to(REPO)}:{line}: {name}" for name, line in _private_uses(path, package=package)]
    assert not offenders, "make the name public (documented, in __all__) or keep the code in one module:\n" + "\n".join(
        offenders)


def test_tests_use_public_names_apart_from_a_short_reasoned_list():
    used = {(path.name, name): line for path in sorted((REPO / "tests").glob("test_*.py"))
            for name, line in _private_uses(path, package=None)}
    new = sorted(f"tests/{f}:{line}: {name}" for (f, name), line in used.items() if (f, name) not in TEST_PRIVATE_USES)
    hint = "test through the public API, or add the name to TEST_PRIVATE_USES with a reason:\n"
    assert not new, hint + "\n".join(new)
    stale = sorted(TEST_PRIVATE_USES - set(used))
    assert not stale, f"no longer used, remove from TEST_PRIVATE_USES: {stale}"


def test_the_private_use_scanner_sees_both_spellings(tmp_path):
    """The scanner above finds ``from svgkit.m import _x`` and ``m._x``, and leaves public names alone."""
    probe = tmp_path / "probe.py"
    probe.write_text("from svgkit.svg import _strip_think, extract_svg\nfrom svgkit import render as r\n"
                     "import svgkit.gallery\nr._pool()\nsvgkit.gallery.contact_sheet\nfig._repr_png_()\n"
                     "monkeypatch.setattr(r, '_decode_reply', None)\nmonkeypatch.setattr(r, 'LIMITS', None)\n")
    assert sorted(n for n, _ in _private_uses(probe, package=None)) == ["_decode_reply", "_pool", "_strip_think"]
