"""render_png / render_many: real worker processes, real cairosvg, real PNGs."""

import io
import os
import signal
import time

import numpy as np
import pytest
from PIL import Image

from svgkit import render as render_mod
from svgkit.render import RenderResult, render_many, render_png, shutdown_workers

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">'
       '<rect x="10" y="10" width="50" height="30" fill="#ff0000"/></svg>')


def pixels(result: RenderResult) -> np.ndarray:
    assert result.ok and result.png is not None, result.error
    image = Image.open(io.BytesIO(result.png))
    assert image.size == (result.width, result.height)
    return np.asarray(image.convert("RGB"))


def test_render_png_draws_on_white():
    result = render_png(SVG)
    assert result.ok and result.error is None
    assert (result.width, result.height) == (120, 80)
    img = pixels(result)
    assert tuple(img[20, 20]) == (255, 0, 0)  # inside the rect
    assert tuple(img[70, 110]) == (255, 255, 255)  # white background, not transparent
    assert result.duration_s > 0
    assert 'width="120"' in result.svg


def test_viewbox_only_svg_is_scaled_to_its_viewbox():
    svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="5" height="10" fill="blue"/></svg>'
    result = render_png(svg)
    assert (result.width, result.height) == (10, 10)
    img = pixels(result)
    assert tuple(img[5, 2]) == (0, 0, 255) and tuple(img[5, 8]) == (255, 255, 255)


def test_svg_without_size_gets_the_default_canvas_and_no_size_error():
    result = render_png('<svg xmlns="http://www.w3.org/2000/svg"><circle cx="400" cy="300" r="50" fill="green"/></svg>')
    assert result.ok and (result.width, result.height) == (800, 600)
    assert tuple(pixels(result)[300, 400]) == (0, 128, 0)
    assert "default_canvas" in {f.code for f in result.findings}


def test_long_side_is_clamped_and_drawing_scaled():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="2000">'
           '<rect x="2000" width="2000" height="2000" fill="black"/></svg>')
    result = render_png(svg, max_side=400)
    assert (result.width, result.height) == (400, 200)
    img = pixels(result)
    assert tuple(img[100, 300]) == (0, 0, 0) and tuple(img[100, 100]) == (255, 255, 255)
    assert "canvas_clamped" in {f.code for f in result.findings}


def test_malformed_svg_is_recovered_or_rejected_in_strict_mode():
    broken = ('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">'
              '<rect width="20" height="20" fill="red"></svg>')
    lenient = render_png(broken)
    assert lenient.ok and lenient.recovered
    assert tuple(pixels(lenient)[10, 10]) == (255, 0, 0)
    strict = render_png(broken, strict=True)
    assert not strict.ok and strict.rejected and strict.error.startswith("rejected:")


def test_none_and_non_svg_are_failed_results_not_exceptions():
    assert render_png(None).error == "no svg"  # type: ignore[arg-type]
    junk = render_png("hello")
    assert not junk.ok and junk.error.startswith("rejected")


def _text_pixels(attributes: str) -> np.ndarray:
    """The pixels of one line of text drawn with ``attributes`` on its ``<text>``."""
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text x="5" y="30" '
           f'font-size="24" {attributes}>Hamburgefonstiv</text></svg>')
    return pixels(render_png(svg))


def test_generic_font_families_use_liberation_fonts():
    def text(family: str) -> np.ndarray:
        return _text_pixels(f'font-family="{family}"')

    assert np.array_equal(text("sans-serif"), text("Liberation Sans"))
    assert np.array_equal(text("serif"), text("Liberation Serif"))
    assert np.array_equal(text("monospace"), text("Liberation Mono"))
    # A list is resolved as a browser does: an uninstalled first family falls through to sans-serif.
    assert np.array_equal(text("NoSuchFontAnywhere, sans-serif"), text("Liberation Sans"))
    assert not np.array_equal(text("sans-serif"), text("serif"))


def test_text_without_font_family_uses_the_browser_default_serif():
    assert np.array_equal(_text_pixels(""), _text_pixels('font-family="Liberation Serif"'))


def test_render_many_keeps_order_and_handles_none():
    svgs = [SVG.replace("#ff0000", f"#0000{i:02x}") for i in range(0, 60, 10)]
    batch = [svgs[0], None, *svgs[1:], "<svg"]
    results = render_many(batch, workers=2, progress=False)
    assert len(results) == len(batch)
    assert results[1].error == "no svg"
    assert not results[-1].ok
    for svg, result in zip(svgs, [results[0], *results[2:-1]], strict=True):
        assert result.ok
        expected_blue = int(svg.split("#0000")[1][:2], 16)
        assert tuple(pixels(result)[20, 20]) == (0, 0, expected_blue)


