#!/usr/bin/env bash
# Disaster-recovery rehearsal: restore a full backup into a scratch environment, serve it,
# and compare it with what the backup recorded. Touches nothing of the live deployment.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/dr-test.sh [ARCHIVE]

Restores ARCHIVE (default: the newest $BACKUP_DIR/full-backup_*.tar.gz, BACKUP_DIR defaulting
to ./backups; written by scripts/full-backup.sh) into a scratch environment and checks it:
  - every file against SHA256SUMS;
  - the native dump restores with every table's row count as in the manifest (SQLite: into a
    scratch file; PostgreSQL: into DR_DATABASE_URL, skipped without it);
  - `rag-chatbot restore` into a temporary DATA_DIR (SQLite and the embedded vector index,
    or the empty PostgreSQL database DR_DATABASE_URL) re-embeds every passage;
  - rows of every table (documents, passages, sessions, messages, users, ...) as in the
    manifest; the vector index copy in the backup opens with as many points;
  - a real `rag-chatbot serve` on a free loopback port gives the answers recorded at backup
    time to the manifest's fixed questions (text, grounding and cited sources; with an LLM
    provider, grounding and sources only).
Prints a table of checks. Exit status 0: everything matches; 1: a difference (the failing
checks are named); 2: the test could not run. The scratch environment (and anything created
in DR_DATABASE_URL) is removed on exit, whatever happens.

The scratch server runs with this environment and the backup's .env, with every location
setting (DATA_DIR, DATABASE_URL, QDRANT_URL, REDIS_URL, BROKER_URL, LOG_DIR) pointed at the
scratch environment or unset. TMPDIR sets where the scratch folder goes (it needs room for
the extracted archive and the restored deployment).
USAGE
}

archive=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -*) echo "dr-test.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      [ -z "$archive" ] || { echo "dr-test.sh: one ARCHIVE only" >&2; exit 2; }
      archive="$1"; shift ;;
  esac
done
python="${PYTHON:-python3}"
if [ -z "$archive" ]; then
  backups="${BACKUP_DIR:-backups}"
  archive=$(find "$backups" -maxdepth 1 -name 'full-backup_*.tar.gz' -type f 2>/dev/null \
    | sort | tail -n 1)
  [ -n "$archive" ] || { echo "dr-test.sh: no full-backup_*.tar.gz in $backups (run scripts/full-backup.sh)" >&2; exit 2; }
fi
[ -f "$archive" ] || { echo "dr-test.sh: no such file: $archive" >&2; exit 2; }

umask 077
scratch=$(mktemp -d "${TMPDIR:-/tmp}/rag-dr-test.XXXXXX")
# shellcheck disable=SC2329  # run by the EXIT trap below
cleanup() {
  # The Python side stops the server and drops its tables itself; this covers a crash or
  # a kill of it.
  if [ -s "$scratch/serve.pid" ]; then
    kill "$(cat "$scratch/serve.pid")" 2>/dev/null || true
  fi
  if [ -e "$scratch/dr-database-claimed" ]; then
    "$python" -m rag_chatbot.ops.drtest clean "$scratch" || true
  fi
  rm -rf -- "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "dr-test.sh: restoring $archive in $scratch"
status=0
"$python" -m rag_chatbot.ops.drtest run "$archive" "$scratch" || status=$?
exit "$status"
