"""The web page's first load in headless Chromium: bytes transferred and time to an interactive page.

    .venv/bin/python benchmarks/web_page.py                 # starts `rag serve` on sample_docs/ in a temp dir
    .venv/bin/python benchmarks/web_page.py --url http://127.0.0.1:8000 --runs 10

Page weight: the HTML, CSS and JavaScript transferred on a load with the cache disabled (Resource Timing
`transferSize`, headers included; the body sizes beside it). Interactive: from the start of navigation to
the page's `rag-ready` mark, set once its scripts ran and the collection list arrived, so every control
works. Medians over `--runs` loads, each with the cache disabled. Needs Debian's chromium and
chromium-driver (scripts/setup.sh installs them with RAG_SETUP_BROWSER=1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import chromium  # noqa: E402
from tests.conftest import BIN, free_port, server_process  # noqa: E402

LOAD_FIGURES_JS = """
const nav = performance.getEntriesByType('navigation')[0];
const resources = performance.getEntriesByType('resource').filter(r => /\\.(css|js)$/.test(new URL(r.name).pathname));
const ready = performance.getEntriesByName('rag-ready')[0];
return {
  transferred: nav.transferSize + resources.reduce((s, r) => s + r.transferSize, 0),
  bodies: nav.decodedBodySize + resources.reduce((s, r) => s + r.decodedBodySize, 0),
  files: 1 + resources.length,
  dom_content_loaded_ms: nav.domContentLoadedEventEnd,
  interactive_ms: ready ? ready.startTime : null,
};
"""


def measure(url: str, runs: int) -> list[dict]:
    driver = chromium()
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        figures = []
        for _ in range(runs):
            driver.get(url + "/")
            driver.implicitly_wait(0)
            for _ in range(200):
                if driver.execute_script("return document.body.dataset.ready === 'true'"):
                    break
                driver.execute_script("return new Promise(r => setTimeout(r, 50))")
            figures.append(driver.execute_script(LOAD_FIGURES_JS))
        return figures
    finally:
        driver.quit()


def report(figures: list[dict]) -> None:
    first = figures[0]
    print(f"page weight: {first['transferred']:,} bytes transferred ({first['bodies']:,} bytes of HTML/CSS/JS"
          f" in {first['files']} files), no images or fonts")  # fmt: skip
    for key, label in (("dom_content_loaded_ms", "DOMContentLoaded"), ("interactive_ms", "interactive")):
        values = sorted(f[key] for f in figures if f[key] is not None)
        print(f"{label}: median {statistics.median(values):.0f} ms, min {values[0]:.0f}, max {values[-1]:.0f}"
              f" ({len(values)} loads)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; default: start `rag serve` on sample_docs/")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--docs", type=Path, default=ROOT / "sample_docs", help="the folder ingested first")
    args = parser.parse_args()
    if args.url:
        report(measure(args.url.rstrip("/"), args.runs))
        return
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_DATA_DIR": f"{folder}/data"}
        subprocess.run([str(BIN / "rag"), "ingest", str(args.docs), "--collection", "sample"],
                       env=env, check=True, capture_output=True)  # fmt: skip
        port = free_port()
        command = [str(BIN / "rag"), "serve", "--port", str(port)]
        with server_process(command, "/health", port, Path(folder) / "serve.log", timeout=180, env=env) as url:
            report(measure(url, args.runs))


if __name__ == "__main__":
    main()
