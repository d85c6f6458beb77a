"""Peak memory of `rag-chatbot ingest` on one large generated text file.

    python benchmarks/ingest_memory.py [--mb 150] [--seconds 120]
    python benchmarks/ingest_memory.py --mb 150 --stand-in-model [--update] [--seconds 3600]

Writes a text file of ``--mb`` megabytes (paragraphs of English-like words), runs an ingest of
it in a subprocess with MAX_DOCUMENT_MB raised above it, samples the process's resident memory
every 0.2 s, and stops it after ``--seconds``. Prints the peak RSS and when it was reached.

By default the subprocess is the real CLI with the real model. Embedding 150 MB of text takes
hours on two cores, so that run is stopped early: it measures the file being read and cut into
passages (where memory peaks) and the model's steps (flat, one step of passages at a time),
but never the end of the ingest: ``DocumentRepository.replace()`` committing the file's
~160,000 passage rows in one transaction, the deletion of a former version's points, and
``store.optimize()``.

``--stand-in-model`` measures that end. The subprocess runs the CLI's ingest pipeline itself
(``build_container`` from the same environment, ``pipeline.ingest_paths``, ``close``), with
the test double ``HashingEmbedder`` (384 dimensions, as the real model) in place of the model,
and the real model's tokenizer counting word pieces, so the passages and their rows are the
ones the real run makes. It runs to completion in minutes (``--seconds`` is then only a
safety limit). It measures everything but the model's own arithmetic and memory: reading,
chunking, the vector store's writes, the commit, the deletion, the optimisation. The model's
memory (its onnxruntime session and arena, see the embedder's docstring) is measured by the
default mode: the CLI loads the model before it reads the file and holds it to the end, so a
real run's RSS in each phase is about the stand-in's plus that amount (the default mode's RSS
while embedding minus the stand-in's). The subprocess records when each phase begins, and
the output gives each phase's start and its peak RSS, then the rows committed (documents and
chunks in the database, points in the index), which shows that the final commit was reached.

``--update`` (with ``--stand-in-model``) ingests the file, changes its last full stop and
ingests it again in a new process, as a user re-running ``ingest`` would: every passage id
changes with the file's content, so the second commit replaces all rows and the old points
are deleted. Both runs are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

WORDS = [
    *("the", "lamp", "keeper", "trims", "wick", "harbour", "light", "fog", "signal", "tower"),
    *("lens", "oil", "morning", "dusk", "vessel", "channel", "beacon", "rocks", "tide"),
    *("weather", "log", "entry", "stairs", "gallery", "brass", "polish"),
]
SAMPLE_SECONDS = 0.2

# The subprocess of --stand-in-model: argv is the folder to ingest and the file its phases
# are appended to, one JSON line each ({"phase", "at": time.monotonic(), ...}), flushed at
# once so that a run stopped by --seconds still shows how far it got.
STAND_IN = r"""
import json, sys, time
from pathlib import Path

folder, phases = Path(sys.argv[1]), open(sys.argv[2], "a", encoding="utf-8")

def mark(phase, **extra):
    phases.write(json.dumps({"phase": phase, "at": time.monotonic(), **extra}) + "\n")
    phases.flush()

mark("start-up")
from rag_chatbot.config import load_settings
from rag_chatbot.container import build_container
from rag_chatbot.providers.embedders.hashing import HashingEmbedder
from rag_chatbot.providers.embedders.onnx import DIMENSION, MAX_TOKENS, load_tokenizer


class StandIn(HashingEmbedder):
    # The real model's dimension and window, and its tokenizer's counts (so the real chunk
    # boundaries); vectors from word hashes instead of the model.
    max_tokens = MAX_TOKENS

    def __init__(self):
        super().__init__(dimension=DIMENSION)
        self._counter = load_tokenizer(truncate=False)
        self._embedding = False

    def count_tokens(self, text):
        return len(self._counter.encode(text).ids)

    def embed(self, texts):
        if not self._embedding:
            self._embedding = True
            mark("embed + write points")
        return super().embed(texts)


def timed(obj, method, before, after=None):
    inner = getattr(obj, method)

    def wrapper(*args, **kwargs):
        mark(before(*args))
        result = inner(*args, **kwargs)
        if after:
            mark(after(result))
        return result

    setattr(obj, method, wrapper)


