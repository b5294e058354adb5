#!/usr/bin/env bash
# Runs every test project and prints one closing line "N passed, N failed, N skipped".
set -uo pipefail
configuration="${1:-Release}"
cd "$(dirname "$0")/.."
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
status=0
dotnet test XdsControlPlane.sln -c "$configuration" --no-build -nologo \
    --logger "trx" --results-directory "$results" -- RunConfiguration.TestSessionTimeout=3000000 || status=$?
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
    [ -e "$trx" ] || continue
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
    p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
    t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
done
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
    echo "no test ran"; status=1
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
