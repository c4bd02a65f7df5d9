#!/usr/bin/env bash
# Builds the `OAuthBroker` target (the core product) alone in its own build folder and fails if that built any module of SwiftNIO,
# AsyncHTTPClient or postgres-nio: a user who links only the core must never build them.
#
#   scripts/check-core-build.sh [SCRATCH]   (default SCRATCH: .build-core)
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${1:-.build-core}"
log="$(mktemp)"
if ! swift build --target OAuthBroker --scratch-path "$scratch" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    exit 1
fi
rm -f "$log"
modules="$(find "$scratch/debug/Modules" "$scratch/debug" -maxdepth 1 -name '*.swiftmodule' -printf '%f\n' 2>/dev/null |
    sed 's/\.swiftmodule$//' | sort -u)"
if [ -z "$modules" ]; then echo "check-core-build: no modules found under $scratch" >&2; exit 1; fi
forbidden="$(printf '%s\n' "$modules" | grep -E '^(NIO|_NIO|AsyncHTTPClient|PostgresNIO|_ConnectionPool|OAuthBrokerCurl|OAuthBrokerSQLite|OAuthBrokerRedis|OAuthBrokerPostgres|OAuthBrokerAsyncHTTPClient)' || true)"
if [ -n "$forbidden" ]; then
    echo "check-core-build: building OAuthBroker alone also built:" >&2
    printf '  %s\n' $forbidden >&2
    exit 1
fi
echo "check-core-build: OAuthBroker alone built $(printf '%s\n' "$modules" | wc -l) modules: $(printf '%s\n' "$modules" | tr '\n' ' ')"
