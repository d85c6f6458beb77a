#!/usr/bin/env bash
# Restore a database dump (scripts/backup-db.sh, or a plain `pg_dump $DATABASE_URL > FILE`)
# in one transaction: the database ends up as the dump, or as it was. Stop the service first.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/restore-db.sh [--force] FILE

Restores FILE into the database of DATABASE_URL (postgresql://... or postgresql+psycopg://...;
unset: the SQLite file DATA_DIR/rag-chatbot.db). The kind of FILE is detected:
  PostgreSQL plain SQL (pg_dump's default)  psql -v ON_ERROR_STOP=1 --single-transaction
  PostgreSQL custom format (PGDMP)          pg_restore --single-transaction --exit-on-error
  SQLite SQL text dump or database file     loaded beside the database, then swapped in
                                            through SQLite's backup API (one transaction)
A database whose rag-chatbot tables hold rows is refused. --force replaces it: its current
contents are first saved next to FILE as pre-restore_YYYYmmdd_HHMMSS.sql (the path is
printed), then our tables are dropped and the dump loaded in the same transaction. If the
restore fails, nothing is committed and the message says the database was not changed.

Start the service afterwards: it migrates an older schema to this version. The vector index
is not in a database dump: for the whole deployment use full-backup.sh / `rag-chatbot
restore`, or re-ingest the documents.
USAGE
}

force=0
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --force) force=1; shift ;;
    -*) echo "restore-db.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      [ -z "$file" ] || { echo "restore-db.sh: one FILE only" >&2; exit 2; }
      file="$1"; shift ;;
  esac
done
[ -n "$file" ] || { usage >&2; exit 2; }
[ -f "$file" ] || { echo "restore-db.sh: no such file: $file" >&2; exit 2; }
url="${DATABASE_URL:-sqlite:///${DATA_DIR:-data}/rag-chatbot.db}"
python="${PYTHON:-python3}"
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
trap 'exit 130' INT TERM HUP
errors="$work/errors"

untouched() {
  echo "restore-db.sh: restore failed; the database was not changed: $1" >&2
  exit 1
}

# The first error line of a tool's output (psql prefixes it with file and line).
reason() {
  local line
  line=$(grep -m 1 -E 'ERROR|FATAL|error' "$errors" || grep -m 1 -v '^[[:space:]]*$' "$errors" || true)
  echo "${line:-exit status $1}"
}

kind=$("$python" -m rag_chatbot.ops.dbfiles kind "$file" 2>"$errors") \
  || { echo "restore-db.sh: $(reason $?)" >&2; exit 2; }

case "$url" in
  postgres://*|postgresql://*|postgresql+*://*)
    backend=postgresql
    case "$kind" in sqlite-*)
      echo "restore-db.sh: $file is a SQLite dump; to move data between SQLite and PostgreSQL use rag-chatbot backup / restore" >&2
      exit 2 ;;
    esac
    ;;
  sqlite:///*)
    backend=sqlite
    database="${url#sqlite:///}"
    if [ "$kind" = pg-custom ] || grep -q -m 1 'PostgreSQL database dump' "$file"; then
      echo "restore-db.sh: $file is a PostgreSQL dump; it restores into PostgreSQL only" >&2
      exit 2
    fi
    ;;
  *) echo "restore-db.sh: unsupported DATABASE_URL scheme: ${url%%://*}" >&2; exit 2 ;;
esac

# What the target holds (a SQLite file that does not exist yet holds nothing).
held=""
if [ "$backend" = postgresql ] || [ -e "$database" ]; then
  held=$("$python" -m rag_chatbot.ops.dbfiles held "$url" 2>"$errors") \
    || untouched "cannot read the target database: $(reason $?)"
fi
if [ -n "$held" ]; then
  summary=$(paste -sd, <<<"$held" | sed 's/,/, /g')
  if [ "$force" -ne 1 ]; then
    echo "restore-db.sh: the database holds data ($summary); refusing (use --force to replace it; its contents are saved first)" >&2
    exit 1
  fi
  stem="$(dirname -- "$file")/pre-restore_$(date +%Y%m%d_%H%M%S)"
  saved="$stem.sql"
  copies=1
  while [ -e "$saved" ]; do saved="${stem}_$copies.sql"; copies=$((copies + 1)); done
  METRICS_TEXTFILE_DIR="" DATABASE_URL="$url" "$here/backup-db.sh" --format plain "$saved" \
    >/dev/null 2>"$errors" || untouched "could not save its current contents first: $(reason $?)"
  echo "restore-db.sh: saved the current database ($summary) to $saved"
fi

if [ "$backend" = sqlite ]; then
  "$python" -m rag_chatbot.ops.dbfiles sqlite-restore "$file" "$database" 2>"$errors" \
    || untouched "$(reason $?)"
  echo "restore-db.sh: restored $file into $database"
  exit 0
fi

# libpq does not know SQLAlchemy's "+driver" part.
libpq_url="postgresql://${url#*://}"
"$python" -m rag_chatbot.ops.dbfiles drop-sql "$url" >"$work/drop.sql" 2>"$errors" \
  || untouched "cannot read the target database: $(reason $?)"
psql_load=(psql -X -q -v ON_ERROR_STOP=1 --single-transaction --dbname "$libpq_url")
if [ "$kind" = pg-custom ] && [ ! -s "$work/drop.sql" ]; then
  pg_restore --no-owner --no-privileges --no-comments --single-transaction --exit-on-error \
    --dbname "$libpq_url" "$file" >/dev/null 2>"$errors" || untouched "$(reason $?)"
elif [ "$kind" = pg-custom ]; then
  # Our tables exist: dropping them and loading the dump must be one transaction, which
  # pg_restore cannot do with a statement of ours, so its script goes through psql.
  pg_restore --no-owner --no-privileges --no-comments --file "$work/dump.sql" "$file" 2>"$errors" \
    || untouched "$(reason $?)"
  "${psql_load[@]}" -f "$work/drop.sql" -f "$work/dump.sql" >/dev/null 2>"$errors" \
    || untouched "$(reason $?)"
else
  "${psql_load[@]}" -f "$work/drop.sql" -f "$file" >/dev/null 2>"$errors" \
    || untouched "$(reason $?)"
fi
echo "restore-db.sh: restored $file"