def test_render_many_rejects_unknown_options():
    with pytest.raises(TypeError, match="timeout_s"):
        render_many([SVG], progress=False, timeout=3)
    with pytest.raises(ValueError, match="workers"):
        render_many([SVG], workers=0, progress=False)
    assert render_many([], progress=False) == []


def test_bad_options_raise_clear_errors():
    with pytest.raises(ValueError, match="timeout_s"):
        render_png(SVG, timeout_s=0)
    with pytest.raises(ValueError, match="max_side"):
        render_png(SVG, max_side=0)


# Takes well over a second to draw.
SLOW = ('<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="1000"><defs><filter id="b">'
        '<feGaussianBlur stdDeviation="3"/></filter></defs>'
        + "".join(f'<circle cx="{i % 1000}" cy="{(i * 7) % 1000}" r="{200 + i % 300}" fill-opacity="0.3" '
                  f'stroke="#123" stroke-width="9" stroke-dasharray="1 1"/>' for i in range(3000))
        + "</svg>")


def test_timeout_kills_the_worker_and_the_next_render_works():
    start = time.perf_counter()
    result = render_png(SLOW, timeout_s=0.05)
    # Tried twice: 0.05 s, then on a fresh worker with twice the limit; the SVG's fault both times.
    assert not result.ok and result.error.startswith("timed out after 0.1 s")
    assert result.failure == "content" and result.attempts == 2
    assert "timed out after 0.05 s, then on a fresh worker" in {f.code: f.detail for f in result.findings}[
        "render_retried"]
    assert time.perf_counter() - start < 10
    assert render_png(SVG).ok


def test_a_killed_idle_worker_is_replaced_transparently():
    assert render_png(SVG).ok
    pool = render_mod._pool()
    assert pool.idle, "a worker should be idle after a render"
    for worker in list(pool.idle):
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(5)
    results = render_many([SVG] * 4, workers=2, progress=False)
    assert all(r.ok for r in results)


def test_a_worker_dying_mid_task_fails_only_that_item(monkeypatch):
    pool = render_mod._pool()
    original_send = render_mod._Worker.send
    calls = {"n": 0}

    def send_then_die(self, task):
        original_send(self, task)
        calls["n"] += 1
        if b"feGaussianBlur" in task:  # the worker dies while it is busy with the slow task
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    monkeypatch.setattr(render_mod._Worker, "send", send_then_die)
    results = render_many([SVG, SLOW, SVG, SVG, SVG], workers=1, progress=False, timeout_s=30)
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1 and failed[0] is results[1]
    assert failed[0].error == "renderer crashed (exit code -9)"
    assert failed[0].failure == "content"  # it died drawing this SVG (a segfault, the OOM killer)
    assert sum(r.ok for r in results) == 4
    assert pool.size <= 2


def test_shutdown_workers_then_render_again():
    assert render_png(SVG).ok
    shutdown_workers()
    assert render_png(SVG).ok


def test_progress_bar_does_not_break_rendering(capsys):
    results = render_many([SVG, SVG], workers=2, progress=True)
    assert all(r.ok for r in results)
    assert "rendering" in capsys.readouterr().err


# ------------------------------------------------------------ whose fault a failure is; what reaches the worker
NS = 'xmlns="http://www.w3.org/2000/svg"'


def test_failure_is_none_when_drawn():
    assert render_png(SVG).failure is None


@pytest.mark.parametrize(
    "svg, error",
    [
        (None, "no svg"),
        ("hello", "rejected"),
        (f'<!DOCTYPE svg [<!ENTITY a "b">]><svg {NS}>&a;</svg>', "rejected"),
        (f'<svg {NS} width="9" height="9"><rect width="9" height="9" transform="scale(1e308)"/></svg>',
         "render error: CairoError"),
        # A cycle only a <use> makes (its target inherits the marker from it): the sanitiser's
        # count cannot see it, cairosvg recurses until Python stops it.
        (f'<svg {NS} width="99" height="99"><defs><path id="l" d="M0 0 L5 5 L9 0"/><marker id="m">'
         f'<use href="#l" marker-mid="url(#m)"/></marker></defs><use href="#l" marker-mid="url(#m)"/></svg>',
         "render error: nesting too deep"),
    ],
)
def test_failures_caused_by_the_svg_are_content_failures(svg, error):
    result = render_png(svg)
    assert not result.ok and result.error.startswith(error)
    assert result.failure == "content"
    # Drawing failures are tried once more on a fresh worker; rejections are certain at once.
    assert result.attempts == (1 if result.rejected or svg is None else 2)


