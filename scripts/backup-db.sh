#!/usr/bin/env bash
# The relational database alone, with the database's own tools. For the whole deployment
# (database, vector index, uploads, configuration) use full-backup.sh.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/backup-db.sh [--format plain|custom] [FILE]

Dumps the database of DATABASE_URL (or the SQLite file DATA_DIR/rag-chatbot.db when it is
unset) to FILE; without FILE to $BACKUP_DIR/backup_YYYYmmdd_HHMMSS.sql (BACKUP_DIR defaults
to ./backups), the daily maintenance call.

Formats (--format, else by FILE's name: *.dump, *.db and *.sqlite are custom, anything else
plain):
  plain   SQL text. PostgreSQL: pg_dump --no-owner --no-privileges --no-comments, so the
          runbook's `psql $DATABASE_URL < FILE` loads it into an empty database as any role
          (an extension such as pg_stat_statements must already exist there or be creatable).
          SQLite: an SQL text dump (`sqlite3 NEW.db < FILE` loads it).
  custom  PostgreSQL: pg_dump --format=custom (pg_restore reads it). SQLite: a copy of the
          database file.
Either restores with scripts/restore-db.sh FILE. DATABASE_URL may be postgresql://... or
postgresql+psycopg://...

Safe while the service runs (one consistent snapshot). The file is written under a temporary
name in the same directory and renamed when complete: a failed backup leaves no file that
looks like a backup. Mode 600: it holds users' conversations. With METRICS_TEXTFILE_DIR set,
writes rag_chatbot_backup.database.prom there (last success time and size).
Needs pg_dump (the server's major version or newer) or python3.
USAGE
}

format=""
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --format)
      format="${2:-}"
      case "$format" in plain|custom) ;; *) echo "backup-db.sh: --format must be plain or custom" >&2; exit 2 ;; esac
      shift 2 ;;
    -*) echo "backup-db.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      [ -z "$file" ] || { echo "backup-db.sh: one FILE only" >&2; exit 2; }
      file="$1"; shift ;;
  esac
done
url="${DATABASE_URL:-sqlite:///${DATA_DIR:-data}/rag-chatbot.db}"
python="${PYTHON:-python3}"
if [ -z "$file" ]; then
  file="${BACKUP_DIR:-backups}/backup_$(date +%Y%m%d_%H%M%S).sql"
fi
if [ -z "$format" ]; then
  case "$file" in *.dump|*.db|*.sqlite) format=custom ;; *) format=plain ;; esac
fi

umask 077  # sessions, messages and password hashes
directory=$(dirname -- "$file")
mkdir -p -- "$directory"
partial=$(mktemp "$directory/.$(basename -- "$file").partial.XXXXXX")
errors=$(mktemp)
trap 'rm -f -- "$partial" "$errors"' EXIT
trap 'exit 130' INT TERM HUP

fail() {
  echo "backup-db.sh: backup failed ($1); no backup written" >&2
  exit 1
}

# The first line of a tool's error output, without its "pg_dump: error: " prefix.
reason() {
  local line
  line=$(grep -m 1 -v '^[[:space:]]*$' "$errors" || true)
  line="${line#*error: }"
  echo "${line:-exit status $1}"
}

case "$url" in
  postgres://*|postgresql://*|postgresql+*://*)
    # libpq does not know SQLAlchemy's "+driver" part.
    libpq_url="postgresql://${url#*://}"
    pg_dump --format="$format" --no-owner --no-privileges --no-comments --file "$partial" \
      --dbname "$libpq_url" 2>"$errors" || fail "pg_dump: $(reason $?)"
    ;;
  sqlite:///*)
    as_database=()
    [ "$format" = custom ] && as_database=(--database)
    "$python" -m rag_chatbot.ops.dbfiles sqlite-dump "${url#sqlite:///}" "$partial" \
      "${as_database[@]}" 2>"$errors" || fail "$(reason $?)"
    ;;
  *) echo "backup-db.sh: unsupported DATABASE_URL scheme: ${url%%://*}" >&2; exit 2 ;;
esac
[ -s "$partial" ] || fail "the dump is empty"
mv -f -- "$partial" "$file"

if [ -n "${METRICS_TEXTFILE_DIR:-}" ]; then
  "$python" -m rag_chatbot.ops.textfile backup database "$file" \
    || echo "backup-db.sh: warning: the backup metric was not written" >&2
fi
echo "backup-db.sh: wrote $file ($format, $(wc -c <"$file") bytes)"
