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
  QUESTION  a question your documents answer (default: $SMOKE_QUESTION)

Checks GET /api/health (status healthy), GET /api/health/detailed (not unhealthy), then
POST /api/chat with QUESTION: the answer must be grounded and cite at least one source.
Set RAG_CHATBOT_TOKEN to send "Authorization: Bearer ..." (ALLOW_ANONYMOUS_CHAT=false).
Needs curl and python3.
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
base="${1:-${RAG_CHATBOT_URL:-http://127.0.0.1:8000}}"
base="${base%/}"
question="${2:-${SMOKE_QUESTION:-}}"
if [ -z "$question" ]; then
  echo "smoke-test: give a QUESTION your documents answer (or set SMOKE_QUESTION)" >&2
  exit 2
fi

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
