#!/usr/bin/env bash
# Quick start: set up acemux and run it with the built-in fake engine.
# Extra arguments go to `acemux demo` (e.g. --port 9000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" ""
exec .venv/bin/acemux demo "$@"
