#!/usr/bin/env bash
# Go back to the previous release. Database migrations are not undone (see docs/runbook.md).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/rollback.sh [--dry-run] compose|k8s

compose  start the tag deployed before the current one (compose-tag.previous in
         $DEPLOY_STATE_DIR, default .deploy/, written by scripts/deploy.sh) with
         docker-compose.yml + docker-compose.prod.yml.
k8s      `kubectl rollout undo` of rag-backend and rag-frontend in namespace rag-chatbot,
         then wait for both.
--dry-run  print the commands instead of running them.

Migrations stay applied. If the release being undone migrated the schema, the older code
refuses to start on it ("unknown revision"): first run, with the NEWER image,
`rag-chatbot db current` and `alembic downgrade <previous revision>` — or restore the backup
taken before the release (docs/runbook.md, "Roll back a release").
USAGE
}

dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dry-run) dry=1; shift ;;
    -*) echo "rollback.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage >&2; exit 2; }

state="${DEPLOY_STATE_DIR:-.deploy}"

run() {
  if [ "$dry" -eq 1 ]; then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}

case "$1" in
  compose)
    [ -f "$state"/compose-tag.previous ] || {
      echo "rollback.sh: no previous release recorded in $state/compose-tag.previous" >&2; exit 1; }
    previous=$(cat "$state"/compose-tag.previous)
    export RAG_CHATBOT_TAG="$previous"
    [ "$dry" -eq 1 ] && echo "+ export RAG_CHATBOT_TAG=$previous"
    run docker-compose -f docker-compose.yml -f docker-compose.prod.yml up -d --remove-orphans
    if [ "$dry" -eq 0 ]; then
      cp "$state"/compose-tag "$state"/compose-tag.undone 2>/dev/null || true
      echo "$previous" > "$state"/compose-tag
    fi
    echo "rollback.sh: running $previous"
    ;;
  k8s)
    for deployment in rag-backend rag-frontend; do
      run kubectl -n rag-chatbot rollout undo "deployment/$deployment"
    done
    for deployment in rag-backend rag-frontend; do
      run kubectl -n rag-chatbot rollout status "deployment/$deployment" --timeout=600s
    done
    ;;
  *) echo "rollback.sh: target must be compose or k8s, not '$1'" >&2; exit 2 ;;
esac
