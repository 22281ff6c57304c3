#!/usr/bin/env bash
# `make run`: a private PostgreSQL under .run/, migrations, an admin, a
# region on 127.0.0.1:5240 and a local cluster registered with it.  Prints
# the API URL and the admin's API key.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p .run
started_pg=""
pids=()

cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$started_pg" ]; then
    "$BIN/python" tools/pgcluster.py stop .run/pg
  fi
  echo "Stopped."
}
trap cleanup INT TERM EXIT

if [ -z "${MAAS_DATABASE_URL:-}" ]; then
  MAAS_DATABASE_URL=$("$BIN/python" tools/pgcluster.py start .run/pg)
  started_pg=1
fi
export MAAS_DATABASE_URL

"$BIN/maas-region" migrate
if ! "$BIN/maas-region" apikey --username admin >/dev/null 2>&1; then
  password=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(12))')
  (umask 077; echo "$password" > .run/admin-password)
  "$BIN/maas-region" createadmin --username admin --password "$password" --email admin@localhost
fi
key=$("$BIN/maas-region" apikey --username admin | head -n 1)

"$BIN/maas-region" serve --listen 127.0.0.1:5240 --rpc-listen 127.0.0.1:5250 \
  >>.run/region.log 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  if "$BIN/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:5240/MAAS/api/1.0/version/', timeout=1)" 2>/dev/null; then break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "The region failed to start; see .run/region.log:" >&2
    tail -n 20 .run/region.log >&2
    exit 1
  fi
  sleep 0.2
done

# A local cluster: it reads the shared secret, finds the region's RPC
# endpoints at /MAAS/rpc/, authenticates, registers and (being the first)
# takes over the placeholder cluster.
"$BIN/maas-region" shared-secret --write .run/secret >/dev/null
"$BIN/maas-cluster" serve --region-url http://127.0.0.1:5240/MAAS/ --secret-file .run/secret \
  --state-dir .run/cluster >>.run/cluster.log 2>&1 &
pids+=($!)

cat <<MSG

MAAS region and a local cluster are running.
  API URL:       http://127.0.0.1:5240/MAAS/api/1.0/
  Admin API key: $key
  Admin login:   admin / $(cat .run/admin-password 2>/dev/null || echo '(set earlier)')
  Database:      $MAAS_DATABASE_URL
  Logs:          .run/region.log, .run/cluster.log
Press Ctrl-C to stop.
MSG
wait "${pids[0]}"
