#!/usr/bin/env bash
# Load benchmark of the web pages against the release binary (run by hand, not in CI).
#   bash benches/pages.sh [sqlite|postgres|both] [SCALE]
# Seeds the demo platform (SCALE 1: the Jilin platform's 1,940 instruments), makes a few
# bookings through the API, and runs wrk (16 connections, 2 threads) on each page, signed out
# and signed in (the session cookie carries an access token from the API's sign-in). Prints
# each page's size, p50/p90/p99 and requests per second.
# Needs wrk (apt-get install wrk) and, for postgres, a server at 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
scale=${2:-1}
duration=${DURATION:-10s}
port=${PORT:-18081}
bin=target/release/yiqi
pw=yiqi-demo-2026
cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

token() {
  curl -sf -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$pw\"}" "http://127.0.0.1:$port/api/v1/auth/login" \
    | sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}

page() { # name, path, cookie
  local name=$1 path=$2 cookie=${3:-}
  local size
  size=$(curl -sf -o /dev/null -w '%{size_download}' -H "Cookie: $cookie" "http://127.0.0.1:$port$path")
  echo "-- $name: GET $path ($((size / 1024)) kB)"
  wrk -t2 -c16 -d"$duration" --latency -H "Cookie: $cookie" "http://127.0.0.1:$port$path" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
}

bench() {
  local backend=$1 url=$2
  echo "== $backend, scale $scale"
  DATABASE_URL=$url $bin seed demo --scale "$scale" > /dev/null
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false \
    YIQI__AUTH__ACCESS_TTL_SECS=3600 YIQI__SEARCH__INDEX_DIR="$work/index-$backend" \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.05; done
  local admin unit_admin researcher manager inst
  admin=$(token admin@yiqi.demo)
  unit_admin=$(token unit-admin@yiqi.demo)
  researcher=$(token researcher@yiqi.demo)
  manager=$(token manager@yiqi.demo)
  inst=$(curl -sf "http://127.0.0.1:$port/api/v1/instruments?unit=1&per_page=1" \
    | sed -E 's/.*"items":\[\{"id":([0-9]+).*/\1/')
  curl -sf -X PATCH -H "Authorization: Bearer $unit_admin" -H 'content-type: application/json' \
    -d '{"share_mode":"external","run_status":"normal"}' \
    "http://127.0.0.1:$port/api/v1/instruments/$inst" > /dev/null
  # Eight bookings over the coming days, so the lists and the week have rows.
  for d in 2 3 4 5; do
    for h in 09 14; do
      local day
      day=$(TZ=Asia/Shanghai date -d "+$d day" +%F)
      curl -s -o /dev/null -H "Authorization: Bearer $researcher" -H 'content-type: application/json' \
        -d "{\"instrument_id\":$inst,\"kind\":\"machine_time\",\"purpose\":\"形貌观察\",\"starts_at\":\"${day}T$h:00:00+08:00\",\"ends_at\":\"${day}T$h:30:00+08:00\"}" \
        "http://127.0.0.1:$port/api/v1/reservations"
    done
  done
  page "home" "/"
  page "instrument" "/instruments/$inst"
  page "instrument, signed in" "/instruments/$inst" "yiqi_access=$researcher"
  page "instrument week" "/instruments/$inst/_week"
  page "catalogue list" "/instruments?category=010000"
  page "unit" "/units/1"
  page "unit week grid" "/units/1/week"
  page "my bookings" "/reservations" "yiqi_access=$researcher"
  page "approval queue" "/manage/reservations" "yiqi_access=$manager"
  page "service log" "/manage/services" "yiqi_access=$manager"
  page "admin desk" "/admin" "yiqi_access=$admin"
  page "audit log" "/admin/audit" "yiqi_access=$admin"
  kill $server; wait $server 2>/dev/null || true
  server=
}

if [[ $which == sqlite || $which == both ]]; then
  bench sqlite "sqlite://$work/pages.db"
fi
if [[ $which == postgres || $which == both ]]; then
  db=yiqi_pages_$$
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  bench postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"
fi
