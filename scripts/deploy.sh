#!/usr/bin/env bash
# Roll out a release: migrate the database first, then replace the services, then smoke-test.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/deploy.sh [--dry-run] [--build] compose|k8s TAG

compose  docker-compose.yml + docker-compose.prod.yml on this host:
           pull (or --build) the images RAG_CHATBOT_IMAGE / RAG_CHATBOT_FRONTEND_IMAGE at TAG,
           run `rag-chatbot db upgrade` in a one-off backend container, `up -d`, then
           scripts/smoke-test.sh against $SMOKE_URL (default http://127.0.0.1:${HTTP_PORT:-8080})
           when SMOKE_QUESTION is set. The previous tag is kept in $DEPLOY_STATE_DIR
           (default .deploy/) for rollback.sh.
k8s      namespace rag-chatbot (deploy/k8s applied once with `kubectl apply -k`):
           run the migration Job (deploy/k8s/jobs/migrate.yaml) with the new image and wait,
           `kubectl set image` on rag-backend and rag-frontend, wait for the rollouts, then
           the smoke test when SMOKE_URL and SMOKE_QUESTION are set.
--dry-run  print the commands instead of running them.
--build    compose only: build the images here instead of pulling them.
Images: RAG_CHATBOT_IMAGE (default registry.example.com/rag-chatbot) and
RAG_CHATBOT_FRONTEND_IMAGE (default registry.example.com/rag-chatbot-frontend).
USAGE
}

dry=0
build=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dry-run) dry=1; shift ;;
    --build) build=1; shift ;;
    -*) echo "deploy.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { usage >&2; exit 2; }
target="$1"
tag="$2"
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || { echo "deploy.sh: bad tag '$tag'" >&2; exit 2; }

run() {
  if [ "$dry" -eq 1 ]; then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}

backend_image="${RAG_CHATBOT_IMAGE:-registry.example.com/rag-chatbot}"
frontend_image="${RAG_CHATBOT_FRONTEND_IMAGE:-registry.example.com/rag-chatbot-frontend}"
namespace="rag-chatbot"
state="${DEPLOY_STATE_DIR:-.deploy}"

case "$target" in
  compose)
    compose=(docker-compose -f docker-compose.yml -f docker-compose.prod.yml)
    export RAG_CHATBOT_IMAGE="$backend_image" RAG_CHATBOT_FRONTEND_IMAGE="$frontend_image"
    export RAG_CHATBOT_TAG="$tag"
    [ "$dry" -eq 1 ] && echo "+ export RAG_CHATBOT_IMAGE=$backend_image RAG_CHATBOT_FRONTEND_IMAGE=$frontend_image RAG_CHATBOT_TAG=$tag"
    if [ "$build" -eq 1 ]; then
      run "${compose[@]}" build backend frontend
    else
      run "${compose[@]}" pull backend frontend
    fi
    run "${compose[@]}" run --rm --no-deps backend rag-chatbot db upgrade
    run "${compose[@]}" up -d --remove-orphans
    if [ "$dry" -eq 0 ]; then
      mkdir -p "$state"
      [ -f "$state"/compose-tag ] && cp "$state"/compose-tag "$state"/compose-tag.previous
      echo "$tag" > "$state"/compose-tag
    fi
    smoke_url="${SMOKE_URL:-http://127.0.0.1:${HTTP_PORT:-8080}}"
    ;;
  k8s)
    run kubectl -n "$namespace" delete job rag-migrate --ignore-not-found
    if [ "$dry" -eq 1 ]; then
      echo "+ sed 's|image: rag-chatbot\$|image: $backend_image:$tag|' deploy/k8s/jobs/migrate.yaml | kubectl -n $namespace apply -f -"
    else
      sed "s|image: rag-chatbot\$|image: $backend_image:$tag|" deploy/k8s/jobs/migrate.yaml \
        | kubectl -n "$namespace" apply -f -
    fi
    run kubectl -n "$namespace" wait --for=condition=complete job/rag-migrate --timeout=900s
    run kubectl -n "$namespace" set image deployment/rag-backend "backend=$backend_image:$tag"
    run kubectl -n "$namespace" set image deployment/rag-frontend "frontend=$frontend_image:$tag"
    run kubectl -n "$namespace" rollout status deployment/rag-backend --timeout=600s
    run kubectl -n "$namespace" rollout status deployment/rag-frontend --timeout=300s
    smoke_url="${SMOKE_URL:-}"
    ;;
  *) echo "deploy.sh: target must be compose or k8s, not '$target'" >&2; exit 2 ;;
esac

if [ -n "${SMOKE_QUESTION:-}" ] && [ -n "$smoke_url" ]; then
  run scripts/smoke-test.sh "$smoke_url" "$SMOKE_QUESTION"
else
  echo "deploy.sh: deployed $tag; set SMOKE_QUESTION (and SMOKE_URL) to smoke-test it"
fi
