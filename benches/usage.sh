#!/usr/bin/env bash
# Load benchmark of the machine-hour figures against the release binary (run by hand, not in CI).
#   bash benches/usage.sh [sqlite|postgres|both]     (RECORDS=10000000, SCALE=10, CONNECTIONS=16, DURATION=15s)
# Seeds the demo at --scale SCALE (SCALE × 1,940 instruments), adds RECORDS service records
# spread over the nine years before today (generated in SQL: the Rust generator,
# `yiqi seed history --records N`, gives the same shape but loads more slowly), rebuilds the
# rollups with `yiqi usage rebuild-rollups`, then measures with wrk:
#   - the platform overview for last year: GET /api/v1/stats?from=…-01-01&to=…-12-31;
#   - the same for a ragged period (whole months from the rollups, edge days from records);
#   - the yearly evaluation of the largest unit (unit 1): GET /api/v1/units/1/evaluation?year=…;
# and times the XLSX export of that unit's year with curl (five runs), and its national report
# (数据报送: GET /api/v1/units/1/nrii.json and .xlsx, and `yiqi export nrii --unit 1`). The cold
# figures are the first request of each on a fresh server; wrk then runs on another fresh
# server whose overview has been computed once for each period.
# KEEP=DIR keeps the loaded SQLite file in DIR (and the PostgreSQL database yiqi_usage_bench)
# and reuses them on the next run, skipping the load.
# BASELINE=PATH compares with another build in the same run: the data is loaded and measured
# with PATH (an earlier release binary), then upgraded by this build's migrations (timed) and
# measured again. Not with KEEP.
# Needs wrk, sqlite3, and for postgres a server at 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
records=${RECORDS:-10000000}
scale=${SCALE:-10}
duration=${DURATION:-15s}
conns=${CONNECTIONS:-16}
port=${PORT:-18083}
bin=target/release/yiqi
baseline=${BASELINE:-}
cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=
year=$(( $(TZ=Asia/Shanghai date +%Y) - 1 ))
instruments=$(( scale * 1940 ))

# RECORDS rows: instruments and clients spread by multiplicative hashing, one in five
# internal, 30 minutes to 8 hours, over the 3,285 days before today.
records_sql() {
  local backend=$1 orgs=$2
  local cols="instrument_id, client_organisation_id, internal, service_type, service_way, minutes, sample_count, fee_fen, project, funding_source, note, created_at, served_on, idle_minutes"
  if [[ $backend == postgres ]]; then
    echo "INSERT INTO service_records ($cols)
          SELECT (g * 7919) % $instruments + 1, (g * 104729) % $orgs + 1, g % 5 = 0,
                 (ARRAY['testing','testing','testing','training','consulting','teaching'])[g % 6 + 1],
                 (ARRAY['occupy','technical','entrusted','remote'])[g % 4 + 1],
                 30 + (g % 16) * 30, g % 12, (30 + (g % 16) * 30) * 300, '', '', '', now(),
                 current_date - 1 - (g % 3285)::int, 0
          FROM generate_series(0::bigint, $records - 1) g;"
  else
    echo "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < $records - 1)
          INSERT INTO service_records ($cols)
          SELECT (n * 7919) % $instruments + 1, (n * 104729) % $orgs + 1, n % 5 = 0,
                 CASE n % 6 WHEN 3 THEN 'training' WHEN 4 THEN 'consulting' WHEN 5 THEN 'teaching' ELSE 'testing' END,
                 CASE n % 4 WHEN 0 THEN 'occupy' WHEN 1 THEN 'technical' WHEN 2 THEN 'entrusted' ELSE 'remote' END,
                 30 + (n % 16) * 30, n % 12, (30 + (n % 16) * 30) * 300, '', '', '', CURRENT_TIMESTAMP,
                 date('now', '-' || (1 + n % 3285) || ' days'), 0
          FROM g;"
  fi
}

wrk_get() {
  wrk -t2 -c$conns -d"$duration" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$1" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx'
}

# The national record's fields of the generated records (what the national report checks).
national_sql() {
  echo "UPDATE service_records SET content = '样品形貌与成分表征', applicant_name = '测试用户',
          applicant_phone = '0431-85100000' WHERE content = '';"
}

seconds_since() {
  awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $1}"
}

