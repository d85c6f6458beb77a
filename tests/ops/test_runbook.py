"""docs/runbook.md works against this project: its commands are run or checked for real.

The blocks marked ``<!-- runbook-test -->`` (health, smoke test, metrics, logs, backups, a
restore drill, the schema, the admin token, the cache, a re-index) are run as written, with
bash, against a real ``rag-chatbot serve`` holding the fixture corpus, with Redis. Commands
that need Docker or a cluster cannot run here; they are checked instead: every script exists,
every ``rag-chatbot`` command parses, every compose service and Kubernetes deployment named
exists, every metric named is exposed, every link resolves.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from cli_parsing import parse_cli
from prometheus_client.parser import text_string_to_metric_families
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
PROCEDURES = ROOT / "docs" / "runbook-procedures.md"
QUESTION = "When does the fog horn sound?"


def runbook_blocks() -> list[str]:
    text = RUNBOOK.read_text()
    return re.findall(r"<!-- runbook-test -->\s*```sh\n(.*?)```", text, re.S)


def code() -> tuple[str, str]:
    """The runbook's fenced blocks, and its inline code spans, one per line."""
    text = RUNBOOK.read_text()
    fenced = re.findall(r"```\w*\n(.*?)```", text, re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```\w*\n.*?```", "", text, flags=re.S))
    return "\n".join(fenced), "\n".join(inline)


def cli_commands(text: str) -> list[list[str]]:
    """``rag-chatbot ...`` commands in ``text`` as words (not ``kubectl -n rag-chatbot``)."""
    found = []
    for command in re.findall(r"(?<![\w/-])(?<!-n )rag-chatbot(?: [^`|&;#\n]+)?", text):
        if command.count('"') % 2:  # the end of RAG_CHATBOT="... rag-chatbot" ...
            command = command.split('"')[0]
        words = shlex.split(command.replace("$(", "").replace(")", ""))
        if len(words) >= 2 and "..." not in words:  # "rag-chatbot ..." stands for any command
            found.append(words)
    return found


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path
) -> Iterator[dict[str, str]]:
    from servers import ingest, start_server, stop

    root = tmp_path_factory.mktemp("runbook")
    env = {
        "DATA_DIR": str(root / "data"),
        "LOG_DIR": str(root / "logs"),
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_KEY_PREFIX": f"runbook-{secrets.token_hex(4)}:",
    }
    ingest(fixture_corpus, {**os.environ, **env})
    process, base = start_server(root, env)
    httpx.post(f"{base}/api/chat", json={"message": QUESTION}, timeout=30)
    try:
        yield {
            **env,
            "RAG_CHATBOT_URL": base,
            "SMOKE_QUESTION": QUESTION,
            "BACKUP_DIR": str(root / "backups"),
        }
    finally:
        stop(process)


