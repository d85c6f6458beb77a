"""The disaster-recovery test behind ``scripts/dr-test.sh``: restore a full backup, compare.

Steps, each a row of the printed table (a failed row fails the test, a skipped one does not):

1. the archive is extracted and every file checked against ``SHA256SUMS`` (stop on failure:
   nothing else in it can be trusted);
2. the native dump restores: SQLite's into a scratch file, PostgreSQL's with ``psql`` into
   ``DR_DATABASE_URL`` when given (skipped otherwise); every table's rows are counted;
3. ``rag-chatbot restore`` loads ``rag-chatbot-backup.tar.gz`` into the scratch deployment
   (``ops.drenv``) and re-embeds every passage;
4. every table's rows there — documents, passages, sessions, messages, users among them —
   must equal the manifest's, and the passages embedded its passage count;
5. the copy of the embedded index opens and holds that many points (a server snapshot is
   only checksummed: restoring it needs a Qdrant server);
6. a real ``rag-chatbot serve`` starts on a free loopback port, and each fixed question of the
   manifest, asked through ``POST /api/chat``, gets the recorded answer (``ops.questions``).

Exit status: 0 every check passed; 1 a check failed; 2 the test could not run (no archive, a
``DR_DATABASE_URL`` that is not empty).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rag_chatbot.errors import InvalidInput, ProviderError
from rag_chatbot.ops import bundle
from rag_chatbot.ops.dbfiles import engine_for, restore_sqlite
from rag_chatbot.ops.drenv import Scratch
from rag_chatbot.ops.questions import differences, reply_record
from rag_chatbot.ops.tables import app_tables, count_rows


@dataclass(frozen=True)
class Check:
    name: str
    expected: str
    found: str
    ok: bool | None  # None: skipped


class RecoveryTest:
    """One run on ``archive`` in the scratch folder ``root``; ``checks`` fill as it goes."""

    def __init__(self, archive: Path, root: Path, database_url: str | None = None) -> None:
        self.archive = archive
        self.backup = root / "backup"
        self.scratch = Scratch(root, database_url)
        self.checks: list[Check] = []
        self.manifest: dict[str, Any] = {}

    def check(self, name: str, expected: object, found: object, ok: bool | None = None) -> bool:
        passed = (expected == found) if ok is None else ok
        self.checks.append(Check(name, str(expected), str(found), passed))
        return passed

    def skip(self, name: str, why: str) -> None:
        self.checks.append(Check(name, "-", why, None))

    def run(self) -> None:
        self.scratch.claim_database()
        try:
            bundle.unpack(self.archive, self.backup)
        except InvalidInput as exc:
            self.check("archive readable", "a tar.gz", str(exc), False)
            return
        problems = bundle.verify_sums(self.backup)
        files = len(bundle.files_under(self.backup)) - 1
        if not self.check(
            f"checksums ({files} files)", "all match", "; ".join(problems) or "all match"
        ):
            return
        self.manifest = bundle.read_manifest(self.backup)
        self._native_dump()
        try:
            summary = self._restore()
        except RuntimeError as exc:
            self.check("rag-chatbot restore", "restored", str(exc), False)
            return
        self.check("rag-chatbot restore", "restored", "restored", True)
        self._counts(summary)
        self._vector_copy()
        try:
            base = self.scratch.start_server()
        except RuntimeError as exc:
            self.check("rag-chatbot serve", "healthy", str(exc), False)
            return
        try:
            self.check("rag-chatbot serve", "healthy", "healthy", True)
            self._questions(base)
        finally:
            self.scratch.stop_server()

    def _native_dump(self) -> None:
        dump = self.backup / self.manifest["database"]["dump"]
        name = f"native dump ({dump.name})"
        if self.manifest["database"]["kind"] == "sqlite":
            target = self.scratch.root / "native.db"
            try:
                restore_sqlite(dump, target)
            except (InvalidInput, OSError) as exc:
                self.check(name, "restores", str(exc), False)
                return
            url = f"sqlite:///{target}"
        elif self.scratch.database_url:
            url = self.scratch.database_url
            libpq_url = "postgresql://" + url.split("://", 1)[1]
            psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
            loaded = subprocess.run(
                [*psql, "--dbname", libpq_url, "-f", str(dump)],
                capture_output=True,
                text=True,
            )
            if loaded.returncode != 0:
                self.check(name, "restores", loaded.stderr.strip()[-300:], False)
                return
        else:
            self.skip(name, "PostgreSQL dump: set DR_DATABASE_URL to restore it")
            return
        counts = table_counts(url)
        if url == self.scratch.database_url:
            self.scratch.clean_database()
        wrong = _count_differences(self.manifest["tables"], counts)
        self.check(name, "rows as in manifest", "; ".join(wrong) or "rows as in manifest")

    def _restore(self) -> dict[str, Any]:
        self.scratch.use_config(self.backup / bundle.CONFIG_DIR / ".env")
        made = self.scratch.rag_chatbot("restore", str(self.backup / bundle.APP_BACKUP), "--json")
        if made.returncode != 0:
            lines = made.stderr.strip().splitlines() or [f"exit status {made.returncode}"]
            raise RuntimeError(lines[-1])
        summary: dict[str, Any] = json.loads(made.stdout.strip().splitlines()[-1])
        return summary

    def _counts(self, summary: dict[str, Any]) -> None:
        found = table_counts(self.scratch.resolved_database_url)
        for table, rows in self.manifest["tables"].items():
            self.check(f"rows in {table}", rows, found.get(table, "no such table"))
        passages = self.manifest["counts"]["passages"]
        self.check("passages embedded", passages, summary.get("chunks_embedded"))

    def _vector_copy(self) -> None:
        index = self.manifest["vector_index"]
        name = "vector index in the backup"
        if not index.get("included"):
            self.skip(name, f"not included: {index.get('reason')}")
        elif index["kind"] != "embedded":
            self.skip(name, f"{index['kind']} snapshot: checksum only (restore needs a server)")
        else:
            from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

            try:
                copy = QdrantEdgeStore(self.backup / index["path"], int(index["dimension"]))
                try:
                    points = copy.count()
                finally:
                    copy.close()
            except ProviderError as exc:
                self.check(name, f"{index['points']} points", f"does not open: {exc}", False)
                return
            self.check(name, f"{index['points']} points", f"{points} points")

    def _questions(self, base: str) -> None:
        recorded = self.manifest["questions"]
        if recorded.get("not_answered"):
            self.skip("fixed questions", f"no answers recorded: {recorded['not_answered']}")
            return
        if not recorded["answers"]:
            self.skip("fixed questions", f"none ({recorded['chosen_by']})")
            return
        with httpx.Client(base_url=base, timeout=300) as client:
            for expected in recorded["answers"]:
                question = expected["question"]
                label = f"answer: {_short(question)}"
                response = client.post("/api/chat", json={"message": question})
                if response.status_code != 200:
                    self.check(label, "an answer", f"HTTP {response.status_code}", False)
                    continue
                found = reply_record(question, response.json())
                wrong = differences(expected, found, compare_text=recorded["compare_text"])
                self.check(label, "as recorded", "; ".join(wrong) or "as recorded")

    def report(self) -> int:
        """Print the table of checks; the exit status (0 all passed, 1 otherwise)."""
        rows = [("CHECK", "EXPECTED", "FOUND", "RESULT")]
        for c in self.checks:
            result = "SKIP" if c.ok is None else ("PASS" if c.ok else "FAIL")
            rows.append((c.name, _short(c.expected, 40), _short(c.found, 90), result))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            print(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                + "  "
                + row[3]
            )
        failed = [c.name for c in self.checks if c.ok is False]
        if failed:
            print(f"dr-test: FAIL ({len(failed)} of {len(self.checks)}): {', '.join(failed)}")
            return 1
        print(f"dr-test: PASS ({len(self.checks)} checks) for {self.archive}")
        return 0


def table_counts(url: str) -> dict[str, int]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return {t.name: count_rows(connection, t) for t in app_tables(connection)}
    finally:
        engine.dispose()


def _count_differences(expected: dict[str, int], found: dict[str, int]) -> list[str]:
    return [
        f"{table} {found.get(table, 'missing')} (manifest {rows})"
        for table, rows in expected.items()
        if found.get(table) != rows
    ]


def _short(text: str, width: int = 48) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m rag_chatbot.ops.drtest")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run")
    run.add_argument("archive", type=Path)
    run.add_argument("scratch", type=Path)
    commands.add_parser("clean").add_argument("scratch", type=Path)
    args = parser.parse_args(argv)
    database_url = os.environ.get("DR_DATABASE_URL") or None
    if args.command == "clean":
        Scratch(args.scratch, database_url).clean_database()
        return 0
    test = RecoveryTest(args.archive, args.scratch, database_url)
    try:
        test.run()
    except InvalidInput as exc:
        if not test.checks:
            print(f"dr-test: {exc}", file=sys.stderr)
            return 2
        test.check("recovery test", "completes", str(exc), False)
    except Exception as exc:  # whatever broke, the table says where it stopped
        test.check("recovery test", "completes", f"{type(exc).__name__}: {exc}", False)
    finally:
        test.scratch.stop_server()
        test.scratch.clean_database()
    return test.report()


if __name__ == "__main__":
    sys.exit(main())
