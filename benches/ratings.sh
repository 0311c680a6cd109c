#!/usr/bin/env bash
# The instrument page under many ratings (run by hand, not in CI).
#   bash benches/ratings.sh [sqlite|postgres|both] [RATINGS]
# Seeds the demo platform, gives the first instrument of unit 1 RATINGS service records (default
# 10,000), each rated by the demo researcher with a comment and every tenth answered, then runs
# wrk (16 connections, 2 threads) on the instrument's page and on its rating summary. Prints
# p50/p90/p99 and requests per second.
# Needs wrk (apt-get install wrk), sqlite3 and, for postgres, psql and a server at
# 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
count=${2:-10000}
duration=${DURATION:-10s}
port=${PORT:-18082}
bin=target/release/yiqi
cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

# The records and their ratings, as SQL both backends read: one instrument, the researcher as
# client, served on the days before 2026-12-01, rated a minute after.
fill_sql() {
  cat <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count)
INSERT INTO service_records (instrument_id, client_user_id, client_organisation_id, internal,
  service_type, service_way, minutes, sample_count, fee_fen, project, funding_source, note,
  created_at, served_on, idle_minutes)
SELECT $1, u.id, u.organisation_id, FALSE, 'testing', 'technical', 60, 0, 10000, '', '', 'bench',
  TIMESTAMP '2026-12-01 00:00:00', DATE '2026-12-01', 0
FROM users u, n
WHERE u.email = 'researcher@yiqi.demo';
INSERT INTO ratings (service_record_id, instrument_id, rater_id, overall, attitude, quality,
  timeliness, price, condition, comment, reply, created_at, updated_at)
SELECT s.id, s.instrument_id, s.client_user_id,
  CASE s.id % 5 WHEN 0 THEN 'very_satisfied' WHEN 1 THEN 'satisfied' WHEN 2 THEN 'neutral'
    WHEN 3 THEN 'dissatisfied' ELSE 'very_dissatisfied' END,
  'satisfied', 'satisfied', 'neutral', 'satisfied', 'satisfied',
  '测试数据：预约顺利，结果及时，老师讲解耐心。',
  CASE WHEN s.id % 10 = 0 THEN '感谢您的评价' END,
  TIMESTAMP '2026-12-01 00:01:00', TIMESTAMP '2026-12-01 00:01:00'
FROM service_records s WHERE s.note = 'bench';
SQL
}

page() { # name, path
  echo "-- $1: GET $2"
  wrk -t2 -c16 -d"$duration" --latency "http://127.0.0.1:$port$2" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
}

bench() {
  local backend=$1 url=$2
  echo "== $backend, $count ratings on one instrument"
  DATABASE_URL=$url $bin seed demo > /dev/null
  local inst
  case $backend in
    sqlite)
      inst=$(sqlite3 "$work/bench.db" "SELECT id FROM instruments WHERE unit_id = 1 ORDER BY id LIMIT 1")
      # SQLite has no TIMESTAMP/DATE literals: the same statements with plain strings.
      fill_sql "$inst" | sed -e "s/TIMESTAMP '/'/g" -e "s/DATE '/'/g" | sqlite3 "$work/bench.db" ;;
    postgres)
      inst=$(psql -qtA "$url" -c "SELECT id FROM instruments WHERE unit_id = 1 ORDER BY id LIMIT 1")
      fill_sql "$inst" | psql -q "$url" ;;
  esac
  # The kept counts, from the rows written behind the service's back.
  DATABASE_URL=$url $bin usage rebuild-rollups > /dev/null
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false \
    YIQI__SEARCH__INDEX_DIR="$work/index-$backend" \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.05; done
  curl -sf "http://127.0.0.1:$port/api/v1/instruments/$inst/ratings" \
    | sed -E 's/.*"count":([0-9]+).*"average":([0-9.]+).*/   ratings: \1, average \2/'
  page "instrument page" "/instruments/$inst"
  page "rating summary" "/api/v1/instruments/$inst/ratings"
  kill $server
  wait $server 2>/dev/null || true
  server=
}

if [[ $which == sqlite || $which == both ]]; then
  bench sqlite "sqlite://$work/bench.db"
fi
if [[ $which == postgres || $which == both ]]; then
  db="yiqi_bench_ratings_$$"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
  bench postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE $db"
fi
