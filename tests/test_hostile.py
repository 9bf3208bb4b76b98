"""Hostile model output: nothing is fetched, no file leaks, every case ends in bounded time.

A real HTTP server on 127.0.0.1 counts every request it gets; each test asserts it got none.
The whole module must finish in well under 30 s on 2 cores.
"""

import base64
import gzip
import io
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from svgkit.config import LIMITS
from svgkit.render import _fetch_data_only, render_many, render_png
from svgkit.svg import sanitize_svg

NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
SECRET = "svgkit-secret-7f3a9c"  # content of a local file that must never leak into output
CASE_BUDGET_S = 8.0  # per case, far below the 30 s for the module


class CountingServer:
    def __init__(self) -> None:
        self.requests: list[str] = []
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                state.requests.append(self.path)
                body = b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>'
                self.send_response(200)
                self.send_header("Content-Type", "image/svg+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def server() -> Iterator[CountingServer]:
    srv = CountingServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "secret.txt"
    path.write_text(SECRET)
    return path


def test_the_counting_server_really_counts(server):
    import urllib.request

    before = len(server.requests)
    with urllib.request.urlopen(server.url("/probe"), timeout=5) as response:
        response.read()
    assert len(server.requests) == before + 1
    server.requests.clear()


def check(result, *, server=None, started: float, budget_s: float = CASE_BUDGET_S) -> None:
    """The common promises: bounded time, no fetch, no leaked file content."""
    assert time.perf_counter() - started < budget_s
    if server is not None:
        assert server.requests == [], f"fetched: {server.requests}"
    for text in (result.svg or "", result.error or "", *(f.detail for f in result.findings)):
        assert SECRET not in text and "root:x:0:0" not in text
    if result.ok:
        assert result.png and SECRET.encode() not in result.png
    else:
        assert result.error


def test_xxe_entity_reading_a_local_file(secret_file, server):
    started = time.perf_counter()
    svg = (f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file://{secret_file}">'
           f'<!ENTITY net SYSTEM "{server.url("/xxe")}">]>'
           f'<svg {NS} width="200" height="50"><text y="20">&xxe;&net;</text></svg>')
    result = render_png(svg)
    check(result, server=server, started=started)
    assert not result.ok and result.rejected
    assert "entity" in {f.code for f in result.findings}


def test_billion_laughs():
    started = time.perf_counter()
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    svg = f"<!DOCTYPE svg [{entities}]><svg {NS}><text>&lol9;</text></svg>"
    result = render_png(svg)
    check(result, started=started)
    assert not result.ok and result.rejected


def test_image_href_to_local_http_server_is_never_fetched(server):
    started = time.perf_counter()
    inner = f'<svg {NS}><image href="{server.url("/nested.png")}" width="5" height="5"/></svg>'
    nested = "data:image/svg+xml;base64," + base64.b64encode(inner.encode()).decode()
    svg = (f'<svg {NS} width="100" height="100">'
           f'<image href="{server.url("/a.png")}" width="50" height="50"/>'
           f'<image xlink:href="{server.url("/b.svg")}" x="50" width="50" height="50"/>'
           f'<use href="{server.url("/c.svg#x")}"/>'
           f'<rect width="10" height="10" fill="url({server.url("/d.svg#p")})"/>'
           f'<filter id="f"><feImage href="{server.url("/e.png")}"/></filter>'
           f'<image href="{nested}" y="50" width="50" height="50"/>'
           f'<circle cx="80" cy="80" r="10" fill="teal"/></svg>')
    result = render_png(svg)
    check(result, server=server, started=started)
    assert result.ok  # the rest of the drawing is still drawn
    assert str(server.port) not in result.svg
    assert {"external_href", "external_url"} <= {f.code for f in result.findings}


def test_file_and_relative_images_are_never_read(secret_file, server):
    started = time.perf_counter()
    svg = (f'<svg {NS} width="60" height="60">'
           f'<image href="file:///etc/passwd" width="20" height="20"/>'
           f'<image href="file://{secret_file}" width="20" height="20"/>'
           f'<image xlink:href="{secret_file.name}" width="20" height="20"/>'
           f'<image href="../../../etc/passwd" width="20" height="20"/>'
           f'<rect width="10" height="10" fill="navy"/></svg>')
    result = render_png(svg)
    check(result, server=server, started=started)
    assert result.ok and "passwd" not in result.svg and secret_file.name not in result.svg
    assert sum(f.code == "external_href" for f in result.findings) >= 4


def test_the_workers_url_fetcher_refuses_everything_but_data(server, secret_file):
    # Second line of defence, below the sanitiser: even if an href got through, no I/O happens.
    assert _fetch_data_only(server.url("/direct.png"), "image/*") == b""
    assert b"<svg" in _fetch_data_only(server.url("/direct.svg"), "image/svg+xml")
    assert SECRET.encode() not in _fetch_data_only(f"file://{secret_file}", "image/*")
    png = _png_bomb(2)
    assert _fetch_data_only("data:image/png;base64," + base64.b64encode(png).decode(), "image/*") == png
    assert _fetch_data_only("data:image/png;base64,aGVsbG8=", "image/*") == b""  # "hello" is no image
    assert server.requests == []


def test_the_workers_url_fetcher_never_hands_cairosvg_hidden_svg():
    # cairosvg draws any image whose bytes contain "<svg" or are gzipped as SVG, whatever the type.
    inner = f'<svg {NS}><text><text>x</text></text></svg>'.encode()
    for uri in ("data:image/png;base64," + base64.b64encode(inner).decode(),
                "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff" + inner).decode(),
                "data:image/png;base64," + base64.b64encode(gzip.compress(inner)).decode(),
                "data:image/svg+xml;base64," + base64.b64encode(gzip.compress(inner)).decode(),
                "data:image/png," + urllib.parse.quote(inner)):
        assert _fetch_data_only(uri, "image/*") == b"", uri[:30]
    # Documents for <use>/<tref> and style sheets are never loaded from data: URIs either.
    svg_uri = "data:image/svg+xml;base64," + base64.b64encode(inner).decode()
    assert _fetch_data_only(svg_uri, "image/*") == inner  # an <image> (the sanitiser cleaned it)
    assert b"<text" not in _fetch_data_only(svg_uri, "image/svg+xml")
    assert _fetch_data_only("data:text/css,rect{fill:red}", "text/css") == b""


