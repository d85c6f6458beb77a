#!/usr/bin/env bash
# The runbook's daily maintenance, each step reported; a failed step does not stop the others.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/daily-maintenance.sh

Runs, in order, each reported as ok, WARNING, skipped or FAILED:
  health        GET $RAG_CHATBOT_URL/api/health and /api/health/detailed
                (default http://127.0.0.1:8000); degraded is a warning, down a failure
  disk          filesystems of /, DATA_DIR, LOG_DIR and BACKUP_DIR over DISK_WARN_PERCENT
                (default 80) used: warning
  large logs    *.log files in LOG_DIR (default /var/log/rag-chatbot) over LOG_WARN_MB
                (default 100): warning (is logrotate installed?)
  backup        scripts/backup-db.sh (the database into $BACKUP_DIR)
  old logs      rotated logs (*.log.*) in LOG_DIR older than LOG_KEEP_DAYS (default 7) deleted
  certificate   expiry of TLS_CERT_FILE (default /etc/nginx/ssl/cert.pem), skipped when it is
                absent; within TLS_WARN_DAYS (default 30): warning, expired: failure. With
                METRICS_TEXTFILE_DIR set, rag_chatbot_tls.prom is written there.
  updates       security updates apt lists as upgradable (from the last `apt-get update`;
                none installed): warning when there are some; skipped without apt
Exit status: 0 when no step failed (warnings included), 1 otherwise. For cron, e.g.
  15 3 * * *  cd /srv/rag-chatbot && scripts/daily-maintenance.sh
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; "") ;; *) usage >&2; exit 2 ;; esac

url="${RAG_CHATBOT_URL:-http://127.0.0.1:8000}"
url="${url%/}"
log_dir="${LOG_DIR:-/var/log/rag-chatbot}"

# shellcheck source=scripts/lib/steps.sh
source scripts/lib/steps.sh

health() {
  curl -fsS --max-time 10 "$url/api/health" || return 1
  echo
  local detailed
  detailed=$(curl -sS --max-time 20 "$url/api/health/detailed") || return 1
  python3 -c '
import json, sys
report = json.load(sys.stdin)
print("detailed:", report["status"], report["services"])
sys.exit({"healthy": 0, "degraded": 3}.get(report["status"], 1))' <<<"$detailed"
}

disk() {
  local limit="${DISK_WARN_PERCENT:-80}" places=(/)
  for place in "${DATA_DIR:-data}" "$log_dir" "${BACKUP_DIR:-backups}"; do
    [ -e "$place" ] && places+=("$place")
  done
  df -P "${places[@]}" | awk -v limit="$limit" '
    NR > 1 && !seen[$6]++ {
      used = $5 + 0
      print (used > limit ? "Disk usage warning: " : "") $6 " " $5 " used (" $4 " KiB free)"
      if (used > limit) over = 1
    }
    END { exit over ? 3 : 0 }'
}

large_logs() {
  [ -d "$log_dir" ] || { echo "no log directory $log_dir"; return 4; }
  local large
  large=$(find "$log_dir" -name '*.log' -size +"${LOG_WARN_MB:-100}"M)
  [ -z "$large" ] && { echo "no log over ${LOG_WARN_MB:-100} MB"; return 0; }
  echo "$large" | while read -r file; do du -h "$file"; done
  return 3
}

old_logs() {
  [ -d "$log_dir" ] || { echo "no log directory $log_dir"; return 4; }
  local gone
  gone=$(find "$log_dir" -name '*.log.*' -mtime +"${LOG_KEEP_DAYS:-7}" -print -delete) || return 1
  echo "deleted $(grep -c . <<<"$gone" || true) rotated log(s) older than ${LOG_KEEP_DAYS:-7} days"
  [ -z "$gone" ] || echo "$gone"
}

certificate() {
  local cert="${TLS_CERT_FILE:-/etc/nginx/ssl/cert.pem}" end expiry days
  [ -f "$cert" ] || { echo "no certificate at $cert (TLS_CERT_FILE)"; return 4; }
  end=$(openssl x509 -in "$cert" -noout -enddate) || return 1
  expiry=$(date -d "${end#notAfter=}" +%s) || return 1
  days=$(( (expiry - $(date +%s)) / 86400 ))
  echo "$cert expires ${end#notAfter=} ($days days)"
  if [ -n "${METRICS_TEXTFILE_DIR:-}" ]; then
    local metric=rag_chatbot_tls_cert_expiry_timestamp_seconds prom="$METRICS_TEXTFILE_DIR/rag_chatbot_tls.prom"
    mkdir -p "$METRICS_TEXTFILE_DIR" || return 1
    printf '# HELP %s When the TLS certificate expires.\n# TYPE %s gauge\n%s{path="%s"} %s\n' \
      "$metric" "$metric" "$metric" "$cert" "$expiry" > "$prom.tmp" && mv "$prom.tmp" "$prom" || return 1
    echo "wrote $prom"
  fi
  [ "$expiry" -gt "$(date +%s)" ] || { echo "the certificate has EXPIRED"; return 1; }
  [ "$days" -ge "${TLS_WARN_DAYS:-30}" ] || return 3
}

updates() {
  command -v apt >/dev/null || { echo "no apt on this host"; return 4; }
  local security
  security=$(apt list --upgradable 2>/dev/null | grep -i security || true)
  [ -z "$security" ] && { echo "no security update pending (as of the last apt-get update)"; return 0; }
  echo "$(grep -c . <<<"$security") security update(s) pending (as of the last apt-get update):"
  head -n 20 <<<"$security"
  return 3
}

step health health
step disk disk
step "large logs" large_logs
step backup must scripts/backup-db.sh
step "old logs" old_logs
step certificate certificate
step "security updates" updates

finish daily-maintenance.sh
