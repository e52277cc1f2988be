"""Open an HTML report in headless Chromium (Debian's, driven by Playwright) and inspect it.

Used by tests/test_report_browser.py, and as a script to refresh the screenshot in the docs:

    .venv/bin/python tests/browser.py demo/report.html docs/img/report.png
"""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

# The flags keep Chromium from reaching for the network (this machine has none) and let it
# run as root in a container.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def open_page(path: Path, *, width: int = 1200, height: int = 900):
    """Yield (page, console_errors) for the file at ``path``."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            yield page, errors
        finally:
            browser.close()


def figure_sizes(page) -> list[dict]:
    """Natural and rendered size of every <img> on the page."""
    return page.evaluate(
        """() => Array.from(document.images).map(img => {
            const r = img.getBoundingClientRect();
            return {complete: img.complete, natural: img.naturalWidth,
                    width: r.width, height: r.height};
        })"""
    )


def table_values(page, table_id: str) -> list[list]:
    """Rows of a report table: each cell's data-value as a float, else its text."""
    return page.evaluate(
        """(id) => Array.from(document.querySelectorAll(`#${id} tbody tr`)).map(tr =>
            Array.from(tr.children).map(c =>
                c.dataset.value !== undefined ? parseFloat(c.dataset.value) : c.textContent))""",
        table_id,
    )


def main(argv: list[str]) -> int:
    source, target = Path(argv[0]), Path(argv[1])
    with open_page(source, width=1100, height=900) as (page, errors):
        page.screenshot(path=str(target), full_page=False)
    print(f"wrote {target}; console errors: {errors or 'none'}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", "0")
    sys.exit(main(sys.argv[1:]))