def _nested_text_svg(levels: int) -> str:
    return f'<svg {NS} width="50" height="50">' + "<text>" * levels + "x" + "</text>" * levels + "</svg>"


@pytest.mark.parametrize("mime", ["image/png", "image/jpeg", "image/svg", "image/gif"])
def test_svg_disguised_as_a_raster_data_image_is_not_drawn(mime, server):
    # Nested <text> is exponential in cairosvg; disguised as a PNG it escaped the sanitiser.
    started = time.perf_counter()
    fetch = f'<tspan><image href="{server.url("/in-png")}"/>x</tspan></text>'
    payload = _nested_text_svg(25).replace("x</text>", fetch, 1).encode()
    if mime == "image/jpeg":
        payload = b"\xff\xd8\xff\xe0" + payload
    uri = f"data:{mime};base64," + base64.b64encode(payload).decode()
    svg = (f'<svg {NS} width="50" height="50"><rect width="50" height="50" fill="teal"/>'
           f'<image width="50" height="50" href="{uri}"/></svg>')
    result = render_png(svg)
    check(result, server=server, started=started)
    assert result.ok and "bad_data_image" in {f.code for f in result.findings}
    assert "data:" not in result.svg


def test_use_of_a_data_svg_cannot_escape_the_expansion_limit():
    started = time.perf_counter()
    inner = f'<svg {NS} width="10" height="10"><g id="a">' + '<rect width="1" height="1"/>' * 2000 + "</g>" \
        + '<use href="#a"/>' * 20 + "</svg>"
    uri = "data:image/svg+xml;base64," + base64.b64encode(inner.encode()).decode()
    svg = (f'<svg {NS} width="100" height="100"><defs><g id="g"><use href="{uri}#a"/><use href="{uri}"/></g></defs>'
           + '<use href="#g"/>' * 300 + '<circle r="5"/></svg>')
    result = render_png(svg)
    check(result, started=started)
    assert result.ok and "data_href" in {f.code for f in result.findings}
    assert "data:" not in result.svg


