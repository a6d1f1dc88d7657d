"""The built book, tested as a web page: build it from smoke runs, open every page in headless Chromium.

Checks: every table-of-contents entry became a page; the introduction's reading order is the table of contents;
no page loads anything from the network (the HTML names no http(s) asset, and the browser, with the network
blocked, sees no request leave the machine); formulas are typeset by the MathJax shipped with the build; pages
load without console errors; images and figures render; internal links resolve; solution toggles open.
Chromium is Debian's (installed by `make test`); playwright drives it. Without a browser the browser checks are
skipped, except under CI where they fail.
"""

import fcntl
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.xdist_group(name="book")


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


@pytest.fixture(scope="module")
def book(smoke_book, shared_cache):
    """`kit book --profile smoke`, built once per test session by whichever worker needs it first (the folder is
    the session's, see conftest; the lock keeps a second worker from building beside the first). The notebooks
    the notebook tests executed there are up to date for it, and the other way round."""
    with open(smoke_book / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (smoke_book / "html" / "index.html").is_file():
            r = subprocess.run([sys.executable, "-m", "kit", "book", "--profile", "smoke", "--out", str(smoke_book),
                                "--cache-dir", str(shared_cache)], cwd=ROOT, capture_output=True, text=True)
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return smoke_book / "html"


def test_every_toc_entry_is_a_page_with_executed_outputs(book):
    for entry in _toc_files():
        assert (book / f"{entry}.html").is_file(), entry
    for entry in _toc_files():
        if entry.startswith("notebooks/"):
            html = (book / f"{entry}.html").read_text()
            assert "cell_output" in html, f"{entry} shows no executed output"


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing on CI; `make test` installs it")
        pytest.skip("no Chromium on this machine (make test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--allow-file-access-from-files"])
        yield b
        b.close()


def _open(browser, path):
    """Open a page with the network blocked: a request for anything but a local file is refused and recorded
    as an error, as is every console error."""
    page = browser.new_page()
    errors = []

    def refuse(route):
        errors.append(f"request to the network: {route.request.url}")
        route.abort()

    page.route(re.compile(r"^(?!file:|data:|blob:)"), refuse)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    return page, errors


# what a page loads: the URL-valued attributes of these tags, and url()/@import in its stylesheets
_ASSET_TAGS = re.compile(r"<(script|link|img|iframe|source|video|audio|embed|object|track|input)\b[^>]*>", re.I)
_ASSET_URL = re.compile(r"""\b(?:src|href|data|poster|srcset)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", re.I)
_CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])((?:https?:)?//[^"')\s]+)""", re.I)


def test_the_built_book_loads_no_asset_from_the_network(book):
    remote = []
    for page in book.rglob("*.html"):
        for tag in _ASSET_TAGS.finditer(page.read_text(encoding="utf-8")):
            remote += [f"{page.relative_to(book)}: {url}" for url in _ASSET_URL.findall(tag.group(0))]
    for css in book.rglob("*.css"):
        remote += [f"{css.relative_to(book)}: {url}" for url in _CSS_URL.findall(css.read_text(encoding="utf-8"))]
    assert not remote, f"assets named by URL (an offline reader cannot load them): {remote[:10]}"
    assert (book / "_static" / "mathjax" / "tex-chtml.js").is_file(), "MathJax is not shipped with the build"


def test_intro_reading_order_is_the_table_of_contents():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    section = intro.split("## How to read this book", 1)[1].split("\n## ", 1)[0]
    named = []
    for target in re.findall(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", section):
        entry = os.path.normpath(os.path.join("book", target))
        if entry not in named:
            named.append(entry)
    assert named == _toc_files()[1:], "the introduction's reading order differs from _toc.yml"


def test_pages_load_cleanly_render_images_and_links_resolve(book, browser):
    for entry in _toc_files():
        path = book / f"{entry}.html"
        page, errors = _open(browser, path)
        page.wait_for_timeout(200)
        assert not errors, f"{entry}: console errors {errors}"
        broken = page.eval_on_selector_all(
            "img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.src)")
        assert not broken, f"{entry}: images that did not render {broken}"
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            url = urlparse(href)
            if url.scheme or href.startswith(("#", "mailto:")):
                continue
            target = (path.parent / unquote(url.path)).resolve()
            assert target.exists(), f"{entry}: link {href!r} points at a missing file"
        page.close()


def test_notebook_figures_render(book, browser):
    page, _ = _open(browser, book / "notebooks" / "01_matching_by_hand.html")
    sizes = page.eval_on_selector_all(".cell_output img", "els => els.map(e => e.naturalWidth)")
    assert sizes and min(sizes) > 100
    page.close()


def test_solution_toggles_open(book, browser):
    page, _ = _open(browser, book / "notebooks" / "01_matching_by_hand.html")
    body = page.locator(".admonition.dropdown").first
    assert body.count() == 1
    hidden_text = body.locator("p").nth(1)
    assert not hidden_text.is_visible()
    body.locator(".toggle-button, .admonition-title").first.click()
    page.wait_for_timeout(300)
    assert hidden_text.is_visible()
    page.close()


def test_formulas_render_offline(book, browser):
    """Every page with math: MathJax (from the build's _static) typesets each formula, none is left as raw TeX."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with_math = [e for e in _toc_files() if 'class="math' in (book / f"{e}.html").read_text(encoding="utf-8")]
    assert {"book/intro", "book/glossary", "notebooks/01_matching_by_hand"} <= set(with_math)
    for entry in with_math:
        page, errors = _open(browser, book / f"{entry}.html")
        try:
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=20_000)
        except PlaywrightTimeout:
            pytest.fail(f"{entry}: MathJax did not start in 20 s ({errors})")
        page.evaluate("() => MathJax.startup.promise")
        counts = page.evaluate("""() => ({
            math: document.querySelectorAll('.math').length,
            typeset: document.querySelectorAll('.math mjx-container').length,
            failed: document.querySelectorAll('mjx-merror').length})""")
        assert counts["math"] and counts["typeset"] == counts["math"] and not counts["failed"], (entry, counts)
        text = page.evaluate("""() => { const a = document.querySelector('article').cloneNode(true);
            a.querySelectorAll('pre, code, script, style').forEach(e => e.remove()); return a.textContent; }""")
        raw = re.findall(r".{0,30}(?:\\\(|\\\[|\$\$|\$\\).{0,30}", text)
        assert not raw, f"{entry}: TeX left untypeset {raw[:3]}"
        assert not errors, f"{entry}: {errors}"
        page.close()