@pytest.mark.slow
@pytest.mark.integration
def test_the_runbook_commands_run_against_a_real_server(service: dict[str, str]) -> None:
    blocks = runbook_blocks()
    assert len(blocks) >= 9
    assert any("scripts/smoke-test.sh" in b for b in blocks)
    assert any("scripts/backup.sh" in b for b in blocks)
    for block in blocks:
        ran = subprocess.run(
            ["bash", "-e", "-c", block],
            cwd=ROOT,
            env={**os.environ, **service},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, f"{block}\n--- stdout\n{ran.stdout}\n--- stderr\n{ran.stderr}"
        if "smoke-test.sh" in block:
            assert "all checks passed" in ran.stdout
            assert "/read/lighthouse.md#fog-signals" in ran.stdout
        if "rag-chatbot ask" in block:
            assert "fog" in ran.stdout.lower()
        if "admin/cache/stats" in block:
            assert ran.stdout.strip() == "200"
    backups = sorted(Path(service["BACKUP_DIR"]).glob("*.tar.gz"))
    assert [p.name for p in backups][-1] == "rag-chatbot-" + backups[-1].name[12:]
    assert any(p.name == "before-upgrade.tar.gz" for p in backups)


@pytest.mark.slow
@pytest.mark.integration
def test_the_smoke_test_fails_when_nothing_is_cited(service: dict[str, str]) -> None:
    failed = subprocess.run(
        [
            str(ROOT / "scripts" / "smoke-test.sh"),
            service["RAG_CHATBOT_URL"],
            "What is quantum chromodynamics?",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert "no citation" in failed.stderr
    down = subprocess.run(
        [str(ROOT / "scripts" / "smoke-test.sh"), "http://127.0.0.1:9", QUESTION],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 1 and "FAIL: GET" in down.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_every_metric_the_runbook_names_is_exposed(service: dict[str, str]) -> None:
    exposition = httpx.get(f"{service['RAG_CHATBOT_URL']}/api/metrics", timeout=10).text
    exposed = {
        sample.name
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    # A name may be a prefix the runbook greps for (rag_chatbot_db_pool): some sample starts so.
    # Parts of recorded series (job:http_requests_5xx:ratio_rate5m) are not names.
    pattern = r"(?<![:\w])(?:rag_chatbot_\w*[a-z]|http_request\w*[a-z])(?!:)"
    named = set(re.findall(pattern, RUNBOOK.read_text()))
    assert len(named) >= 15
    # What the scripts write for the node exporter's textfile collector, not the service.
    written = "\n".join(p.read_text() for p in (ROOT / "scripts").glob("*.sh"))
    written += (ROOT / "src" / "rag_chatbot" / "ops" / "textfile.py").read_text()
    by_scripts = set(re.findall(r"rag_chatbot_\w+", written))
    missing = sorted(
        n
        for n in named
        if not any(e.startswith(n) for e in exposed)
        and not any(w.startswith(n) for w in by_scripts)
    )
    assert not missing, missing
    assert any(n.startswith("rag_chatbot_backup_last") for n in by_scripts)


def test_every_script_and_cli_command_in_the_runbook_exists() -> None:
    fenced, inline = code()
    for script in set(re.findall(r"scripts/[\w-]+\.sh", fenced + inline)):
        assert os.access(ROOT / script, os.X_OK), script
    commands = cli_commands(fenced)
    for words in commands:
        parse_cli(words)  # options and arguments too
    named = cli_commands(inline)
    for words in named:
        parse_cli(words, complete=False)  # named in prose: the command exists
    subcommands = {w[1] for w in commands + named}
    assert {"backup", "restore", "ask", "db", "cache", "users", "ingest"} <= subcommands


def test_compose_services_and_kubernetes_deployments_named_exist() -> None:
    services = set(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])
    deployments = {
        doc["metadata"]["name"]
        for path in (ROOT / "deploy" / "k8s").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "Deployment"
    }
    text = "\n".join(code())
    named: set[str] = set()
    for match in re.finditer(r"docker-compose((?: [^\s`|&;]+)+)", text):
        words = [w for w in match.group(1).split() if not w.startswith("-")]
        words = [w for w in words if not w.endswith(".yml")]
        if not words:
            continue
        verb, rest = words[0], words[1:]
        if verb in ("exec", "run"):
            named.update(rest[:1])
        elif verb in ("logs", "restart", "ps", "stop", "start"):
            named.update(w for w in rest if re.fullmatch(r"[a-z]+", w))
    assert named and named <= services, named - services
    kubectl = re.findall(r"kubectl -n (\S+)", text)
    assert kubectl and set(kubectl) == {"rag-chatbot"}
    referenced = set(re.findall(r"(?<![\w/.])deploy(?:ment)?/([\w-]+)(?![\w/-])", text))
    assert referenced and referenced <= deployments, referenced - deployments


def test_links_and_anchors_resolve() -> None:
    for doc in (RUNBOOK, PROCEDURES, ROOT / "docs" / "deployment.md"):
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith("http"):
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            assert file.exists(), f"{doc.name}: {target}"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", file.read_text(), re.M)
                slugs = {
                    re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
                    for h in headings
                }
                assert anchor in slugs, f"{doc.name}: {target}"


def test_every_procedure_names_tests_that_exist() -> None:
    # docs/runbook-procedures.md: each procedure -> our command -> the test that runs it.
    text = PROCEDURES.read_text().replace("`SEED::", "`tests/ops/test_seed_runbook.py::")
    text = text.replace("`SCRIPTS::", "`tests/ops/test_seed_runbook_scripts.py::")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(rows) >= 50 and len(named) >= 50
    for path, name in named:
        source = (ROOT / path).read_text()
        assert re.search(rf"^(?:async )?def {name}\(", source, re.M), f"{path}::{name}"
    untested = [
        r for r in rows if "`tests/" not in r and "SEED::" not in r and "| checked by |" not in r
    ]
    # Only what needs Docker or is nothing to run may lack a test; the row says why.
    assert all(r.rstrip().endswith("| — |") or "(needs Docker) |" in r for r in untested), untested
