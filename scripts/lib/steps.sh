# Sourced by the maintenance scripts: run named steps, report each, sum them up at the end.
# A step is a command that returns 0 (ok), 3 (warning), 4 (skipped) or anything else (failed);
# a failed step does not stop the steps after it.
# shellcheck shell=bash

passed=0 warned=0 skipped=0
failures=()

step() {
  local name="$1" code=0
  shift
  echo "== $name"
  "$@" || code=$?
  case "$code" in
    0) echo "-- $name: ok"; passed=$((passed + 1)) ;;
    3) echo "-- $name: WARNING"; warned=$((warned + 1)) ;;
    4) echo "-- $name: skipped"; skipped=$((skipped + 1)) ;;
    *) echo "-- $name: FAILED (status $code)"; failures+=("$name") ;;
  esac
}

must() {  # another program as a step: any failure is a failure, whatever its status
  "$@" || return 1
}

finish() {  # the summary line, then exit 1 when a step failed
  echo "== $1: $passed ok, $warned warning(s), $skipped skipped, ${#failures[@]} failed"
  if [ "${#failures[@]}" -gt 0 ]; then
    echo "$1: failed: ${failures[*]}" >&2
    exit 1
  fi
}
