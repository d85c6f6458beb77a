#!/usr/bin/env bash
# The capacity review of the runbook: `rag-chatbot report capacity` does the work.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/capacity-report.sh [--json]

What the deployment holds and how fast it grows: documents, passages, sessions, messages
and feedback; the database's size (PostgreSQL pg_database_size, or the SQLite file); the
vector index on disk (DATA_DIR/qdrant, or the Qdrant server's collection: points and
segments); the uploads; rows created in the last 7 and 30 days (from created_at); and the
days of headroom left on the DATA_DIR volume at the last 30 days' rate. Uses the service's
settings (DATA_DIR, DATABASE_URL, QDRANT_URL); set RAG_CHATBOT to run the command
elsewhere, e.g. RAG_CHATBOT="docker-compose exec -T backend rag-chatbot".
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
read -r -a command <<<"${RAG_CHATBOT:-rag-chatbot}"
exec "${command[@]}" report capacity "$@"
