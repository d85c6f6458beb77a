#!/usr/bin/env bash
# The runbook's weekly maintenance, each step reported; a failed step does not stop the others.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/weekly-maintenance.sh [--docker-cleanup] [--apt-upgrade]

Runs, in order, each reported as ok, WARNING, skipped or FAILED:
  database      rag-chatbot db vacuum: PostgreSQL VACUUM ANALYZE; SQLite VACUUM, ANALYZE
  conversations rag-chatbot sessions prune: conversations idle more than
                SESSION_RETENTION_DAYS deleted with their messages and feedback (0: kept)
  index         rag-chatbot index compact --skip-if-busy: the vector index's segments
                rewritten without deleted points (a running server holding the embedded
                index: skipped, it optimizes after each ingest; a Qdrant server: its state)
  performance   scripts/performance-report.sh --since 7d
These change the host, so they run only when asked:
  --docker-cleanup  docker system prune -f (stopped containers, unused networks, dangling
                    images, build cache). Volumes are never pruned: a stack that is down
                    still owns its data volumes.
  --apt-upgrade     apt-get update && apt-get upgrade -y (as root)
Uses the service's settings (DATABASE_URL or DATA_DIR, SESSION_RETENTION_DAYS, QDRANT_URL,
LOG_DIR); set RAG_CHATBOT to run the commands elsewhere, e.g.
RAG_CHATBOT="docker-compose exec -T backend rag-chatbot". Exit status: 0 when no step
failed, 1 otherwise.
USAGE
}

docker_cleanup=0
apt_upgrade=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --docker-cleanup) docker_cleanup=1; shift ;;
    --apt-upgrade) apt_upgrade=1; shift ;;
    *) echo "weekly-maintenance.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
read -r -a rag_chatbot <<<"${RAG_CHATBOT:-rag-chatbot}"

# shellcheck source=scripts/lib/steps.sh
source scripts/lib/steps.sh

compact() {
  local said
  said=$("${rag_chatbot[@]}" index compact --skip-if-busy) || { echo "$said"; return 1; }
  echo "$said"
  [[ "$said" != skipped:* ]] || return 4
}

docker_prune() {
  [ "$docker_cleanup" -eq 1 ] || { echo "not asked (--docker-cleanup)"; return 4; }
  command -v docker >/dev/null || { echo "docker is not installed"; return 1; }
  docker system prune -f || return 1
}

apt_upgrade() {
  [ "$apt_upgrade" -eq 1 ] || { echo "not asked (--apt-upgrade)"; return 4; }
  command -v apt-get >/dev/null || { echo "apt-get is not installed"; return 1; }
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y || return 1
}

step database must "${rag_chatbot[@]}" db vacuum
step conversations must "${rag_chatbot[@]}" sessions prune
step index compact
step performance must scripts/performance-report.sh --since 7d
step "docker cleanup" docker_prune
step "system packages" apt_upgrade

finish weekly-maintenance.sh