def test_worker_that_cannot_start_is_an_infrastructure_failure(monkeypatch):
    def no_worker(env):
        raise render_mod._WorkerDied("render worker failed to start (exit code 1)")

    shutdown_workers()
    monkeypatch.setattr(render_mod, "_Worker", no_worker)
    result = render_png(SVG)
    assert not result.ok and result.error.startswith("renderer unavailable")
    assert result.failure == "infrastructure"


def test_spawn_error_is_an_infrastructure_failure_not_an_exception(monkeypatch):
    def no_processes(env):
        raise OSError(11, "Resource temporarily unavailable")

    shutdown_workers()
    monkeypatch.setattr(render_mod, "_Worker", no_processes)
    result = render_png(SVG)
    assert not result.ok and result.failure == "infrastructure"


def test_undecodable_reply_is_an_infrastructure_failure(monkeypatch):
    def garbled(data):
        raise ValueError("malformed reply")

    monkeypatch.setattr(render_mod, "_decode_reply", garbled)
    result = render_png(SVG)
    assert not result.ok and result.error == "renderer sent a malformed reply"
    assert result.failure == "infrastructure"


def test_worker_dead_before_the_task_twice_is_an_infrastructure_failure(monkeypatch):
    def dead(self, task):
        raise render_mod._WorkerDied("renderer had exited before the task was sent")

    monkeypatch.setattr(render_mod._Worker, "send", dead)
    result = render_png(SVG)
    assert not result.ok and result.failure == "infrastructure"


def test_import_error_in_the_worker_is_infrastructure():
    assert render_mod._exception_failure(ModuleNotFoundError("cairocffi")) == "infrastructure"
    assert render_mod._exception_failure(ValueError("cannot convert float NaN to integer")) == "content"
    assert render_mod._exception_failure(OverflowError("x")) == "content"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_workers_do_not_inherit_api_keys(monkeypatch):
    shutdown_workers()
    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-fake-key-for-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-test")
    monkeypatch.setenv("SOME_OTHER_TOKEN", "tok-fake")
    monkeypatch.setenv("LC_PAPER", "C")
    try:
        assert render_png(SVG).ok
        pool = render_mod._pool()
        assert pool.idle
        for worker in pool.idle:
            with open(f"/proc/{worker.process.pid}/environ", "rb") as fh:
                env = dict(item.split(b"=", 1) for item in fh.read().split(b"\0") if b"=" in item)
            assert not any(b"fake" in value for value in env.values()), sorted(env)
            assert b"FIREWORKS_API_KEY" not in env and b"OPENAI_API_KEY" not in env
            assert env.get(b"LC_PAPER") == b"C" and b"PYTHONPATH" in env
    finally:
        shutdown_workers()  # the next test starts workers from a clean environment again


