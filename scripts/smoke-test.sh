#!/usr/bin/env bash
# Smoke test of a running rag-chatbot: health, readiness, and one real question that must be
# answered with at least one citation. Exit 0 when all pass, 1 otherwise (the failing step
# on stderr).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/smoke-test.sh [BASE_URL] [QUESTION]

  BASE_URL  the service (default: $RAG_CHATBOT_URL or http://127.0.0.1:8000); through nginx
            that is e.g. http://localhost:8080
  QUESTION  a question your documents answer (default: $SMOKE_QUESTION; when both are
            unset, a question taken from the index itself, see below)

Checks GET /api/health (status healthy), GET /api/health/detailed (not unhealthy), then
POST /api/chat with QUESTION: the answer must be grounded and cite at least one source.

Without a QUESTION the test builds one from what the service holds: the newest completed
document of GET /api/documents, its title searched with POST /api/search, and the first
full sentence of the best passage of that document asked back. A sentence copied from an
indexed passage must come back grounded and cited; if it does not, retrieval or answering
is broken. An empty index fails the test.
Set RAG_CHATBOT_TOKEN to send "Authorization: Bearer ..." (ALLOW_ANONYMOUS_CHAT=false).
Needs curl and python3.
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
base="${1:-${RAG_CHATBOT_URL:-http://127.0.0.1:8000}}"
base="${base%/}"
question="${2:-${SMOKE_QUESTION:-}}"

fail() { echo "smoke-test: FAIL: $*" >&2; exit 1; }
auth=()
[ -n "${RAG_CHATBOT_TOKEN:-}" ] && auth=(-H "Authorization: Bearer ${RAG_CHATBOT_TOKEN}")

health=$(curl -fsS --max-time 10 "$base/api/health") || fail "GET $base/api/health"
python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d.get("status") != "healthy")' \
  <<<"$health" || fail "/api/health says: $health"
echo "ok   GET /api/health"

detailed=$(curl -sS --max-time 15 "$base/api/health/detailed") || fail "GET $base/api/health/detailed"
python3 -c 'import json,sys; d=json.load(sys.stdin); print("ok   GET /api/health/detailed:", d["status"], d["services"]); sys.exit(d["status"] == "unhealthy")' \
  <<<"$detailed" || fail "/api/health/detailed says: $detailed"

# A question the index must answer: a sentence of one of its own passages.
question_from_index() {
  python3 - "$base" "${RAG_CHATBOT_TOKEN:-}" <<'PY'
import json, re, sys, urllib.request

base, token = sys.argv[1], sys.argv[2]


def call(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def sentences(text):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("#", "-", "*", "`", "|", ">")):
            continue
        yield from re.split(r"(?<=[.!?])\s+", line)


documents = call("/api/documents?status=completed&limit=20")
for document in documents:
    hits = call("/api/search", {"query": document["title"] or document["source"], "top_k": 5})
    for hit in hits["results"]:
        if hit["source"] == document["source"]:
            for sentence in sentences(hit["text"]):
                if len(sentence.split()) >= 6:
                    print(sentence[:300])
                    sys.exit(0)
print("no completed document has a full sentence" if documents else "the index is empty")
sys.exit(1)
PY
}

if [ -z "$question" ]; then
  question=$(question_from_index) || fail "no question could be built from the index: $question"
  echo "ok   question from the index: $question"
fi

body=$(python3 -c 'import json,sys; print(json.dumps({"message": sys.argv[1]}))' "$question")
answer=$(curl -fsS --max-time 60 "${auth[@]}" -H 'Content-Type: application/json' \
  -d "$body" "$base/api/chat") || fail "POST $base/api/chat"
python3 - "$answer" <<'PY' || fail "the answer has no citation: $answer"
import json, sys
answer = json.loads(sys.argv[1])
citations = answer.get("citations") or []
if not (answer.get("grounded") and citations):
    sys.exit(1)
print(f"ok   POST /api/chat: {len(citations)} citation(s), first {citations[0]['url']}")
PY
echo "smoke-test: all checks passed against $base"
