"""Take the README's screenshot of the reader: a real quickstart server, a question, its answer.

    python3 benchmarks/screenshot.py [--out docs/images/reader.png]

Starts ``rag-chatbot quickstart --serve`` (at the lowest CPU priority) on a free port with a
throwaway ``DATA_DIR``, so the screenshot shows this project's own docs as a first run shows
them. In Debian's Chromium (``/usr/bin/chromium``, driven by Playwright without
``playwright install``) it asks a question in the chat panel, waits for the whole answer, opens
its first citation in the reader, and saves the page as a PNG reduced to 256 colours.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
QUESTION = "How do I ingest a folder of documents?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_quickstart(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``quickstart --serve`` indexes docs/ first, then serves: wait until the page answers."""
    command = ["nice", "-n", "19", sys.executable, "-m", "rag_chatbot", "quickstart", "--serve"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env={**os.environ, "DATA_DIR": str(data_dir)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    sys.exit(f"screenshot: the server did not start; its output:\n{log.read_text()}")


def ask_and_open_citation(page: Page, base: str, question: str) -> None:
    page.goto(base + "/")
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    answer = page.locator(".msg-bot:not(.streaming)").first
    answer.wait_for()
    if answer.locator("a.cite-ref").count() == 0:
        sys.exit(f"screenshot: the answer has no citation: {answer.inner_text()!r}")
    answer.locator("a.cite-ref").first.click()
    page.locator(".doc-section.is-cited").first.wait_for()
    page.wait_for_timeout(500)  # let the scroll to the cited section settle


def shoot(base: str, question: str, out: Path, width: int, height: int) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": width, "height": height}, reduced_motion="reduce"
        )
        context.set_default_timeout(120_000)
        page = context.new_page()
        ask_and_open_citation(page, base, question)
        page.screenshot(path=str(out))
        browser.close()
    # A palette of 256 colours holds a page of text and flat colours: a fraction of the bytes.
    with Image.open(out) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(out, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/reader.png"))
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=750)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rag-chatbot-screenshot-") as tmp:
        port = free_port()
        server = start_quickstart(Path(tmp) / "data", port, Path(tmp) / "quickstart.out")
        try:
            shoot(f"http://127.0.0.1:{port}", args.question, args.out, args.width, args.height)
        finally:
            server.send_signal(signal.SIGINT)  # Ctrl-C, as a person stops quickstart --serve
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    print(f"{args.out}: {args.out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
