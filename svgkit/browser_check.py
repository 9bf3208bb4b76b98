"""Open every notebook in JupyterLab in a real Chromium, run it, and check what a reader sees (``make browser-check``).

``python -m svgkit.browser_check notebooks/[0-9][0-9]_*.ipynb`` starts JupyterLab headless on
127.0.0.1 with a random token, on *copies* of the notebooks (the tracked files are never
saved), in a hermetic offline environment (:func:`svgkit.runner.hermetic_env`). Then, in
Debian's ``chromium`` driven by ``chromedriver`` (Selenium), for each notebook in order:

1. open it as saved (trusted, as ``make lab`` trusts the series) and check the saved view:
   no "Error displaying widget", no "model not found", a mode banner;
2. run all cells and wait for the kernel to finish;
3. fail on any error output or anything printed to stderr, on "Error displaying widget" or
   "model not found" anywhere in the page, on a missing mode banner, and on a gallery (a
   dropdown widget above a picture) whose picture does not change when another answer is picked.

Screenshots go to ``outputs/screenshots/`` (``NN_saved.png``, ``NN_run.png``, and for a gallery
``NN_gallery_before.png`` / ``NN_gallery_after.png``). Nothing here knows a particular notebook.
The browser runs with ``--headless --no-sandbox`` and a fresh profile, so it works as root and
without network. Needs the ``browser`` extra (``pip install -e '.[browser]'``) and Debian's
``chromium`` and ``chromium-driver`` packages (``make browser-check`` installs them).
"""

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHROMIUM_FLAGS",
    "WIDGET_ERRORS",
    "WINDOW_SIZE",
    "NotebookCheck",
    "check_notebooks",
    "main",
]

#: The browser window (CSS pixels): wide enough for the galleries and tables side by side.
WINDOW_SIZE: tuple[int, int] = (1400, 1000)

#: Flags for headless Chromium as root on a machine without network.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
)

#: Page texts that mean a widget could not be shown.
WIDGET_ERRORS: tuple[str, ...] = ("Error displaying widget", "model not found")

#: JupyterLab settings for the check: no autosave (copies anyway), every cell in the DOM, no news.
_LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


@dataclass
class NotebookCheck:
    """What the browser saw in one notebook.

    Attributes:
        name: The notebook's file name.
        failures: Everything that failed (empty: passed).
        seconds: Wall time to open, run and check it.
        screenshots: Files written.
    """

    name: str
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    screenshots: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No failure."""
        return not self.failures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _find(names: Sequence[str]) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


# JavaScript run in the page. JupyterLab exposes its application object with
# --LabApp.expose_app_in_browser; the notebook's model is the ground truth for outputs.
_JS_STATE = """
const app = window.jupyterapp;
if (!app) return {ready: false};
const panel = app.shell.currentWidget;
if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return {ready: false};
const ctx = panel.sessionContext;
const kernel = ctx.session && ctx.session.kernel;
const cells = [];
const model = panel.content.model;
for (let i = 0; i < model.cells.length; i++) {
  const c = model.cells.get(i);
  if (c.type !== 'code') continue;
  const outs = [];
  for (let j = 0; j < c.outputs.length; j++) outs.push(c.outputs.get(j).toJSON());
  cells.push({index: i, count: c.executionCount, outputs: outs, trusted: c.trusted});
}
return {ready: true, kernel: kernel ? kernel.status : 'none', busy: ctx.kernelDisplayStatus,
        name: ctx.path, cells: cells, trusted: cells.every(c => c.trusted || !c.outputs.length)};
