#!/usr/bin/env bash
# Roll out a release: back up the database, migrate it, replace the services, check health
# and smoke-test; when a step after the services were touched fails, start the release that
# ran before again (scripts/rollback.sh --to) and exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/deploy.sh [OPTIONS] ENVIRONMENT VERSION

  ENVIRONMENT  production, staging or development
  VERSION      the image tag to run, e.g. v1.2.0

Options:
  --target compose|k8s  where it runs (default: $DEPLOY_TARGET, else compose)
  --dry-run             print the commands instead of running them; records nothing
  --build               compose: build the images here instead of pulling them
  --no-backup           skip the database backup taken first
  --no-rollback         leave a failed release in place (to look at it)

Steps:
  1. scripts/backup-db.sh (the database, into $BACKUP_DIR)
  2. compose: pull (or --build) RAG_CHATBOT_IMAGE and RAG_CHATBOT_FRONTEND_IMAGE at VERSION,
       `rag-chatbot db upgrade` in a one-off backend container, `up -d --remove-orphans`,
       with docker-compose.prod.yml (development: docker-compose.yml). The host's .env.prod
       holds that environment's settings (ENVIRONMENT=staging on a staging host).
     k8s: in namespace rag-chatbot (production) or rag-chatbot-ENVIRONMENT (K8S_NAMESPACE
       overrides): the migration Job (deploy/k8s/jobs/migrate.yaml) with the new image,
       waited for; `kubectl set image` on rag-backend and rag-frontend; rollout status.
  3. GET $SMOKE_URL/api/health until it answers (DEPLOY_HEALTH_TIMEOUT seconds, default 180),
     then scripts/smoke-test.sh $SMOKE_URL. SMOKE_URL defaults to
     http://127.0.0.1:${HTTP_PORT:-8080} for compose; for k8s, without SMOKE_URL the
     rollout's readiness probes are the health check and the smoke test is skipped.
  4. VERSION is recorded as ENVIRONMENT's current release in
     $DEPLOY_STATE_DIR/TARGET-ENVIRONMENT.versions (default .deploy/), which
     scripts/rollback.sh reads; with METRICS_TEXTFILE_DIR set, rag_chatbot_deploy.prom is
     written there (rag_chatbot_deploy_last_success_timestamp_seconds).

A failure in 1 or 2 before the services are replaced (backup, pull, migration, migration Job)
changes nothing that runs: exit 1. A failure from the replacement on rolls back to the
release recorded as current (for k8s with none recorded: `kubectl rollout undo`), checks it
the same way and exits 1. Migrations are not undone (see scripts/rollback.sh --help).
The older form `scripts/deploy.sh compose|k8s VERSION` deploys production there.
USAGE
}

dry=0
build=0
backup=1
rollback=1
target="${DEPLOY_TARGET:-compose}"
words=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dry-run) dry=1; shift ;;
    --build) build=1; shift ;;
    --no-backup) backup=0; shift ;;
    --no-rollback) rollback=0; shift ;;
    --target) [ $# -ge 2 ] || { echo "deploy.sh: --target needs compose or k8s" >&2; exit 2; }
      target="$2"; shift 2 ;;
    --target=*) target="${1#--target=}"; shift ;;
    -*) echo "deploy.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) words+=("$1"); shift ;;
  esac
done

environment=""
case "${#words[@]}:${words[0]:-}" in
  2:compose|2:k8s) target="${words[0]}"; environment=production; version="${words[1]}" ;;
  2:*) environment="${words[0]}"; version="${words[1]}" ;;
  *) usage >&2; exit 2 ;;
esac
# shellcheck source=scripts/lib/release.sh
source scripts/lib/release.sh  # check_release, release_place, use_images, run
check_release deploy.sh "$environment" "$target" "$version"


release_place "$environment"
state="${DEPLOY_STATE_DIR:-.deploy}"
record="$state/$target-$environment.versions"
current=""
[ -s "$record" ] && current=$(tail -n 1 "$record" | cut -d' ' -f1)
if [ "$target" = compose ]; then url="${SMOKE_URL:-http://127.0.0.1:${HTTP_PORT:-8080}}"; else url="${SMOKE_URL:-}"; fi
url="${url%/}"
echo "deploy.sh: $version to $environment ($target); running now: ${current:-nothing recorded}"

failed() {  # STEP: the services were not touched
  echo "deploy.sh: FAILED at $1; the running release was not replaced" >&2
  exit 1
}

