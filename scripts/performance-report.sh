#!/usr/bin/env bash
# The performance review of the runbook: `rag-chatbot report performance` does the work.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/performance-report.sh [--url URL] [--window SECONDS] [--since PERIOD]
                                     [--log-dir DIR] [--top N] [--json]

Latency p50/p95/p99, error rate (5xx) and throughput, overall and per route, the slowest
routes and the response cache's hit rate, from three sources:
  /api/metrics of URL (default $RAG_CHATBOT_URL or http://127.0.0.1:8000): quantiles
      estimated from the duration histogram; throughput since the process started, or with
      --window SECONDS from two scrapes that far apart
  LOG_DIR/app.log (and its rotated copies): exact percentiles over the requests of --since
      (default 24h; 7d, 30m, or an ISO-8601 time)
  PostgreSQL: the slowest statements of pg_stat_statements (it says so when the extension
      is missing)
Exits 1 when neither the metrics nor the logs could be read. Uses the service's settings
(LOG_DIR, DATABASE_URL); set RAG_CHATBOT to run the command elsewhere, e.g.
RAG_CHATBOT="docker-compose exec -T backend rag-chatbot".
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
read -r -a command <<<"${RAG_CHATBOT:-rag-chatbot}"
exec "${command[@]}" report performance "$@"
