# Sourced by deploy.sh and rollback.sh: what a release is (an environment on a target, a
# version), where it runs, and the commands shown instead of run with --dry-run.
# shellcheck shell=bash

# check_release SCRIPT ENVIRONMENT TARGET [VERSION]: exit 2 with one line on a bad value.
check_release() {
  case "$2" in
    production|staging|development) ;;
    *) echo "$1: ENVIRONMENT must be production, staging or development, not '$2'" >&2; exit 2 ;;
  esac
  case "$3" in
    compose|k8s) ;;
    *) echo "$1: target must be compose or k8s, not '$3'" >&2; exit 2 ;;
  esac
  if [ -n "${4:-}" ] && ! [[ "$4" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
    echo "$1: bad VERSION '$4'" >&2; exit 2
  fi
}

# release_place ENVIRONMENT: sets backend_image, frontend_image, namespace and compose (the
# docker-compose command: the production file, or docker-compose.yml for development).
# shellcheck disable=SC2034 # read by the script that sources this
release_place() {
  backend_image="${RAG_CHATBOT_IMAGE:-registry.example.com/rag-chatbot}"
  frontend_image="${RAG_CHATBOT_FRONTEND_IMAGE:-registry.example.com/rag-chatbot-frontend}"
  if [ "$1" = production ]; then
    namespace="${K8S_NAMESPACE:-rag-chatbot}"
  else
    namespace="${K8S_NAMESPACE:-rag-chatbot-$1}"
  fi
  local file=docker-compose.prod.yml
  [ "$1" = development ] && file=docker-compose.yml
  compose=(docker-compose -f "$file")
}

# use_images TAG: the images compose starts (shown too with --dry-run, dry=1).
use_images() {
  export RAG_CHATBOT_IMAGE="$backend_image" RAG_CHATBOT_FRONTEND_IMAGE="$frontend_image"
  export RAG_CHATBOT_TAG="$1"
  if [ "${dry:-0}" -eq 1 ]; then
    echo "+ export RAG_CHATBOT_IMAGE=$backend_image RAG_CHATBOT_FRONTEND_IMAGE=$frontend_image RAG_CHATBOT_TAG=$1"
  fi
}

run() {  # the command, or with --dry-run (dry=1) its words as a shell would read them
  if [ "${dry:-0}" -eq 1 ]; then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}
