#!/usr/bin/env bash
# Search benchmark against the release binary (run by hand, not in CI).
#   bash benches/search.sh [sqlite|postgres|both] [SCALE]
# Seeds a fresh database at SCALE (50 ≈ 97,000 instruments), starts `yiqi serve` with an index
# directory of its own, reports how long the index took to build and the resident memory
# before and after, then for one- and two-word searches, suggestions and the free-window filter:
#  1. wrk, 16 connections as fast as they go (closed loop: the latency is mostly queueing once
#     the two cores are busy), the same query again and again, so answered from the result cache;
#  2. the same with the result cache off (`search.cache_entries = 0`): what computing costs;
#  3. oha, 16 connections at a steady RATE requests a second (open loop, latency corrected):
#     what a person waits at that load, cache off;
# then times the same words as `LIKE '%…%'` over the catalogue's text columns in the database
# itself (what a search without an index costs: it finds less and ranks nothing).
# Needs wrk, oha (cargo install oha) and sqlite3 and, for postgres, a server at 127.0.0.1:5432
# with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
scale=${2:-50}
duration=${DURATION:-10s}
rate=${RATE:-200}
port=${PORT:-18090}
bin=target/release/yiqi
cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

# SEM; 扫描电镜 长春; 质谱; the suggestion 扫描.
paths=(
  "/api/v1/search?q=SEM"
  "/api/v1/search?q=%E8%B4%A8%E8%B0%B1"
  "/api/v1/search?q=%E6%89%AB%E6%8F%8F%E7%94%B5%E9%95%9C%20%E9%95%BF%E6%98%A5"
  "/api/v1/search/suggest?q=%E6%89%AB%E6%8F%8F"
)
# Next Tuesday 09:00–12:00 in Beijing: SEM free then (checks up to 500 candidates' bookings).
tuesday=$(TZ=Asia/Shanghai date -d 'next tuesday' +%F)
free="/api/v1/search?q=SEM&free_from=${tuesday}T01:00:00Z&free_to=${tuesday}T04:00:00Z"
like_words=("SEM" "质谱" "扫描电镜")

like_sql() {
  local w=$1
  echo "SELECT COUNT(*) FROM instruments WHERE retired_at IS NULL AND (name_zh LIKE '%$w%' OR name_en LIKE '%$w%' OR model LIKE '%$w%' OR manufacturer LIKE '%$w%' OR specs LIKE '%$w%' OR functions LIKE '%$w%' OR service_content LIKE '%$w%');"
}

serve() {
  local backend=$1 url=$2 cache=$3
  DATABASE_URL=$url YIQI__LOG__FILTER=info YIQI__LOG__FORMAT=json YIQI__DEMO__SEED_ON_EMPTY=false \
    YIQI__SEARCH__INDEX_DIR="$work/index-$backend" YIQI__SEARCH__CACHE_ENTRIES=$cache \
    $bin serve --bind 127.0.0.1:$port >> "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.01; done
}

stop() {
  kill $server; wait $server 2>/dev/null || true
  server=
}

closed() {
  curl -sf "http://127.0.0.1:$port$1" >/dev/null   # warm
  echo "-- GET $1"
  wrk -t2 -c16 -d"$duration" --latency "http://127.0.0.1:$port$1" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
}

open_loop() {
  curl -sf "http://127.0.0.1:$port$1" >/dev/null   # warm
  echo "-- GET $1"
  oha --no-tui --latency-correction -c16 -q "$rate" -z "$duration" --output-format json \
    "http://127.0.0.1:$port$1" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]; s=d["summary"]; print("    p50 %.2f ms, p99 %.2f ms, %.0f req/s, success %.3f" % (p["p50"]*1e3, p["p99"]*1e3, s["requestsPerSec"], s["successRate"]))'
}

bench() {
  local backend=$1 url=$2
  echo "== $backend, scale $scale"
  DATABASE_URL=$url $bin seed demo --scale "$scale" >/dev/null
  local t0=$(date +%s.%N)
  serve "$backend" "$url" 500
  echo "resident memory before the index: $(grep VmRSS /proc/$server/status | awk '{print $2/1024 " MB"}')"
  until grep -q "search index built" "$work/$backend.log"; do sleep 0.05; done
  echo "index built: $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s after start ($(du -sh "$work/index-$backend" | cut -f1) on disk)"
  echo "1. wrk -c16, the same query each time (result cache on)"
  for p in "${paths[@]}"; do closed "$p"; done
  closed "$free"
  echo "resident memory after: $(grep VmRSS /proc/$server/status | awk '{print $2/1024 " MB"}'), peak $(grep VmHWM /proc/$server/status | awk '{print $2/1024 " MB"}')"
  stop
  serve "$backend" "$url" 0
  echo "2. wrk -c16, result cache off"
  for p in "${paths[@]:0:3}"; do closed "$p"; done
  echo "3. oha -c16 at $rate requests/s, result cache off"
  for p in "${paths[@]}" "$free"; do open_loop "$p"; done
  stop
  for w in "${like_words[@]}"; do
    local sql; sql=$(like_sql "$w")
    local ms
    if [[ $backend == sqlite ]]; then
      ms=$( (echo ".timer on"; for _ in $(seq 20); do echo "$sql"; done) | sqlite3 "${url#sqlite://}" \
        | awk '/Run Time/ {s += $4; n++} END {printf "%.1f", s * 1000 / n}')
    else
      ms=$( (echo '\timing on'; for _ in $(seq 20); do echo "$sql"; done) | psql -q -h 127.0.0.1 -U postgres -d "${url##*/}" \
        | awk '/^Time:/ {s += $2; n++} END {printf "%.1f", s / n}')
    fi
    echo "-- LIKE '%$w%' over 7 columns, counted in the database: $ms ms a query (mean of 20)"
  done
}

if [[ $which == sqlite || $which == both ]]; then
  bench sqlite "sqlite://$work/load.db"
fi
if [[ $which == postgres || $which == both ]]; then
  db=yiqi_search_$$
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  bench postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"
fi