def test_xml_base_is_not_kept_for_another_consumer(server):
    started = time.perf_counter()
    svg = (f'<svg {NS} width="50" height="50" xml:base="{server.url("/base/")}">'
           f'<image href="a.png" width="9" height="9"/><image href="#x" width="9" height="9"/>'
           f'<rect id="x" width="5" height="5"/></svg>')
    result = render_png(svg)
    check(result, server=server, started=started)
    assert result.ok and "xml_base" in {f.code for f in result.findings}
    assert str(server.port) not in result.svg and "xml:base" not in result.svg


def _use_bomb(reference: str, *, after: str = "") -> str:
    """Nine levels of ten ``reference``s to the level below (10^9 paths if expanded), then ``after``.

    ``reference`` is one reference with ``{target}`` for the id it points at (``<use href="#{target}"/>``).
    """
    parts = [f'<svg {NS} width="100" height="100"><defs><path id="a0" d="M0 0h1v1z"/>']
    for level in range(1, 10):
        parts.append(f'<g id="a{level}">' + reference.format(target=f"a{level - 1}") * 10 + "</g>")
    parts.append("</defs>" + reference.format(target="a9") + after + "</svg>")
    return "".join(parts)


def test_use_bomb():
    started = time.perf_counter()
    result = render_png(_use_bomb('<use href="#{target}"/>'))
    check(result, started=started)
    assert not result.ok and "reference_expansion" in {f.code for f in result.findings}


def test_hundred_thousand_nested_groups():
    started = time.perf_counter()
    n = 100_000
    svg = f"<svg {NS}>" + "<g>" * n + '<rect width="1" height="1"/>' + "</g>" * n + "</svg>"
    result = render_png(svg)
    check(result, started=started)
    assert not result.ok and "too_deep" in {f.code for f in result.findings}


def test_hundred_thousand_unclosed_groups_in_malformed_xml():
    started = time.perf_counter()
    result = render_png(f"<svg {NS}>" + "<g>" * 100_000 + "<rect & ")
    check(result, started=started)
    assert not result.ok and "too_deep" in {f.code for f in result.findings}


def test_huge_width():
    started = time.perf_counter()
    result = render_png(f'<svg {NS} width="1e9" height="1e9"><rect width="5e8" height="5e8" fill="red"/></svg>')
    check(result, started=started)
    assert result.ok and (result.width, result.height) == (1024, 1024)


def test_twenty_megabytes_of_path_data():
    started = time.perf_counter()
    d = "M0 0 " + "L1 1 L2 0 " * 2_000_000
    assert len(d) > 20_000_000
    result = render_png(f'<svg {NS} width="10" height="10"><path d="{d}"/></svg>')
    check(result, started=started)
    assert not result.ok and "too_large" in {f.code for f in result.findings}


def test_heavy_but_allowed_path_data_is_bounded_by_the_timeout():
    started = time.perf_counter()
    d = "M0 0 " + " ".join(f"L{i % 997} {(i * 31) % 991}" for i in range(150_000))
    result = render_png(f'<svg {NS} width="1000" height="1000"><path d="{d}" stroke="black"/></svg>',
                        timeout_s=2.0)
    # A timeout is tried once more on a fresh worker with a longer limit: that limit is the bound.
    check(result, started=started, budget_s=CASE_BUDGET_S + 2.0 * LIMITS.render_retry_timeout_factor)
    assert result.ok or result.error.startswith("timed out") and result.attempts == 2


@pytest.mark.parametrize(
    "broken",
    [
        f'<svg {NS}><g><rect width="5" height="5"></g><text>a & b < c</text>',
        f'<svg {NS}><rect width=5 height=5 width=6 fill=red /><<<>>></svg>',
        f"<svg {NS}>" + '<text x="1" y="1">' * 50 + "unterminated",
        f'<svg {NS}><rect fill="',
        "<svg" + " a" * 100_000,
        f"<svg {NS}>" + "</g>" * 50_000 + "</svg>",
        f"<svg {NS}><![CDATA[ <script>alert(1)</script> ]]><!-- <script> --></svg>",
    ],
)
def test_malformed_xml(broken):
    started = time.perf_counter()
    result = render_png(broken)
    check(result, started=started)
    assert result.ok or result.error.startswith("rejected")
    if result.ok:
        assert "<script" not in result.svg


