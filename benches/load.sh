#!/usr/bin/env bash
# Load benchmark of the navigation API against the release binary (run by hand, not in CI).
#   bash benches/load.sh [sqlite|postgres|both] [SCALE]
# Seeds a fresh database at SCALE (50 ≈ 100,000 instruments), starts `yiqi serve`, measures
# start-up time and resident memory, and runs wrk (16 connections, 2 threads) on each endpoint.
# Needs wrk (apt-get install wrk) and, for postgres, a server at 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
scale=${2:-50}
duration=${DURATION:-15s}
port=${PORT:-18080}
bin=target/release/yiqi
cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

# 长春 is %E9%95%BF%E6%98%A5.
paths=(
  "/api/v1/instruments?category=010000&city=%E9%95%BF%E6%98%A5"
  "/api/v1/instruments?category=010000&city=%E9%95%BF%E6%98%A5&page=200"
  "/api/v1/categories"
  "/api/v1/sub-platforms"
)

bench() {
  local backend=$1 url=$2
  echo "== $backend, scale $scale"
  local t0=$(date +%s.%N)
  DATABASE_URL=$url $bin seed demo --scale "$scale"
  echo "seed: $(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}") s"
  # Start-up with migrations and seed already done: spawn to first 200 on /health.
  t0=$(date +%s.%N)
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.01; done
  echo "start-up: $(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}") s"
  for p in "${paths[@]}"; do
    curl -sf "http://127.0.0.1:$port$p" >/dev/null   # warm
    echo "-- GET $p"
    wrk -t2 -c16 -d"$duration" --latency "http://127.0.0.1:$port$p" \
      | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
  done
  echo "resident memory: $(grep VmRSS /proc/$server/status | awk '{print $2/1024 " MB"}'), peak $(grep VmHWM /proc/$server/status | awk '{print $2/1024 " MB"}')"
  kill $server; wait $server 2>/dev/null || true
  server=
}

if [[ $which == sqlite || $which == both ]]; then
  bench sqlite "sqlite://$work/load.db"
fi
if [[ $which == postgres || $which == both ]]; then
  db=yiqi_load_$$
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  bench postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"
fi