bench() {
  local backend=$1 url=$2 sql=$3 scalar=$4
  echo "== $backend"
  local loaded orgs t0 loader=${baseline:-$bin}
  loaded=$(echo "SELECT count(*) FROM service_records;" | $scalar 2>/dev/null || echo 0)
  if [[ ${loaded:-0} -lt $records ]]; then
    DATABASE_URL=$url $loader seed demo --scale "$scale" > /dev/null
    orgs=$(echo "SELECT max(id) FROM organisations;" | $scalar)
    t0=$(date +%s.%N)
    records_sql "$backend" "$orgs" | $sql
    DATABASE_URL=$url $loader usage rebuild-rollups > /dev/null
    # PostgreSQL's index-only scans need the visibility map that VACUUM writes.
    if [[ $backend == postgres ]]; then echo "VACUUM ANALYZE;" | $sql; else echo "ANALYZE;" | $sql; fi
    echo "$records service records loaded and rolled up in $(seconds_since "$t0") s"
  fi
  if [[ -n $baseline ]]; then
    echo "---- baseline: $baseline"
    measure "$backend" "$url" "$baseline"
    t0=$(date +%s.%N)
    DATABASE_URL=$url $bin migrate
    echo "upgraded by this build's migrations in $(seconds_since "$t0") s"
    echo "---- this build"
  fi
  t0=$(date +%s.%N)
  national_sql | $sql
  # After the upgrade's rewrites a PostgreSQL heap is several times the baseline's: compact
  # it, so that both builds read the same amount.
  if [[ $backend == postgres && -n $baseline ]]; then echo "VACUUM FULL ANALYZE;" | $sql
  elif [[ $backend == postgres ]]; then echo "VACUUM ANALYZE;" | $sql; else echo "ANALYZE;" | $sql; fi
  echo "national fields filled in $(seconds_since "$t0") s"
  measure "$backend" "$url" "$bin"
  echo "-- yiqi export nrii --year $year --unit 1 (three runs)"
  for _ in 1 2 3; do
    DATABASE_URL=$url YIQI__LOG__FILTER=warn $bin export nrii --year "$year" --unit 1 --out "$work/nrii" | grep 'unit summaries'
  done
}

measure() {
  local backend=$1 url=$2 bin=$3
  echo "cold (one request at a time, first call of each):"
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false YIQI__MAIL__SENDER_ENABLED=false \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.01; done
  export TOKEN=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"email":"admin@yiqi.demo","password":"yiqi-demo-2026"}' \
    "http://127.0.0.1:$port/api/v1/auth/login" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  for path in "/api/v1/stats?from=$year-01-01&to=$year-12-31" "/api/v1/stats?from=$year-02-10&to=$year-11-20" \
      "/api/v1/units/1/evaluation?year=$year" "/api/v1/units/1/evaluation?year=$year"; do
    curl -sf -o /dev/null -w "  %{time_total} s  $path\n" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$path"
  done
  kill $server; wait $server 2>/dev/null || true
  server=
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false YIQI__MAIL__SENDER_ENABLED=false \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.01; done
  export TOKEN=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"email":"admin@yiqi.demo","password":"yiqi-demo-2026"}' \
    "http://127.0.0.1:$port/api/v1/auth/login" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  # The first computation of each period is the cold figure above; wrk measures what follows.
  for path in "/api/v1/stats?from=$year-01-01&to=$year-12-31" "/api/v1/stats?from=$year-02-10&to=$year-11-20"; do
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$path"
  done
  echo "-- GET /api/v1/stats for $year (whole months: rollups)"
  wrk_get "/api/v1/stats?from=$year-01-01&to=$year-12-31"
  echo "-- GET /api/v1/stats for $year-02-10 … $year-11-20 (edge days from the records)"
  wrk_get "/api/v1/stats?from=$year-02-10&to=$year-11-20"
  echo "-- GET /api/v1/units/1/evaluation?year=$year"
  wrk_get "/api/v1/units/1/evaluation?year=$year"
  echo "-- XLSX export of unit 1, $year (five runs, seconds)"
  for _ in 1 2 3 4 5; do
    curl -sf -o "$work/e.xlsx" -w '%{time_total} s, %{size_download} bytes\n' -H "Authorization: Bearer $TOKEN" \
      "http://127.0.0.1:$port/api/v1/units/1/evaluation.xlsx?year=$year"
  done
  if [[ $bin != "$baseline" ]]; then
    for format in json xlsx; do
      echo "-- national report of unit 1, $year, $format (three runs)"
      for _ in 1 2 3; do
        curl -sf -o "$work/n.$format" -w '%{time_total} s, %{size_download} bytes\n' -H "Authorization: Bearer $TOKEN" \
          "http://127.0.0.1:$port/api/v1/units/1/nrii.$format?year=$year"
      done
    done
  fi
  kill $server; wait $server 2>/dev/null || true
  server=
}

keep=${KEEP:-}
[[ -z $baseline || -z $keep ]] || { echo "BASELINE and KEEP do not mix" >&2; exit 2; }
if [[ $which == sqlite || $which == both ]]; then
  dir=${keep:-$work}
  mkdir -p "$dir"
  bench sqlite "sqlite://$dir/usage.db" "sqlite3 $dir/usage.db" "sqlite3 $dir/usage.db"
fi
if [[ $which == postgres || $which == both ]]; then
  if [[ -n $keep ]]; then
    db=yiqi_usage_bench
    psql -q -h 127.0.0.1 -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
      || psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
  else
    db=yiqi_usage_$$
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  fi
  bench postgres "postgres://postgres@127.0.0.1:5432/$db" "psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d $db" \
    "psql -qtA -h 127.0.0.1 -U postgres -d $db"
  [[ -n $keep ]] || psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"
fi
