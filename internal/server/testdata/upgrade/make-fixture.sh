#!/usr/bin/env bash
# Writes an upgrade fixture: a small data directory (database, key file,
# blobs) made by this checkout's code, with what it holds in expect.json,
# under testdata/upgrade/schema-N, N being the schema version it was
# written with. Run it once per release that adds a migration, and commit
# the result; fixtures are never rewritten. TestUpgradeFromFixtures opens
# every one of them with the current code.
# Usage: internal/server/testdata/upgrade/make-fixture.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../../.."
schema=$(ls internal/store/sqlite/migrations/*.sql | sed 's|.*/0*\([0-9]*\)_.*|\1|' | sort -n | tail -n1)
out="$here/schema-$schema"
if [ -e "$out" ]; then
  echo "$out exists: a fixture is never rewritten" >&2; exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CAMVAULT_WRITE_UPGRADE_FIXTURE="$tmp/fixture" go test ./internal/server -run '^TestWriteUpgradeFixture$' -count=1
mv "$tmp/fixture" "$out"
echo "wrote $out:"; du -sh "$out"
