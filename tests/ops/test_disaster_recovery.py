"""full-backup.sh and dr-test.sh, run for real.

One SQLite deployment is filled (the fixture corpus, conversations asked through a running
server, feedback) and backed up with full-backup.sh *while that server runs*; the recovery
test must pass on that archive and fail — naming what differs — on copies of it with a table's
rows removed (the archives rebuilt with fresh checksums, so the count check is what catches
it), with a recorded answer changed, and with a corrupted file. A PostgreSQL deployment goes
through the same round trip into a scratch database.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from clirun import clean_environment
from servers import ingest, start_server, stop
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.ops import bundle
from rag_chatbot.ops.archive import MANIFEST, sha256_of, write_archive
from rag_chatbot.ops.drtest import table_counts

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
FOG = "When does the fog horn sound?"
TEA = "How hot should green tea water be?"

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@dataclass(frozen=True)
class Backup:
    archive: Path
    env: dict[str, str]
    source: dict[str, int]  # rows of every table when the backup was taken
    metrics: Path


def script(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / name), *args],
        env=env,
        cwd=env.get("RUN_IN"),
        capture_output=True,
        text=True,
        timeout=280,
    )


@pytest.fixture(scope="module")
def backed_up(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path) -> Backup:
    root = tmp_path_factory.mktemp("deployment")
    deploy = root / "deploy"
    (deploy / "secrets").mkdir(parents=True)
    # The location settings of a backed-up .env must never reach the recovery test's server.
    (deploy / ".env").write_text("DATABASE_URL=postgresql://prod:secret@db.invalid/rag\n")
    (deploy / "secrets" / "backend.env").write_text("LLM_API_KEY=not-used\n")
    env = {
        **clean_environment(),
        "DATABASE_URL": "",
        "DATA_DIR": str(root / "data"),
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "BACKUP_DIR": str(root / "backups"),
        "METRICS_TEXTFILE_DIR": str(root / "metrics"),
        "CONFIG_DIR": str(deploy),
        "TMPDIR": str(root / "tmp"),
        "RUN_IN": str(root),
    }
    (root / "tmp").mkdir()
    ingest(fixture_corpus, env)
    process, base = start_server(root, env)
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            for question in (FOG, TEA, FOG):
                reply = client.post("/api/chat", json={"message": question})
                assert reply.status_code == 200, reply.text
            rated = client.post(
                f"/api/messages/{reply.json()['message_id']}/feedback",
                json={"rating": 1},
                headers={"X-Client-Token": reply.headers["X-Client-Token"]},
            )
            assert rated.status_code == 200, rated.text
        made = script("full-backup.sh", env=env)  # while the server holds the index
    finally:
        stop(process)
    assert made.returncode == 0, made.stderr
    (archive,) = (root / "backups").glob("full-backup_*.tar.gz")
    source = table_counts(f"sqlite:///{root / 'data' / 'rag-chatbot.db'}")
    return Backup(archive, env, source, root / "metrics")


def extract(archive: Path, where: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(where, filter="data")
    return where


def test_full_backup_holds_every_part_with_a_manifest_and_checksums(
    backed_up: Backup, tmp_path: Path
) -> None:
    archive = backed_up.archive
    assert re.fullmatch(r"full-backup_\d{8}_\d{6}\.tar\.gz", archive.name)
    assert archive.stat().st_mode & 0o777 == 0o600
    root = extract(archive, tmp_path / "x")
    names = set(bundle.files_under(root))
    assert {
        "manifest.json",
        "SHA256SUMS",
        "rag-chatbot-backup.tar.gz",
        "database.sql",
        "config/.env",
        "config/secrets/backend.env",
    } <= names
    checked = subprocess.run(
        ["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=root, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(names) - 1

    manifest = json.loads((root / "manifest.json").read_text())
    source = backed_up.source
    assert manifest["database"]["kind"] == "sqlite"
    assert manifest["tables"] == source
    assert manifest["counts"] == {
        "documents": 3,
        "passages": source["chunks"],
        "sessions": 3,
        "messages": 6,
        "users": 0,
    }
    index = manifest["vector_index"]
    assert index["included"] and index["points"] == source["chunks"]
    assert "service ran" in index["method"]
    assert any(n.startswith(index["path"] + "/") for n in names)
    assert {c["path"] for c in manifest["config"]} == {"config/.env", "config/secrets/backend.env"}
    assert all(c["secret"] for c in manifest["config"])
    questions = manifest["questions"]
    assert questions["chosen_by"] == "most asked by users"
    assert [a["question"] for a in questions["answers"]] == [FOG, TEA]
    assert questions["answers"][0]["grounded"]
    assert questions["answers"][0]["citations"][0]["source"] == "lighthouse.md"

    metric = (backed_up.metrics / "rag_chatbot_backup.full.prom").read_text()
    assert f'rag_chatbot_backup_last_size_bytes{{kind="full"}} {archive.stat().st_size}' in metric


def test_dr_test_passes_on_a_good_backup_and_cleans_up(backed_up: Backup) -> None:
    checked = script("dr-test.sh", env=backed_up.env)  # the newest in BACKUP_DIR
    assert checked.returncode == 0, checked.stdout + checked.stderr
    table = checked.stdout
    assert re.search(r"^rows in messages\s+6\s+6\s+PASS$", table, re.MULTILINE), table
    fog = re.escape(FOG)
    assert re.search(rf"^answer: {fog}\s+as recorded\s+as recorded\s+PASS$", table, re.M)
    assert re.search(r"^rag-chatbot serve\s+healthy\s+healthy\s+PASS$", table, re.M)
    assert "FAIL" not in table and "dr-test: PASS" in table
    assert list(Path(backed_up.env["TMPDIR"]).glob("rag-dr-test.*")) == []  # removed on exit


def rebuild(archive: Path, work: Path, change: Callable[[Path], None]) -> Path:
    """A copy of ``archive`` changed by ``change(extracted root)``, its checksums recomputed."""
    root = extract(archive, work / "x")
    change(root)
    bundle.write_sums(root)
    target = work / archive.name
    bundle.pack(root, target)
    return target


def drop_a_question(root: Path) -> None:
    """Remove one user message from the table rows (and its row count and checksum)."""
    inner = root / bundle.APP_BACKUP
    rows = extract(inner, root.parent / "inner")
    manifest = json.loads((rows / MANIFEST).read_text())
    messages = rows / "tables" / "messages.jsonl"
    lines = messages.read_text().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["role"] != "user"] + [
        line for line in lines if json.loads(line)["role"] == "user"
    ][1:]
    messages.write_text("".join(kept))
    for table in manifest["tables"]:
        if table["name"] == "messages":
            table["rows"], table["sha256"] = len(kept), sha256_of(messages)
    members = [(n, rows / n) for n in bundle.files_under(rows) if n != MANIFEST]
    write_archive(inner, manifest, members)


def test_dr_test_fails_on_a_backup_with_rows_missing_and_a_different_answer(
    backed_up: Backup, tmp_path: Path
) -> None:
    def tamper(root: Path) -> None:
        drop_a_question(root)
        manifest = json.loads((root / "manifest.json").read_text())
        manifest["questions"]["answers"][1]["answer"] = "Boiling, always."
        (root / "manifest.json").write_text(json.dumps(manifest))

    archive = rebuild(backed_up.archive, tmp_path, tamper)

    checked = script("dr-test.sh", str(archive), env=backed_up.env)

    assert checked.returncode == 1, checked.stdout + checked.stderr
    table = checked.stdout
    assert re.search(r"^checksums \(\d+ files\)\s+all match\s+all match\s+PASS$", table, re.M)
    assert re.search(r"^rows in messages\s+6\s+5\s+FAIL$", table, re.MULTILINE), table
    assert re.search(
        rf"^answer: {re.escape(TEA)}\s+as recorded\s+the answer's text differs\s+FAIL$", table, re.M
    )
    assert re.search(rf"^answer: {re.escape(FOG)}\s+.*PASS$", table, re.MULTILINE)
    assert "dr-test: FAIL (2 of" in table and "rows in messages" in table.splitlines()[-1]


def test_dr_test_fails_on_a_corrupted_file(backed_up: Backup, tmp_path: Path) -> None:
    def corrupt(root: Path) -> None:
        dump = root / "database.sql"
        dump.write_text(dump.read_text().replace("INSERT", "INSERX", 1))

    archive = rebuild(backed_up.archive, tmp_path, corrupt)
    # The checksums as they were: the file no longer matches its line.
    with tarfile.open(backed_up.archive) as tar:
        original_sums = tar.extractfile("SHA256SUMS").read()  # type: ignore[union-attr]
    root = extract(archive, tmp_path / "y")
    (root / "SHA256SUMS").write_bytes(original_sums)
    bundle.pack(root, archive)

    checked = script("dr-test.sh", str(archive), env=backed_up.env)

    assert checked.returncode == 1
    assert "database.sql does not match its checksum" in checked.stdout
    assert "rag-chatbot restore" not in checked.stdout  # nothing is restored from it


def test_dr_test_cannot_run_without_a_backup_or_on_a_database_in_use(
    backed_up: Backup, tmp_path: Path, new_pg_database: Callable[[], str]
) -> None:
    none = script("dr-test.sh", env={**backed_up.env, "BACKUP_DIR": str(tmp_path)})
    assert none.returncode == 2 and "no full-backup_" in none.stderr
    in_use = new_pg_database()
    libpq = "postgresql://" + in_use.split("://", 1)[1]
    subprocess.run(["psql", libpq, "-qc", "CREATE TABLE documents (id int)"], check=True)
    refused = script("dr-test.sh", env={**backed_up.env, "DR_DATABASE_URL": in_use})
    assert refused.returncode == 2 and "DR_DATABASE_URL holds rag-chatbot tables" in refused.stderr
    assert "documents" in table_counts(in_use)  # left alone


def test_postgresql_deployment_round_trip_through_a_scratch_database(
    tmp_path: Path, new_pg_database: Callable[[], str], fixture_corpus: Path
) -> None:
    source, scratch = new_pg_database(), new_pg_database()
    env = {
        **clean_environment(),
        "DATABASE_URL": "postgresql://" + source.split("://", 1)[1],
        "DATA_DIR": str(tmp_path / "data"),
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "CONFIG_DIR": str(tmp_path),
        "RUN_IN": str(tmp_path),
    }
    ingest(fixture_corpus, env)
    made = script("full-backup.sh", env=env)
    assert made.returncode == 0, made.stderr

    checked = script("dr-test.sh", env={**env, "DR_DATABASE_URL": scratch})

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"^native dump \(database.sql\)\s+.*PASS$", checked.stdout, re.M)
    assert re.search(r"^answer: .*PASS$", checked.stdout, re.MULTILINE)
    assert table_counts(scratch) == {}  # what the test created there is gone
    assert table_counts(source)["documents"] == 3


def test_full_backup_refuses_bad_arguments_and_prunes(backed_up: Backup, tmp_path: Path) -> None:
    assert script("full-backup.sh", "--keep", "0", env=backed_up.env).returncode == 2
    assert script("full-backup.sh", "--nope", env=backed_up.env).returncode == 2
    kept = tmp_path / "kept"
    kept.mkdir()
    for stamp in ("20260101_000000", "20260102_000000"):
        (kept / f"full-backup_{stamp}.tar.gz").write_bytes(b"old")
    env = {**backed_up.env, "METRICS_TEXTFILE_DIR": ""}
    newest = kept / "full-backup_20260103_000000.tar.gz"
    made = script("full-backup.sh", "--keep", "2", str(newest), env=env)
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in kept.iterdir()) == [
        "full-backup_20260102_000000.tar.gz",
        "full-backup_20260103_000000.tar.gz",
    ]
    broken = {**env, "DATA_DIR": str(tmp_path / "nothing"), "BACKUP_DIR": str(tmp_path / "b")}
    failed = script("full-backup.sh", env=broken)
    assert failed.returncode == 1 and "no backup written" in failed.stderr
    assert [p.name for p in (tmp_path / "b").iterdir()] == []
    assert os.access(SCRIPTS / "dr-test.sh", os.X_OK)
