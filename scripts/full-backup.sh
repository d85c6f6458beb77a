#!/usr/bin/env bash
# Everything needed to rebuild the deployment elsewhere, in one archive with a manifest and
# checksums; scripts/dr-test.sh proves it restores. Runs next to a live service.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/full-backup.sh [--keep N] [FILE]

Writes one archive (default $BACKUP_DIR/full-backup_YYYYmmdd_HHMMSS.tar.gz, BACKUP_DIR
defaulting to ./backups; mode 600: it holds conversations and secrets) containing
  rag-chatbot-backup.tar.gz  `rag-chatbot backup`: every table's rows, uploads, index settings
  database.sql               scripts/backup-db.sh: the native dump (plain SQL)
  vector-index/              the embedded index (a copy of DATA_DIR/qdrant/<collection>,
                             checked against the database's passages) or, with QDRANT_URL,
                             a snapshot of the collection from the server's snapshot API
  config/                    .env, .env.prod, .env.production, secrets/*.env found in
                             CONFIG_DIR (default: the current directory), flagged secret
  manifest.json              time, version, database kind, counts (documents, passages,
                             sessions, messages, users, every table), fixed questions with
                             the answers given now (see DR_QUESTIONS below)
  SHA256SUMS                 every file above (`sha256sum -c SHA256SUMS` after extracting)

  --keep N  afterwards, delete all but the newest N full-backup_*.tar.gz in FILE's directory

Fixed questions: DR_QUESTIONS=FILE (one a line), else the DR_QUESTION_COUNT (default 5)
questions users asked most, else as many document titles. Uses the settings of the
environment (DATABASE_URL or DATA_DIR, QDRANT_URL, ...) and runs where DATA_DIR is. With
METRICS_TEXTFILE_DIR set, writes rag_chatbot_backup.full.prom there. Restore:
`rag-chatbot restore rag-chatbot-backup.tar.gz` from the extracted archive; rehearse it with
scripts/dr-test.sh.
USAGE
}

keep=""
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --keep)
      [ $# -ge 2 ] || { echo "full-backup.sh: --keep needs a number" >&2; exit 2; }
      keep="$2"; shift 2 ;;
    -*) echo "full-backup.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      [ -z "$file" ] || { echo "full-backup.sh: one FILE only" >&2; exit 2; }
      file="$1"; shift ;;
  esac
done
if [ -n "$keep" ] && ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
  echo "full-backup.sh: --keep needs a positive number, not '$keep'" >&2; exit 2
fi
python="${PYTHON:-python3}"
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
if [ -z "$file" ]; then
  file="${BACKUP_DIR:-backups}/full-backup_$(date +%Y%m%d_%H%M%S).tar.gz"
fi

umask 077
directory=$(dirname -- "$file")
mkdir -p -- "$directory"
# Staged beside the archive (same disk), removed whatever happens.
stage=$(mktemp -d "$directory/.full-backup.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
trap 'exit 130' INT TERM HUP

fail() {
  echo "full-backup.sh: backup failed ($1); no backup written" >&2
  exit 1
}

"$python" -m rag_chatbot backup "$stage/rag-chatbot-backup.tar.gz" >/dev/null 2>"$stage/errors" \
  || fail "rag-chatbot backup: $(tail -n 1 "$stage/errors")"
METRICS_TEXTFILE_DIR="" "$here/backup-db.sh" --format plain "$stage/database.sql" >/dev/null \
  2>"$stage/errors" || fail "$(tail -n 1 "$stage/errors")"
rm -f -- "$stage/errors"
"$python" -m rag_chatbot.ops.fullbackup "$stage" "$file" --config-dir "${CONFIG_DIR:-.}" \
  || fail "assembling the archive"

if [ -n "${METRICS_TEXTFILE_DIR:-}" ]; then
  "$python" -m rag_chatbot.ops.textfile backup full "$file" \
    || echo "full-backup.sh: warning: the backup metric was not written" >&2
fi

if [ -n "$keep" ]; then
  # Newest first by name (the time sorts), everything past the first N goes.
  find "$directory" -maxdepth 1 -name 'full-backup_*.tar.gz' -type f | sort -r \
    | tail -n +"$((keep + 1))" | while read -r old; do
        echo "full-backup.sh: removing old backup $old"
        rm -f -- "$old"
      done
fi
