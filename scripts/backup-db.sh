#!/usr/bin/env bash
# The relational database alone, in its native format: pg_dump (custom format) for
# PostgreSQL, SQLite's online backup for SQLite. For a whole deployment use backup.sh.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/backup-db.sh FILE

Dumps the database of DATABASE_URL (or the SQLite file DATA_DIR/rag-chatbot.db when it is
unset) to FILE:
  postgresql...://  pg_dump --format=custom (restore: scripts/restore-db.sh FILE)
  sqlite:///PATH    a consistent copy made with SQLite's online backup API
Safe while the service runs. Needs pg_dump (same major version as the server or newer) or
python3.
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; "") usage >&2; exit 2 ;; esac
file="$1"
url="${DATABASE_URL:-sqlite:///${DATA_DIR:-data}/rag-chatbot.db}"
mkdir -p "$(dirname "$file")"

case "$url" in
  postgres://*|postgresql://*|postgresql+*://*)
    # libpq does not know SQLAlchemy's "+driver" part.
    libpq_url="postgresql://${url#*://}"
    pg_dump --format=custom --no-owner --file "$file" --dbname "$libpq_url"
    ;;
  sqlite:///*)
    python3 - "${url#sqlite:///}" "$file" <<'PY'
import sqlite3, sys
source, target = sys.argv[1], sys.argv[2]
src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
dst = sqlite3.connect(target)
with dst:
    src.backup(dst)
dst.close()
src.close()
PY
    ;;
  *) echo "backup-db.sh: unsupported DATABASE_URL scheme: ${url%%://*}" >&2; exit 2 ;;
esac
echo "backup-db.sh: wrote $file"
