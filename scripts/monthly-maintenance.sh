#!/usr/bin/env bash
# The runbook's monthly maintenance, each step reported; a failed step does not stop the others.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/monthly-maintenance.sh [--no-audit]

Runs, in order, each reported as ok, WARNING, skipped or FAILED:
  full backup       scripts/full-backup.sh (fails when that script is missing)
  capacity          scripts/capacity-report.sh
  disaster recovery scripts/dr-test.sh (fails when that script is missing)
  outdated          python3 -m pip list --outdated: the Python packages of this environment
                    with a newer release (a warning when there are some; asks the package
                    index, so it needs network access to it)
  vulnerabilities   pip-audit on this environment, when pip-audit is installed (skipped
                    otherwise); a known vulnerability fails the step
  image scan        trivy image --severity HIGH,CRITICAL $SCAN_IMAGE, when trivy is installed
                    and SCAN_IMAGE names the image to scan (skipped otherwise)
--no-audit skips the three dependency steps. Run it where the service's Python environment
is (the image: RAG_CHATBOT_PYTHON="docker-compose exec -T backend python" audits that one).
Exit status: 0 when no step failed, 1 otherwise.
USAGE
}

audit=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --no-audit) audit=0; shift ;;
    *) echo "monthly-maintenance.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
read -r -a python <<<"${RAG_CHATBOT_PYTHON:-python3}"

# shellcheck source=scripts/lib/steps.sh
source scripts/lib/steps.sh

script() {  # one of ours, which another release may not ship yet
  [ -x "scripts/$1" ] || { echo "scripts/$1 is missing: this step cannot run"; return 1; }
  "scripts/$1" || return 1
}

outdated() {
  [ "$audit" -eq 1 ] || { echo "--no-audit"; return 4; }
  local listed
  listed=$("${python[@]}" -m pip list --outdated --disable-pip-version-check) || return 1
  [ -n "$listed" ] || { echo "every package is at its newest release"; return 0; }
  echo "$listed"
  return 3
}

vulnerabilities() {
  [ "$audit" -eq 1 ] || { echo "--no-audit"; return 4; }
  command -v pip-audit >/dev/null || { echo "pip-audit is not installed (pip install pip-audit)"; return 4; }
  pip-audit || return 1
}

image_scan() {
  [ "$audit" -eq 1 ] || { echo "--no-audit"; return 4; }
  command -v trivy >/dev/null || { echo "trivy is not installed"; return 4; }
  [ -n "${SCAN_IMAGE:-}" ] || { echo "SCAN_IMAGE is not set (e.g. registry.example.com/rag-chatbot:v1.2.0)"; return 4; }
  trivy image --severity HIGH,CRITICAL --exit-code 1 "$SCAN_IMAGE" || return 1
}

step "full backup" script full-backup.sh
step capacity script capacity-report.sh
step "disaster recovery" script dr-test.sh
step outdated outdated
step vulnerabilities vulnerabilities
step "image scan" image_scan

finish monthly-maintenance.sh
