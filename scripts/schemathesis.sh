#!/usr/bin/env bash
# Optional: the real schemathesis (Python, from PyPI) against a gateway running the fake CLI: the
# checks test/system/spec-fuzz.test.ts makes in TypeScript, by the tool they imitate. Needs python3 with
# venv and a reachable PyPI; extra arguments go to `st run` (e.g. --max-examples 500).
#
#   scripts/schemathesis.sh                 # a venv in .venv-schemathesis, the gateway on port 8797
#   SCHEMATHESIS_VERSION=4.32.5 PORT=9000 scripts/schemathesis.sh --checks not_a_server_error
set -euo pipefail
cd "$(dirname "$0")/.."

version="${SCHEMATHESIS_VERSION:-4.32.5}"
venv="${SCHEMATHESIS_VENV:-.venv-schemathesis}"
port="${PORT:-8797}"
work="$(mktemp -d)"
gateway=""
cleanup() {
  if [ -n "$gateway" ]; then
    kill "$gateway" 2>/dev/null || true
    wait "$gateway" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

# The fake CLI answers at once; everything the gateway writes stays in the temporary directory.
HOST=127.0.0.1 PORT="$port" CLAUDE_BIN="$PWD/test/support/fake-claude.mjs" DATA_DIR="$work/data" \
  CLAUDE_WORKDIR="$work/workspace" ALLOWED_TOOLS=Read LOG_LEVEL=warn node --import tsx src/main.ts &
gateway=$!
for _ in $(seq 150); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.2
done

# Left out, on purpose:
# - use_after_free: DELETE /v1/processes/{id} cancels a process and keeps its record (the contract);
#   a GET after it is a 200 by design.
# - positive_data_acceptance: a chat completion body can be valid for the schema and still be a 400
#   for rules a schema cannot say (the messages must end with a user message or tool results, a
#   tool_choice must name one of the tools, ...). test/system/spec-fuzz.test.ts keeps the part that can be
#   checked: a body the document allows is never refused by the server's own schema.
"$venv/bin/st" run openapi.yaml --url "http://127.0.0.1:$port" \
  --exclude-checks use_after_free,positive_data_acceptance "$@"