def test_worker_env_is_an_allow_list():
    env = render_mod._worker_env({"PATH": "/bin", "HOME": "/h", "LC_ALL": "C", "OPENAI_API_KEY": "k",
                                  "AWS_SECRET_ACCESS_KEY": "s", "HF_TOKEN": "t"})
    assert env == {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C"}


def test_overflowing_size_does_not_crash_the_worker():
    # width * viewBox ratio overflowed to inf: "ValueError: cannot convert float NaN to integer".
    result = render_png(f'<svg {NS} width="1e300" viewBox="0 0 1e-300 1e300"><rect width="5" height="5"/></svg>')
    assert "NaN" not in (result.error or "") and "ValueError" not in (result.error or "")
    assert result.ok or result.failure == "content"  # cairo itself refuses a 1e300 scale: fair
    result = render_png(f'<svg {NS} width="1e30" height="1e30"><rect width="1e30" height="1e30" fill="red"/></svg>')
    assert result.ok and (result.width, result.height) == (1024, 1024)
    assert "1e+30x1e+30 scaled to 1024x1024" in {f.detail for f in result.findings}


def test_svg_with_a_rejected_embedded_image_is_drawn_and_not_rejected():
    import base64

    bad = f'<!DOCTYPE svg [<!ENTITY x "y">]><svg {NS}/>'.encode()
    svg = (f'<svg {NS} width="50" height="50"><rect width="50" height="50" fill="red"/>'
           f'<image width="9" height="9" href="data:image/svg+xml;base64,{base64.b64encode(bad).decode()}"/></svg>')
    result = render_png(svg)
    assert result.ok and not result.rejected and result.failure is None
    assert tuple(pixels(result)[25, 25]) == (255, 0, 0)


def test_embedded_svg_with_use_and_a_raster_image_still_draws():
    # The worker's fetcher now only hands over checked data: images; nesting must keep working.
    import base64

    image = Image.new("RGB", (4, 4), (0, 0, 255))
    raw = io.BytesIO()
    image.save(raw, "PNG")
    png = "data:image/png;base64," + base64.b64encode(raw.getvalue()).decode()
    inner = (f'<svg {NS} viewBox="0 0 10 10"><defs><rect id="r" width="10" height="5" fill="lime"/></defs>'
             f'<use href="#r"/><image href="{png}" y="5" width="10" height="5" preserveAspectRatio="none"/></svg>')
    uri = "data:image/svg+xml;base64," + base64.b64encode(inner.encode()).decode()
    result = render_png(f'<svg {NS} width="20" height="20"><image href="{uri}" width="20" height="20"/></svg>')
    assert result.findings == ()
    img = pixels(result)
    assert tuple(img[3, 10]) == (0, 255, 0) and tuple(img[15, 10]) == (0, 0, 255)


# --------------------------------------------------------------------------- no answer changes the next one
TEXT = (f'<svg {NS} width="120" height="40">'
        '<text x="5" y="30" font-size="20" font-family="sans-serif">Hello</text></svg>')
# 80 user units on a 1x1 viewBox drawn at 1000 px: glyphs of 80,000 px, past FreeType's 65,536.
POISON = (f'<svg {NS} width="1000" height="1000" viewBox="0 0 1 1">'
          '<text x="0" y="0.9" font-size="80" font-family="sans-serif">A</text></svg>')


def _idle_pids() -> set[int]:
    return {w.process.pid for w in render_mod._pool().idle}


def _one_worker(svg: str) -> RenderResult:
    return render_many([svg], workers=1, progress=False)[0]


@pytest.mark.parametrize("poison", [POISON, POISON.replace('font-size="80"', 'font-size="1e7"'),
                                    f'<svg {NS} width="100" height="100"><g transform="scale(1e5)">'
                                    '<text y="0.0005" font-size="1">A</text></g></svg>'])
def test_a_huge_font_size_does_not_change_how_the_next_svg_is_drawn(poison):
    shutdown_workers()
    fresh = [_one_worker(TEXT).png, _one_worker(TEXT.replace("20", "23")).png]
    shutdown_workers()
    bad = _one_worker(poison)
    (worker,) = _idle_pids()
    after = [_one_worker(TEXT), _one_worker(TEXT.replace("20", "23"))]  # 23 px: a size never used before
    assert _idle_pids() == {worker}, "drawn by the same worker"
    # The poisoning SVG itself is drawn, its text at the bounded size.
    assert bad.ok and "font_clamped" in {f.code for f in bad.findings}
    assert [r.png for r in after] == fresh


def test_a_worker_that_failed_while_drawing_is_replaced():
    shutdown_workers()
    assert _one_worker(SVG).ok
    (first,) = _idle_pids()
    rejected = _one_worker("<svg><!ENTITY x 'y'></svg>")
    assert rejected.rejected and _idle_pids() == {first}  # the sanitiser refused it: cairo never ran
    failed = _one_worker(f'<svg {NS} width="9" height="9"><rect width="9" height="9" transform="scale(1e308)"/></svg>')
    assert not failed.ok and failed.attempts == 2
    assert first not in _idle_pids() and len(_idle_pids()) <= 1  # neither failed worker went back to the pool
    assert _one_worker(SVG).ok


def test_embedded_svg_images_are_drawn_as_documents_of_their_own():
    import urllib.parse

    inner = (f'<svg {NS} viewBox="0 0 10 10"><defs><pattern id="p" width="10" height="10" '
             'patternUnits="userSpaceOnUse"><rect width="10" height="10" fill="lime"/></pattern></defs>'
             '<rect width="10" height="10" fill="url(#p)"/></svg>')
    uri = "data:image/svg+xml," + urllib.parse.quote(inner)
    svg = (f'<svg {NS} width="40" height="20"><image width="20" height="20" href="{uri}"/>'
           '<rect x="20" width="20" height="20" fill="url(#p)"/></svg>')
    img = pixels(render_png(svg))
    assert tuple(img[10, 10]) == (0, 255, 0)  # the image draws with its own pattern
    # cairosvg alone lets the outer rect (drawn after the image) use the image's pattern too.
    assert tuple(img[10, 30]) != (0, 255, 0)


def test_render_result_lists_the_embedded_documents():
    import base64

    inner = f'<svg {NS} width="9" height="9"><script/><text y="8">inner words</text></svg>'
    svg = (f'<svg {NS} width="20" height="20"><image width="9" height="9" '
           f'href="data:image/svg+xml;base64,{base64.b64encode(inner.encode()).decode()}"/></svg>')
    result = render_png(svg)
    assert result.ok and len(result.embedded) == 1
    assert "inner words" in result.embedded[0] and "<script" not in result.embedded[0]


# --------------------------------------------------------------------------- one retry on a fresh worker
def test_a_timeout_the_machine_caused_is_retried_and_drawn(monkeypatch):
    original_send = render_mod._Worker.send
    stalled: list[int] = []

    def stall_first(self, task):
        if not stalled:  # a loaded machine: the first worker gets no CPU at all
            stalled.append(self.process.pid)
            os.kill(self.process.pid, signal.SIGSTOP)
        original_send(self, task)

    monkeypatch.setattr(render_mod._Worker, "send", stall_first)
    result = render_png(SVG, timeout_s=1.0)
    assert result.ok and result.attempts == 2 and result.failure is None
    note = {f.code: f.detail for f in result.findings}["render_retried"]
    assert note.startswith("the first attempt failed (timed out after 1 s); drawn on a fresh worker")
    assert tuple(pixels(result)[20, 20]) == (255, 0, 0)
    assert stalled[0] not in _idle_pids()


def test_a_worker_dying_once_is_the_machines_fault_and_the_svg_is_drawn(monkeypatch):
    original_send = render_mod._Worker.send
    killed: list[int] = []

    def die_once(self, task):
        original_send(self, task)
        if not killed:
            killed.append(self.process.pid)
            os.kill(self.process.pid, signal.SIGKILL)

    monkeypatch.setattr(render_mod._Worker, "send", die_once)
    result = render_png(SVG)
    assert result.ok and result.attempts == 2 and result.failure is None
    assert "renderer crashed" in {f.code: f.detail for f in result.findings}["render_retried"]


def test_the_retry_gets_the_longer_limit(monkeypatch):
    limits: list[float] = []
    original_run = render_mod._Worker.run

    def record(self, task, timeout_s):
        limits.append(timeout_s)
        return original_run(self, task, timeout_s)

    monkeypatch.setattr(render_mod._Worker, "run", record)
    # A circle of radius 1e308 with a dash pattern: cairo dashes it until it is killed.
    result = render_png(f'<svg {NS} width="99" height="99"><circle r="1e308" stroke="red" stroke-dasharray="1 1"/>'
                        "</svg>", timeout_s=0.4)
    assert not result.ok and result.failure == "content" and result.attempts == 2
    assert limits == [0.4, 0.4 * render_mod.LIMITS.render_retry_timeout_factor]
    assert result.error == "timed out after 0.8 s"


def test_missing_cairo_is_an_infrastructure_failure_with_the_fix(tmp_path):
    from svgkit.reward import score_response

    fake = tmp_path / "no-cairo" / "cairocffi"
    fake.mkdir(parents=True)
    # What cairocffi raises when the C library is not installed.
    (fake / "__init__.py").write_text("raise OSError(\"no library called \\\"cairo-2\\\" was found\")\n")
    shutdown_workers()
    pool = render_mod._pool()
    pool.env["PYTHONPATH"] = os.pathsep.join((str(fake.parent), pool.env["PYTHONPATH"]))
    try:
        result = render_png(SVG)
        assert not result.ok and result.failure == "infrastructure"
        assert "cairo library cannot be loaded" in result.error and "apt-get install libcairo2" in result.error
        assert 'no library called "cairo-2"' in result.error
        start = time.perf_counter()
        again = render_many([SVG, TEXT], progress=False)
        assert all(r.error == result.error for r in again) and time.perf_counter() - start < 1.0  # no new workers
        scored = score_response(f"```svg\n{SVG}\n```", ["A red rectangle."])
        assert scored.is_score_valid is False and "not the answer's fault" in scored.reason
        assert "cairo library cannot be loaded" in scored.reason
    finally:
        shutdown_workers()
    assert render_png(SVG).ok  # a new pool, a working renderer
