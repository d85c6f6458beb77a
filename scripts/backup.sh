#!/usr/bin/env bash
# Full backup (database rows, uploads, index settings) with `rag-chatbot backup`, optionally
# pruning old archives. Runs next to a live service.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/backup.sh [--keep N] [FILE]

  FILE      archive to write (default: $BACKUP_DIR/rag-chatbot-<UTC time>.tar.gz,
            BACKUP_DIR defaulting to ./backups)
  --keep N  afterwards, delete all but the newest N rag-chatbot-*.tar.gz in that directory

Uses the settings of the environment (DATABASE_URL or DATA_DIR, ...). Set RAG_CHATBOT to run
the command elsewhere, e.g. RAG_CHATBOT="docker-compose exec -T backend rag-chatbot" (FILE
is then a path inside the container, e.g. /data/backups/...). Restore: rag-chatbot restore FILE.
USAGE
}

keep=""
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --keep) keep="${2:?--keep needs a number}"; shift 2 ;;
    -*) echo "backup.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) file="$1"; shift ;;
  esac
done
if [ -n "$keep" ] && ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
  echo "backup.sh: --keep needs a positive number, not '$keep'" >&2; exit 2
fi
if [ -z "$file" ]; then
  file="${BACKUP_DIR:-backups}/rag-chatbot-$(date -u +%Y%m%dT%H%M%SZ).tar.gz"
fi

read -r -a command <<<"${RAG_CHATBOT:-rag-chatbot}"
"${command[@]}" backup "$file"

if [ -n "$keep" ]; then
  directory=$(dirname "$file")
  # Newest first by name (the UTC time sorts), everything past the first N goes.
  find "$directory" -maxdepth 1 -name 'rag-chatbot-*.tar.gz' -type f | sort -r \
    | tail -n +"$((keep + 1))" | while read -r old; do
        echo "backup.sh: removing old backup $old"
        rm -f -- "$old"
      done
fi
