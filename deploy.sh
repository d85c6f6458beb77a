#!/usr/bin/env bash
# The runbook's entry point, `./deploy.sh production v1.2.0`: scripts/deploy.sh does the work.
set -euo pipefail
exec "$(dirname "$0")/scripts/deploy.sh" "$@"