def test_css_import_of_a_url(server):
    started = time.perf_counter()
    svg = (f'<svg {NS} width="50" height="50"><style>@import url("{server.url("/evil.css")}");'
           f'@import "{server.url("/evil2.css")}"; @font-face {{ src: url({server.url("/f.woff")}) }}'
           f'rect {{ fill: green; background: url({server.url("/bg.png")}) }}</style>'
           f'<rect width="50" height="50"/></svg>')
    result = render_png(svg)
    check(result, server=server, started=started)
    assert result.ok and "css_import" in {f.code for f in result.findings}
    assert "@import" not in result.svg and str(server.port) not in result.svg


def test_script_tag_and_event_handlers():
    started = time.perf_counter()
    svg = (f'<svg {NS} width="40" height="40" onload="fetch(\'x\')"><script>document.title="x"</script>'
           f'<script xlink:href="data:text/javascript,alert(1)"/>'
           f'<a href="javascript:alert(1)"><rect width="40" height="40" fill="red" onclick="alert(1)"/></a></svg>')
    result = render_png(svg)
    check(result, started=started)
    assert result.ok
    low = result.svg.lower()
    assert "script" not in low and "onload" not in low and "onclick" not in low and "javascript" not in low


def test_the_whole_hostile_batch_in_one_go(server):
    started = time.perf_counter()
    batch = [
        f'<!DOCTYPE x [<!ENTITY a "b">]><svg {NS}>&a;</svg>',
        f'<svg {NS}><image href="{server.url("/batch.png")}"/></svg>',
        f"<svg {NS}>" + "<g>" * 5000 + "</svg>",
        f'<svg {NS} width="1e9"><rect/></svg>',
        None,
        f'<svg {NS}><style>@import url({server.url("/b.css")});</style></svg>',
    ]
    results = render_many(batch, workers=2, progress=False)
    assert len(results) == len(batch)
    for result in results:
        check(result, server=server, started=started)


def test_sanitizer_alone_is_fast_on_the_largest_allowed_input():
    started = time.perf_counter()
    svg = f"<svg {NS}>" + '<rect width="1" height="1"/>' * 19_000 + "</svg>"
    result = sanitize_svg(svg + "&")  # malformed: goes through the browser-like rebuild too
    assert result.recovered and not result.rejected
    assert time.perf_counter() - started < CASE_BUDGET_S