"""


def _problems_in_outputs(cells: list[dict[str, Any]]) -> list[str]:
    problems = []
    for cell in cells:
        for out in cell["outputs"]:
            if out.get("output_type") == "error":
                problems.append(f"cell {cell['index']}: error output {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = "".join(out.get("text") or "").strip().splitlines()
                problems.append(f"cell {cell['index']}: stderr output: {text[0] if text else ''}"[:240])
    return problems


def _has_banner(cells: list[dict[str, Any]]) -> bool:
    for cell in cells:
        for out in cell["outputs"]:
            text = (out.get("data") or {}).get("text/markdown") or ""
            text = "".join(text) if isinstance(text, list) else text
            if text.startswith("Mode: ") and "| step | mode |" in text:
                return True
    return False


class _Lab:
    """A headless JupyterLab on 127.0.0.1 serving a temporary copy of the project's notebooks."""

    def __init__(self, notebooks: Sequence[Path], workdir: Path, log_path: Path) -> None:
        from .runner import hermetic_env

        self.root = workdir / "project"
        (self.root / "notebooks").mkdir(parents=True)
        for nb in notebooks:
            shutil.copy2(nb, self.root / "notebooks" / nb.name)
        readme = notebooks[0].resolve().parent.parent / "README.md"
        if readme.is_file():
            shutil.copy2(readme, self.root / "README.md")  # the notebooks link to it
        self.port, self.token = _free_port(), secrets.token_hex(16)
        env = hermetic_env(output_dir=workdir / "outputs")
        for var, sub in (("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                         ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                         ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces")):
            env[var] = str(workdir / sub)
            (workdir / sub).mkdir()
        for name, values in _LAB_SETTINGS.items():
            target = workdir / "lab-settings" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        self.env = env
        # Trusted, as `make lab` trusts the series: widget views render from the saved state.
        subprocess.run([sys.executable, "-m", "jupyter", "trust", *map(str, (self.root / "notebooks").glob("*.ipynb"))],
                       env=env, check=True, capture_output=True)
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
               *_lab_flags()]
        self.log = log_path.open("w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}; see {log_path}")
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2).read()
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within 120 s; see {log_path}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def shut_down_kernels(self) -> None:
        """End every notebook session (and its kernel) the server holds; errors are ignored."""
        headers = {"Authorization": f"token {self.token}"}
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(urllib.request.Request(f"{self.url}/api/sessions", headers=headers),
                                        timeout=10) as resp:
                sessions = json.loads(resp.read())
            for session in sessions:
                request = urllib.request.Request(f"{self.url}/api/sessions/{session['id']}", method="DELETE",
                                                 headers=headers)
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(request, timeout=30).close()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _lab_flags() -> list[str]:
    """``--allow-root`` as root; CurveZMQ kernels when pyzmq has it (no unencrypted-TCP warning)."""
    import zmq

    flags = ["--allow-root"] if hasattr(os, "getuid") and os.getuid() == 0 else []
    return flags + (["--KernelManager.transport_encryption=auto"] if zmq.has("curve") else [])


