#!/usr/bin/env bash
# Load benchmark of sign-in and of authenticated requests against the release binary (run by
# hand, not in CI).
#   bash benches/auth.sh [sqlite|postgres|both]
# Seeds the demo (which has the demo accounts), starts `yiqi serve`, and runs wrk on
#   POST /api/v1/auth/login   (argon2id verification: CPU-bound by design)
#   GET  /api/v1/me           (JWT check + the account loaded from the database)
#   POST /api/v1/auth/refresh is not benchmarked: every token is single-use.
# Needs wrk (apt-get install wrk) and, for postgres, a server at 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
duration=${DURATION:-15s}
port=${PORT:-18081}
bin=target/release/yiqi
cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

cat > "$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"researcher@yiqi.demo","password":"yiqi-demo-2026"}'
LUA

bench() {
  local backend=$1 url=$2
  echo "== $backend"
  DATABASE_URL=$url $bin seed demo > /dev/null
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false \
    YIQI__AUTH__LOGIN_MAX_FAILURES_PER_ADDRESS=1000000 \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.01; done
  for c in 1 16; do
    echo "-- POST /api/v1/auth/login, $c connection(s)"
    wrk -t1 -c$c -d"$duration" --latency -s "$work/login.lua" "http://127.0.0.1:$port/api/v1/auth/login" \
      | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
  done
  token=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"email":"researcher@yiqi.demo","password":"yiqi-demo-2026"}' \
    "http://127.0.0.1:$port/api/v1/auth/login" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  echo "-- GET /api/v1/me (Bearer), 16 connections"
  wrk -t2 -c16 -d"$duration" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/me" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
  kill $server; wait $server 2>/dev/null || true
  server=
}

if [[ $which == sqlite || $which == both ]]; then
  bench sqlite "sqlite://$work/auth.db"
fi
if [[ $which == postgres || $which == both ]]; then
  db=yiqi_auth_$$
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  bench postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"
fi