container = build_container(load_settings(), embedder=StandIn())
timed(
    container.repository,
    "replace",
    lambda record, chunks: f"commit {len(chunks)} rows",
    lambda old: f"delete {len(old)} old points" if old else "after commit",
)
timed(container.store, "optimize", lambda: "optimize", lambda _: "after optimize")
mark("read + chunk")
report = container.pipeline.ingest_paths([folder]).as_dict()
mark("pipeline finished")
counts = container.repository.counts()
points = container.store.count()
mark("close")
container.close()
mark("exit", report=report, points=points, **counts)
"""


@dataclass
class Run:
    """One sampled subprocess: its peak, whether it ended by itself, its phases."""

    peak: int = 0
    peak_at: float = 0.0
    finished: bool = False
    samples: list[tuple[float, int]] = field(default_factory=list)
    phases: list[dict[str, object]] = field(default_factory=list)


def write_text(path: Path, megabytes: int) -> None:
    rng = random.Random(1)
    target = megabytes * 1024 * 1024
    with path.open("w", encoding="utf-8") as out:
        written = 0
        while written < target:
            paragraph = " ".join(rng.choice(WORDS) for _ in range(90)) + ".\n\n"
            out.write(paragraph)
            written += len(paragraph)


def change_last_paragraph(path: Path) -> None:
    """A new version of the file: its last full stop made "!", so new passage ids."""
    with path.open("r+b") as out:
        out.seek(-len(b".\n\n"), os.SEEK_END)
        out.write(b"!\n\n")


def sample(
    command: list[str], env: dict[str, str], seconds: float, phases: Path | None, errors: Path
) -> Run:
    """Run ``command``, sampling its RSS, stopped with SIGINT after ``seconds``.

    Its standard error goes to ``errors`` (shown if it fails by itself); ``phases`` is
    where a stand-in run records its phases.
    """
    run = Run()
    started = time.monotonic()
    with errors.open("w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    watched = psutil.Process(process.pid)
    while process.poll() is None and time.monotonic() - started < seconds:
        try:
            rss = watched.memory_info().rss
        except psutil.NoSuchProcess:
            break
        now = time.monotonic() - started
        run.samples.append((now, rss))
        if rss > run.peak:
            run.peak, run.peak_at = rss, now
        time.sleep(SAMPLE_SECONDS)
    run.finished = process.poll() is not None
    if not run.finished:
        process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    if run.finished and process.returncode:
        sys.stderr.write(errors.read_text(encoding="utf-8", errors="replace")[-4000:])
        print(f"ingest process failed: exit status {process.returncode}")
    if phases is not None and phases.exists():
        lines = phases.read_text(encoding="utf-8").splitlines()
        run.phases = [json.loads(line) for line in lines]
        for phase in run.phases:
            phase["at"] = float(phase["at"]) - started  # type: ignore[arg-type]
    return run


def report(title: str, run: Run, seconds: float) -> None:
    print(title)
    print(f"peak RSS: {run.peak / 2**20:.0f} MB, reached at {run.peak_at:.1f} s")
    state = "finished" if run.finished else f"stopped after {seconds:.0f} s"
    print(f"ingest: {state}")
    if not run.phases:
        return
    print("phases (start, peak RSS sampled within):")
    ends = [float(p["at"]) for p in run.phases[1:]] + [float("inf")]  # type: ignore[arg-type]
    for phase, end in zip(run.phases, ends, strict=True):
        start = float(phase["at"])  # type: ignore[arg-type]
        within = [rss for t, rss in run.samples if start <= t < end]
        peak = f"{max(within) / 2**20:6.0f} MB" if within else "     - (shorter than a sample)"
        print(f"  {start:8.1f} s  {peak}  {phase['phase']}")
    last = run.phases[-1]
    if last["phase"] == "exit":
        result = last["report"]
        assert isinstance(result, dict)
        print(
            f"committed: documents {last['documents']}, chunk rows {last['chunks']}, "
            f"points {last['points']} (report: chunks {result['chunks']}, "
            f"added {result['added']}, updated {result['updated']}, failed {result['failed']})"
        )
        for failure in result["failures"]:
            print(f"  failed: {failure['source']}: {failure['reason']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=150)
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="stop the ingest after this long (default 120; 3600 with --stand-in-model)",
    )
    parser.add_argument(
        "--stand-in-model",
        action="store_true",
        help="the pipeline with a hashing test double for the model, run to completion",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --stand-in-model: ingest again after changing the file, in a new process",
    )
    args = parser.parse_args()
    if args.update and not args.stand_in_model:
        parser.error("--update needs --stand-in-model")
    seconds = args.seconds or (3600.0 if args.stand_in_model else 120.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder, data = Path(tmp) / "docs", Path(tmp) / "data"
        folder.mkdir()
        write_text(folder / "big.txt", args.mb)
        env = {**os.environ, "DATA_DIR": str(data), "MAX_DOCUMENT_MB": str(args.mb + 1)}
        print(f"file: {args.mb} MB of text")
        if not args.stand_in_model:
            command = [sys.executable, "-m", "rag_chatbot", "ingest", str(folder), "--json"]
            run = sample(command, env, seconds, None, Path(tmp) / "stderr")
            report("model: the CLI's own", run, seconds)
            return
        title = "model: stand-in (HashingEmbedder, 384 dimensions, the real tokenizer's counts)"
        for round_ in range(2 if args.update else 1):
            if round_:
                change_last_paragraph(folder / "big.txt")
                title = "\nsecond ingest, after the file's last full stop changed"
            phases = Path(tmp) / f"phases-{round_}.jsonl"
            command = [sys.executable, "-c", STAND_IN, str(folder), str(phases)]
            run = sample(command, env, seconds, phases, Path(tmp) / f"stderr-{round_}")
            report(title, run, seconds)


if __name__ == "__main__":
    main()