def _png_bomb(side: int) -> bytes:
    """A tiny PNG that decodes to side x side x 1 byte (grey), built without holding it in memory."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_decompression_bomb_hits_the_memory_cap_not_the_caller():
    started = time.perf_counter()
    bomb = base64.b64encode(_png_bomb(20_000)).decode()  # 400 MB of pixels, 1.6 GB as cairo ARGB
    svg = (f'<svg {NS} width="100" height="100">'
           f'<image href="data:image/png;base64,{bomb}" width="99" height="99"/></svg>')
    result = render_png(svg, timeout_s=20)
    # Drawn twice (a long-lived worker has less headroom under its cap than a fresh one).
    check(result, started=started, budget_s=2 * CASE_BUDGET_S)
    assert not result.ok and result.error.startswith("out of memory") and result.attempts == 2
    assert render_png(f'<svg {NS} width="5" height="5"/>').ok  # the pool goes on


def _svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _pixel(result, x: int, y: int) -> tuple[int, ...]:
    return Image.open(io.BytesIO(result.png)).convert("RGB").getpixel((x, y))


# An embedded SVG that must never be drawn unsanitised: script, and nested <text> that takes cairosvg
# exponential time, over a red square.
_UNSAFE_INNER = (f'<svg {NS} width="50" height="50"><script>document.title="x"</script>'
                 '<rect width="50" height="50" fill="red"/>' + "<text>" * 25 + "x" + "</text>" * 25 + "</svg>")


@pytest.mark.parametrize("where", ["style attribute", "style rule", "escaped xlink:href"])
def test_embedded_svg_through_css_href_is_not_drawn(where):
    started = time.perf_counter()
    uri = _svg_uri(_UNSAFE_INNER)
    image = {
        "style attribute": f'<image width="50" height="50" style="href:&quot;{uri}&quot;"/>',
        "style rule": f'<style>image {{ href: "{uri}" }}</style><image width="50" height="50"/>',
        "escaped xlink:href": '<image width="50" height="50" style="\\{http\\:\\/\\/www\\.w3\\.org\\/1999\\/xlink'
                              f'\\}}href:&quot;{uri}&quot;"/>',
    }[where]
    result = render_png(f'<svg {NS} width="50" height="50"><rect width="50" height="50" fill="teal"/>{image}</svg>')
    check(result, started=started)
    assert result.ok and "css_not_style" in {f.code for f in result.findings}
    assert _pixel(result, 25, 25) == (0, 128, 128)  # the teal background: the red image was not drawn
    assert "data:" not in result.svg and result.embedded == ()


def test_use_bomb_through_css_href_is_not_expanded():
    started = time.perf_counter()
    result = render_png(_use_bomb('<use style="href:#{target}"/>',
                                  after='<rect x="50" width="50" height="100" fill="navy"/>'))
    check(result, started=started)
    assert result.ok and result.attempts == 1  # drawn at once: 10^9 rects were never in reach
    assert _pixel(result, 75, 50) == (0, 0, 128) and _pixel(result, 0, 50) == (255, 255, 255)


def test_href_and_xlink_href_draw_what_a_browser_draws():
    started = time.perf_counter()
    blue = _svg_uri(f'<svg {NS} width="50" height="50"><rect width="50" height="50" fill="blue"/></svg>')
    svg = (f'<svg {NS} width="50" height="50"><image width="50" height="50" href="{blue}" '
           f'xlink:href="{_svg_uri(_UNSAFE_INNER)}"/></svg>')
    result = render_png(svg)
    check(result, started=started)
    # cairosvg alone draws xlink:href (the red one, its nested text taking exponential time).
    assert result.ok and _pixel(result, 25, 25) == (0, 0, 255)
    assert "duplicate_href" in {f.code for f in result.findings}


@pytest.mark.parametrize("kind", ["pattern", "marker", "clip-path", "mask", "image"])
def test_reference_bombs_are_refused_before_drawing(kind):
    started = time.perf_counter()
    def level(k: int) -> str:
        prev = k - 1
        if kind == "pattern":
            body = f'<rect width="5" height="5" fill="url(#d{prev})"/>' * 10 if k else "<rect/>"
            return f'<pattern id="d{k}" width="5" height="5" patternUnits="userSpaceOnUse">{body}</pattern>'
        if kind == "marker":
            body = f'<path d="M0 0{" L1 1" * 30}" marker-mid="url(#d{prev})"/>' if k else "<rect/>"
            return f'<marker id="d{k}">{body}</marker>'
        if kind == "clip-path":
            return f'<clipPath id="d{k}">' + (f'<rect width="9" height="9" clip-path="url(#d{prev})"/>' * 10
                                             if k else "<rect/>") + "</clipPath>"
        if kind == "mask":
            return f'<mask id="d{k}">' + (f'<rect width="9" height="9" mask="url(#d{prev})"/>' * 10
                                         if k else "<rect/>") + "</mask>"
        inner = f'<svg {NS} width="9" height="9">' + "<rect/>" * 900 + "</svg>"
        return f'<image id="d{k}" width="9" height="9" href="{_svg_uri(inner)}"/>' if k == 5 else ""
    use = {"pattern": '<rect width="99" height="99" fill="url(#d5)"/>',
           "marker": f'<path d="M0 0{" L1 1" * 30}" marker-mid="url(#d4)"/>',
           "clip-path": '<rect width="99" height="99" clip-path="url(#d5)"/>',
           "mask": '<rect width="99" height="99" mask="url(#d5)"/>',
           "image": '<use href="#d5"/>' * 100}[kind]
    svg = f'<svg {NS} width="99" height="99"><defs>' + "".join(level(k) for k in range(6)) + f"</defs>{use}</svg>"
    result = render_png(svg)
    check(result, started=started)
    assert not result.ok and result.rejected and "reference_expansion" in {f.code for f in result.findings}
    assert result.attempts == 1  # refused by the sanitiser: never drawn, never retried