def _browser(chromium: str, driver: str, profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def _wait(condition: Any, timeout_s: float, what: str, step_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(step_s)


def _page_widget_errors(driver: Any) -> list[str]:
    body = driver.execute_script("return document.body.innerText") or ""
    return [f"page shows {text!r}" for text in WIDGET_ERRORS if text in body]


_JS_TOP = """
const nb = window.jupyterapp.shell.currentWidget.content;
nb.activeCellIndex = 0;
nb.scrollToItem(0, 'start');
"""

#: How many widget views the page renders as widgets (not as their text or HTML fallback).
# Both look only inside the notebook in front: a hidden tab's gallery has no size to screenshot.
_JS_RENDERED_WIDGETS = """
const root = (window.jupyterapp && window.jupyterapp.shell.currentWidget || {}).node || document;
return root.querySelectorAll('.jp-OutputArea-output > .jupyter-widgets').length;
"""

_JS_GALLERIES = """
const found = [];
const root = (window.jupyterapp && window.jupyterapp.shell.currentWidget || {}).node || document;
for (const select of root.querySelectorAll('.jp-OutputArea .widget-dropdown select')) {
  let box = select.closest('.widget-vbox') || select.closest('.jp-OutputArea-output');
  const img = box && box.querySelector('img');
  if (img) found.push([select, box]);
}
return found;
"""


def _check_galleries(driver: Any, stem: str, shots: Path, check: NotebookCheck) -> None:
    from selenium.webdriver.support.ui import Select

    for number, (select, box) in enumerate(driver.execute_script(_JS_GALLERIES)):
        suffix = "" if number == 0 else f"_{number + 1}"
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", box)
        time.sleep(1)
        before_src = box.find_element("css selector", "img").get_attribute("src")
        check.screenshots.append(_shot(box, shots / f"{stem}_gallery{suffix}_before.png"))
        choice = Select(select)
        if len(choice.options) < 2:
            check.failures.append(f"gallery {number + 1}: fewer than two answers to pick from")
            continue
        choice.select_by_index(len(choice.options) - 1)

        def changed(box: Any = box, before_src: str = before_src) -> bool:
            imgs = box.find_elements("css selector", "img")
            return bool(imgs) and imgs[0].get_attribute("src") != before_src

        try:
            _wait(changed, 90, "the gallery's picture to change")
        except TimeoutError:
            check.failures.append(f"gallery {number + 1}: the picture did not change when another answer was picked")
        time.sleep(1)
        check.screenshots.append(_shot(box, shots / f"{stem}_gallery{suffix}_after.png"))


def _rendered_widgets(driver: Any, expected: int, timeout_s: float = 90) -> int:
    """Widget views rendered as widgets, once ``expected`` are (or the time is up: a slow machine is not a failure)."""
    try:
        return _wait(lambda: (n := driver.execute_script(_JS_RENDERED_WIDGETS)) >= expected and n, timeout_s,
                     "widget views to render") if expected else 0
    except TimeoutError:
        return driver.execute_script(_JS_RENDERED_WIDGETS)


def _shot(element: Any, path: Path) -> Path:
    return _screenshot(element.parent, lambda: element.screenshot(str(path)), path)


def _page_shot(driver: Any, path: Path) -> Path:
    return _screenshot(driver, lambda: driver.save_screenshot(str(path)), path)


def _screenshot(driver: Any, take: Any, path: Path) -> Path:
    """Take a screenshot; once more after restoring the window size if headless Chromium lost it.

    The "Cannot take screenshot with 0 width" failures seen so far were a gallery in a hidden
    tab (now excluded: the check looks only in the notebook in front); this retry is for a
    viewport the browser itself reports as zero-width.
    """
    try:
        take()
    except Exception as exc:  # selenium's WebDriverException; matched by message, selenium is optional here
        if "0 width" not in str(exc):
            raise
        driver.set_window_size(*WINDOW_SIZE)
        time.sleep(2)
        take()
    return path


def _check_one(driver: Any, lab: _Lab, name: str, shots: Path, timeout_s: float) -> NotebookCheck:
    check = NotebookCheck(name)
    stem = Path(name).stem.split("_", 1)[0]
    start = time.monotonic()
    # ?reset: a fresh workspace, so the notebooks checked before do not reopen beside this one
    driver.get(f"{lab.url}/lab/tree/notebooks/{name}?reset&token={lab.token}")
    state = _wait(lambda: (s := driver.execute_script(_JS_STATE)).get("ready") and s.get("name", "").endswith(name)
                  and s.get("kernel") == "idle" and s, 180, f"{name} to open with an idle kernel")
    time.sleep(3)  # widget views render from the saved state
    if not state.get("trusted"):
        check.failures.append("the notebook opened untrusted: widget views cannot render")
    check.failures += [f"saved view: {p}" for p in _page_widget_errors(driver)]
    if not _has_banner(state["cells"]):
        check.failures.append("saved view: no mode banner (an output starting 'Mode: ' with the step table)")
    saved_views = sum("application/vnd.jupyter.widget-view+json" in (o.get("data") or {})
                      for c in state["cells"] for o in c["outputs"])
    rendered = _rendered_widgets(driver, saved_views)
    if rendered < saved_views:
        check.failures.append(f"saved view: {rendered} of {saved_views} saved widget views render as widgets "
                              "(untrusted, or widget state missing)")
    for number, (_, box) in enumerate(driver.execute_script(_JS_GALLERIES)):
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", box)
        time.sleep(1)
        check.screenshots.append(_shot(box, shots / f"{stem}_gallery{'' if number == 0 else number + 1}_saved.png"))
    driver.execute_script(_JS_TOP)
    time.sleep(1)
    check.screenshots.append(_page_shot(driver, shots / f"{stem}_saved.png"))
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    def finished() -> dict[str, Any] | None:
        s = driver.execute_script(_JS_STATE)
        if not s.get("ready") or s.get("kernel") != "idle":
            return None
        counts = [c["count"] for c in s["cells"]]
        errored = any(o.get("output_type") == "error" for c in s["cells"] for o in c["outputs"])
        return s if counts and (all(counts) or errored) else None

    time.sleep(2)
    try:
        state = _wait(finished, timeout_s, f"{name} to finish running", step_s=1)
    except TimeoutError as exc:
        check.failures.append(str(exc))
        state = driver.execute_script(_JS_STATE)
    views = sum("application/vnd.jupyter.widget-view+json" in (o.get("data") or {})
                for c in state.get("cells", []) for o in c["outputs"])
    if _rendered_widgets(driver, views) < views:
        check.failures.append("after running: not every widget view renders as a widget")
    check.failures += _problems_in_outputs(state.get("cells", []))
    check.failures += _page_widget_errors(driver)
    if not _has_banner(state.get("cells", [])):
        check.failures.append("after running: no mode banner")
    driver.execute_script(_JS_TOP)
    time.sleep(2)
    check.screenshots.append(_page_shot(driver, shots / f"{stem}_run.png"))
    _check_galleries(driver, stem, shots, check)
    check.failures += [f"after picking: {p}" for p in _page_widget_errors(driver)]
    check.seconds = time.monotonic() - start
    return check


def check_notebooks(
    notebooks: Sequence[Path | str],
    *,
    screenshots: Path | str | None = None,
    timeout_s: float = 900,
    chromium: str | None = None,
    driver: str | None = None,
) -> list[NotebookCheck]:
    """Run each notebook in JupyterLab in headless Chromium and check what it shows (see the module docs).

    Args:
        notebooks: Notebooks, checked in the order given (later ones may read what earlier ones wrote).
        screenshots: Folder for the screenshots (default: ``screenshots/`` in :func:`svgkit.config.output_dir`).
        timeout_s: Longest a notebook may take to run all its cells.
        chromium: The browser (default: ``chromium`` on the PATH).
        driver: ``chromedriver`` (default: on the PATH).

    Raises:
        FileNotFoundError: Chromium or chromedriver is not installed.
        RuntimeError: JupyterLab did not start.
    """
    from .config import output_dir

    paths = [Path(p) for p in notebooks]
    chromium = chromium if chromium is not None else _find(["chromium", "chromium-browser"])
    driver = driver if driver is not None else _find(["chromedriver"])
    if not chromium or not driver or not Path(chromium).is_file() or not Path(driver).is_file():
        raise FileNotFoundError("the browser check needs Chromium and chromedriver: sudo apt-get install "
                                "chromium chromium-driver (Debian/Ubuntu), or run make browser-check")
    shots = Path(screenshots) if screenshots else output_dir() / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="svgkit-browser-"))
    lab = None
    try:
        lab = _Lab(paths, workdir, shots / "jupyterlab.log")
        checks = []
        for number, path in enumerate(paths):
            # A fresh browser per notebook, as a reader opens one: nothing the last page left
            # behind (an unsaved notebook, its open tabs) reaches the next one.
            browser = None
            try:
                browser = _browser(chromium, driver, workdir / f"chromium-profile-{number}")
                browser.set_window_size(*WINDOW_SIZE)
                checks.append(_check_one(browser, lab, path.name, shots, timeout_s))
            except Exception as exc:  # noqa: BLE001 - one notebook's breakage is reported, not raised
                checks.append(NotebookCheck(path.name, [_describe(exc)]))
            finally:
                if browser is not None:
                    with contextlib.suppress(Exception):  # a crashed Chromium must not lose the report
                        browser.quit()
                lab.shut_down_kernels()  # the next notebook does not share 2 cores with this one's kernel
            if not checks[-1].ok:
                break  # later notebooks read what this one writes
        log = (shots / "jupyterlab.log").read_text(errors="replace")
        if "without encryption" in log:
            checks[-1].failures.append("the kernel warned that it runs over TCP without encryption")
        return checks
    finally:
        if lab is not None:
            lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _describe(exc: BaseException) -> str:
    """An exception as one line, with the step of the check it stopped (selenium's messages name none)."""
    import traceback

    steps = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == __file__ and f.name != "<lambda>"]
    where = f" in {steps[-1].name} (line {steps[-1].lineno})" if steps else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}{where}: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: check the given notebooks; exit 1 if any check failed."""
    parser = argparse.ArgumentParser(prog="python -m svgkit.browser_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="notebooks to open and run, in order")
    parser.add_argument("--screenshots", help="folder for screenshots (default: outputs/screenshots)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    start = time.monotonic()
    checks = check_notebooks(args.notebooks, screenshots=args.screenshots)
    for check in checks:
        print(f"== {check.name}: {'ok' if check.ok else 'FAILED'} in {check.seconds:.0f} s")
        for failure in check.failures:
            print(f"   {failure}")
        if check.screenshots:
            print(f"   screenshots: {', '.join(p.name for p in check.screenshots)}")
    passed = len(checks) == len(args.notebooks) and all(c.ok for c in checks)
    folder = checks[0].screenshots[0].parent if checks and checks[0].screenshots else "outputs/screenshots"
    print(f"\nbrowser check {'passed' if passed else 'FAILED'}: {sum(c.ok for c in checks)}/{len(args.notebooks)} "
          f"notebooks in {time.monotonic() - start:.0f} s; screenshots in {folder}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
