#!/usr/bin/env bash
# CI: build the one-file executable, then smoke-test it from an empty directory with an empty
# environment (deploy/smoke_test.py). Usage: deploy/smoke-test.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--no-build" ]; then
  deploy/build-binary.sh
fi
python3 deploy/smoke_test.py dist/school-chat