undo() {  # STEP: the services were touched: go back to what ran before
  echo "deploy.sh: FAILED at $1" >&2
  if [ "$rollback" -eq 0 ]; then
    echo "deploy.sh: --no-rollback: $version left in place; scripts/rollback.sh $environment --target $target to undo" >&2
    exit 1
  fi
  local back=(scripts/rollback.sh --target "$target" "$environment")
  if [ -n "$current" ]; then
    back+=(--to "$current")
  elif [ "$target" = compose ]; then
    echo "deploy.sh: no earlier release of $environment is recorded in $record: nothing to roll back to" >&2
    exit 1
  fi
  echo "deploy.sh: rolling back: ${back[*]}" >&2
  if "${back[@]}"; then
    echo "deploy.sh: rolled back to ${current:-the previous revision}; $version is not deployed" >&2
  else
    echo "deploy.sh: the rollback failed too: see above" >&2
  fi
  exit 1
}

wait_healthy() {
  local timeout="${DEPLOY_HEALTH_TIMEOUT:-180}"
  if [ "$dry" -eq 1 ]; then
    echo "+ curl -fs $url/api/health   # until it answers, at most $timeout s"
    return 0
  fi
  local deadline=$((SECONDS + timeout))
  until curl -fs --max-time 5 -o /dev/null "$url/api/health"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 2
  done
}

if [ "$backup" -eq 1 ]; then
  run scripts/backup-db.sh || failed "the database backup (scripts/backup-db.sh; --no-backup skips it)"
fi

case "$target" in
  compose)
    use_images "$version"
    if [ "$build" -eq 1 ]; then
      run "${compose[@]}" build backend frontend || failed "docker-compose build"
    else
      run "${compose[@]}" pull backend frontend || failed "docker-compose pull"
    fi
    run "${compose[@]}" run --rm --no-deps backend rag-chatbot db upgrade || failed "the migration (rag-chatbot db upgrade)"
    run "${compose[@]}" up -d --remove-orphans || undo "docker-compose up"
    ;;
  k8s)
    kubectl=(kubectl -n "$namespace")
    run "${kubectl[@]}" delete job rag-migrate --ignore-not-found || failed "deleting the previous migration Job"
    # The Job's image and namespace are the release's; a Job cannot be changed once created.
    substitute="s|image: rag-chatbot\$|image: $backend_image:$version|; s|namespace: rag-chatbot\$|namespace: $namespace|"
    if [ "$dry" -eq 1 ]; then
      echo "+ sed '$substitute' deploy/k8s/jobs/migrate.yaml | kubectl -n $namespace apply -f -"
    else
      sed "$substitute" deploy/k8s/jobs/migrate.yaml | "${kubectl[@]}" apply -f - || failed "creating the migration Job"
    fi
    run "${kubectl[@]}" wait --for=condition=complete job/rag-migrate --timeout=900s || failed "the migration Job (kubectl -n $namespace logs job/rag-migrate)"
    run "${kubectl[@]}" set image deployment/rag-backend "backend=$backend_image:$version" || undo "kubectl set image"
    run "${kubectl[@]}" set image deployment/rag-frontend "frontend=$frontend_image:$version" || undo "kubectl set image"
    run "${kubectl[@]}" rollout status deployment/rag-backend --timeout=600s || undo "the backend rollout"
    run "${kubectl[@]}" rollout status deployment/rag-frontend --timeout=300s || undo "the frontend rollout"
    ;;
esac

if [ -n "$url" ]; then
  wait_healthy || undo "the health check ($url/api/health did not answer in ${DEPLOY_HEALTH_TIMEOUT:-180} s)"
  run scripts/smoke-test.sh "$url" || undo "the smoke test (scripts/smoke-test.sh $url)"
else
  echo "deploy.sh: no SMOKE_URL: the readiness probes were the health check; smoke test skipped"
fi

[ "$dry" -eq 1 ] && { echo "deploy.sh: dry run: nothing recorded"; exit 0; }
mkdir -p "$state"
echo "$version $(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$record"
if [ -n "${METRICS_TEXTFILE_DIR:-}" ]; then
  # One line per environment: keep the others' lines, replace this one's.
  metric=rag_chatbot_deploy_last_success_timestamp_seconds
  prom="$METRICS_TEXTFILE_DIR/rag_chatbot_deploy.prom"
  mkdir -p "$METRICS_TEXTFILE_DIR"
  {
    echo "# HELP $metric When scripts/deploy.sh last completed a release, by environment."
    echo "# TYPE $metric gauge"
    [ -f "$prom" ] && grep "^$metric{" "$prom" | grep -v "environment=\"$environment\"" || true
    echo "$metric{environment=\"$environment\",version=\"$version\"} $(date +%s)"
  } > "$prom.tmp"
  mv "$prom.tmp" "$prom"
fi
echo "deploy.sh: $version is live in $environment ($target); previous: ${current:-none recorded}"
