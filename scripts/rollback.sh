#!/usr/bin/env bash
# Go back to the previous release. Database migrations are not undone (see docs/runbook.md).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/rollback.sh [--dry-run] [--target compose|k8s] [--to VERSION] [ENVIRONMENT]

Starts the release of ENVIRONMENT (production, staging or development; default:
$DEPLOY_ENVIRONMENT, else production) deployed before the current one, on the target
(default: $DEPLOY_TARGET, else compose), as scripts/deploy.sh recorded them in
$DEPLOY_STATE_DIR/TARGET-ENVIRONMENT.versions (default .deploy/). The record then names
that release as current, so a second rollback goes one release further back.

compose  RAG_CHATBOT_TAG=<release> docker-compose -f docker-compose.prod.yml (development:
         docker-compose.yml) up -d --remove-orphans
k8s      `kubectl set image` of rag-backend and rag-frontend to <release>, then rollout status,
         in namespace rag-chatbot (production) or rag-chatbot-ENVIRONMENT (K8S_NAMESPACE
         overrides); with no earlier release recorded, `kubectl rollout undo` (Kubernetes' own
         previous revision) instead.
Then GET $SMOKE_URL/api/health until it answers (DEPLOY_HEALTH_TIMEOUT, default 180 s;
compose's SMOKE_URL defaults to http://127.0.0.1:${HTTP_PORT:-8080}); exit 1 if it does not.

--to VERSION  start VERSION rather than the previous release (scripts/deploy.sh uses it to
              return to the release that ran before a failed deploy); it becomes the
              current one in the record.
--dry-run     print the commands instead of running them; the record is not changed.
The older form `scripts/rollback.sh compose|k8s` rolls back production there.

Migrations stay applied. If the release being undone migrated the schema, the older code
refuses to start on it ("unknown revision"): first run, with the NEWER image,
`rag-chatbot db current` and `alembic downgrade <previous revision>` — or restore the
backup scripts/deploy.sh took before the release (scripts/restore-db.sh FILE).
USAGE
}

dry=0
to=""
target="${DEPLOY_TARGET:-compose}"
environment="${DEPLOY_ENVIRONMENT:-production}"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dry-run) dry=1; shift ;;
    --target|--to)
      [ $# -ge 2 ] || { echo "rollback.sh: $1 needs a value" >&2; exit 2; }
      if [ "$1" = --to ]; then to="$2"; else target="$2"; fi
      shift 2 ;;
    -*) echo "rollback.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    compose|k8s) target="$1"; shift ;;
    *) environment="$1"; shift ;;
  esac
done
# shellcheck source=scripts/lib/release.sh
source scripts/lib/release.sh  # check_release, release_place, use_images, run
check_release rollback.sh "$environment" "$target" "$to"


state="${DEPLOY_STATE_DIR:-.deploy}"
record="$state/$target-$environment.versions"
releases=()
[ -f "$record" ] && mapfile -t releases < <(cut -d' ' -f1 "$record")
count=${#releases[@]}
current=""
[ "$count" -eq 0 ] || current="${releases[count-1]}"
if [ -n "$to" ]; then
  release="$to"
elif [ "$count" -ge 2 ]; then
  release="${releases[count-2]}"
elif [ "$target" = k8s ]; then
  release=""  # Kubernetes still knows the revision before the current one
else
  echo "rollback.sh: no previous release of $environment recorded in $record" >&2
  exit 1
fi
release_place "$environment"

case "$target" in
  compose)
    use_images "$release"
    run "${compose[@]}" up -d --remove-orphans
    url="${SMOKE_URL:-http://127.0.0.1:${HTTP_PORT:-8080}}"
    ;;
  k8s)
    for deployment in rag-backend rag-frontend; do
      if [ -z "$release" ]; then
        run kubectl -n "$namespace" rollout undo "deployment/$deployment"
      elif [ "$deployment" = rag-backend ]; then
        run kubectl -n "$namespace" set image "deployment/$deployment" "backend=$backend_image:$release"
      else
        run kubectl -n "$namespace" set image "deployment/$deployment" "frontend=$frontend_image:$release"
      fi
    done
    for deployment in rag-backend rag-frontend; do
      run kubectl -n "$namespace" rollout status "deployment/$deployment" --timeout=600s
    done
    url="${SMOKE_URL:-}"
    ;;
esac

if [ -n "$url" ] && [ "$dry" -eq 0 ]; then
  deadline=$((SECONDS + ${DEPLOY_HEALTH_TIMEOUT:-180}))
  until curl -fs --max-time 5 -o /dev/null "${url%/}/api/health"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "rollback.sh: ${release:-the previous revision} started, but ${url%/}/api/health does not answer" >&2
      exit 1
    fi
    sleep 2
  done
  echo "rollback.sh: ${url%/}/api/health answers"
fi

if [ "$dry" -eq 0 ]; then
  mkdir -p "$state"
  if [ -z "$to" ] && [ "$count" -ge 1 ]; then
    # The undone release leaves the record: the one before it is current again.
    sed -i '$d' "$record"
  elif [ -n "$to" ] && [ "$to" != "$current" ]; then
    echo "$to $(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$record"
  fi
fi
echo "rollback.sh: $environment ($target) now runs ${release:-the previous Kubernetes revision}"
