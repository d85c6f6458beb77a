#!/usr/bin/env bash
# Restore a dump of scripts/backup-db.sh into an empty database. Stop the service first.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/restore-db.sh [--force] FILE

Restores FILE (from scripts/backup-db.sh) into the database of DATABASE_URL (or the SQLite
file DATA_DIR/rag-chatbot.db):
  PostgreSQL  pg_restore into the database, which must hold no rag-chatbot schema
  SQLite      the file is copied into place, which must not exist yet
--force replaces an existing database (SQLite: the old file is kept as *.pre-restore;
PostgreSQL: pg_restore --clean). The vector index is not part of this dump: with an
embedded index or a Qdrant server that still holds it, the service reconciles on the next
ingest; to rebuild everything use `rag-chatbot restore` with a full backup instead.
USAGE
}

force=0
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --force) force=1; shift ;;
    -*) echo "restore-db.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) file="$1"; shift ;;
  esac
done
[ -n "$file" ] || { usage >&2; exit 2; }
[ -f "$file" ] || { echo "restore-db.sh: no such file: $file" >&2; exit 2; }
url="${DATABASE_URL:-sqlite:///${DATA_DIR:-data}/rag-chatbot.db}"

case "$url" in
  postgres://*|postgresql://*|postgresql+*://*)
    libpq_url="postgresql://${url#*://}"
    existing=$(psql "$libpq_url" -tAc "SELECT to_regclass('public.alembic_version') IS NOT NULL")
    clean=()
    if [ "$existing" = "t" ]; then
      if [ "$force" -ne 1 ]; then
        echo "restore-db.sh: the database already holds a rag-chatbot schema; refusing (use --force to replace it)" >&2
        exit 1
      fi
      clean=(--clean --if-exists)
    fi
    pg_restore --no-owner --exit-on-error --single-transaction "${clean[@]}" --dbname "$libpq_url" "$file"
    ;;
  sqlite:///*)
    target="${url#sqlite:///}"
    if [ -e "$target" ]; then
      if [ "$force" -ne 1 ]; then
        echo "restore-db.sh: $target exists; refusing (use --force to replace it)" >&2
        exit 1
      fi
      mv -- "$target" "$target.pre-restore"
      rm -f -- "$target-wal" "$target-shm"
      echo "restore-db.sh: previous database kept as $target.pre-restore"
    fi
    mkdir -p "$(dirname "$target")"
    cp -- "$file" "$target.partial" && mv -- "$target.partial" "$target"
    ;;
  *) echo "restore-db.sh: unsupported DATABASE_URL scheme: ${url%%://*}" >&2; exit 2 ;;
esac
echo "restore-db.sh: restored $file"
