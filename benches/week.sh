#!/usr/bin/env bash
# Does reading a week cost more as bookings accumulate elsewhere? (run by hand, not in CI)
#   bash benches/week.sh [sqlite|postgres|both]      (CONNECTIONS=16, DURATION=15s, FUTURE=100000, BIN=)
# Seeds the demo, opens every instrument, adds 20,000 past reservations, and measures with wrk
# against the release binary:
#   - the largest unit's week grid, GET /api/v1/units/1/schedule?week=<this week>;
#   - availability of one instrument for this week, GET /api/v1/instruments/5/availability;
# first with no future bookings, then again after FUTURE active bookings (pending and approved)
# spread over the 60 days from next Monday, on every instrument: a future the measured week
# does not touch. Both rounds run in the same process of the same database.
# Needs wrk, sqlite3, and for postgres a server at 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
duration=${DURATION:-15s}
conns=${CONNECTIONS:-16}
future=${FUTURE:-100000}
port=${PORT:-18083}
# BIN=path runs another build (an older one, for a before-and-after) instead of this tree's.
bin=${BIN:-target/release/yiqi}
[[ -n ${BIN:-} ]] || cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

# This week in the platform's zone (Asia/Shanghai): Monday 00:00 to next Monday 00:00.
week=$(TZ=Asia/Shanghai date +%G-W%V)
monday=$(TZ=Asia/Shanghai date -d "$(TZ=Asia/Shanghai date +%Y-%m-%d) -$(( $(TZ=Asia/Shanghai date +%u) - 1 )) days" +%Y-%m-%d)
next_monday=$(date -d "$monday +7 days" +%Y-%m-%d)
from="${monday}T00:00:00%2B08:00"
to="${next_monday}T00:00:00%2B08:00"
# Database times are UTC: next Monday 00:00 in Beijing is Sunday 16:00 UTC.
future_start="$(date -d "$next_monday -1 day" +%Y-%m-%d) 16:00:00"

prepare_sql() {
  local backend=$1
  echo "UPDATE instruments SET share_mode = 'external';"
  echo "DELETE FROM booking_settings;"
  echo "INSERT INTO booking_settings (instrument_id, modes, approval_required, slot_minutes, min_minutes, max_minutes, horizon_days, notice_minutes, updated_at, max_active_per_user, opening_hours)
        SELECT id, 'both', FALSE, 30, 30, 480, 90, 0, CURRENT_TIMESTAMP, 100, '' FROM instruments;" | if [[ $backend == sqlite ]]; then sed 's/FALSE/0/'; else cat; fi
  # 20,000 finished bookings before this week.
  if [[ $backend == postgres ]]; then
    echo "INSERT INTO reservations (instrument_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at)
          SELECT g % 1940 + 1, 4, 'machine_time', 'completed',
                 timestamp '$monday' - interval '8 hours' - (g / 1940 + 1) * interval '1 hour',
                 timestamp '$monday' - interval '8 hours' - (g / 1940 + 1) * interval '1 hour' + interval '50 minutes',
                 'academic', 0, now(), now()
          FROM generate_series(0, 19999) g;
          VACUUM ANALYZE;"
  else
    echo "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 19999)
          INSERT INTO reservations (instrument_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at)
          SELECT n % 1940 + 1, 4, 'machine_time', 'completed',
                 datetime('$monday', '-8 hours', '-' || (n / 1940 + 1) || ' hours'),
                 datetime('$monday', '-8 hours', '-' || (n / 1940 + 1) || ' hours', '+50 minutes'),
                 'academic', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM g;
          ANALYZE;"
  fi
}

# FUTURE active bookings from next Monday over 60 days: instrument n % 1940 + 1, one hour each,
# consecutive hours per instrument (never overlapping), half pending and half approved.
future_sql() {
  local backend=$1
  if [[ $backend == postgres ]]; then
    echo "INSERT INTO reservations (instrument_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at)
          SELECT g % 1940 + 1, 4, 'machine_time', CASE WHEN g % 2 = 0 THEN 'approved' ELSE 'pending' END,
                 timestamp '$future_start' + (g / 1940) * interval '1 day' * 60 / ($future / 1940 + 1),
                 timestamp '$future_start' + (g / 1940) * interval '1 day' * 60 / ($future / 1940 + 1) + interval '1 hour',
                 'academic', 0, now(), now()
          FROM generate_series(0, $future - 1) g;"
  else
    echo "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < $future - 1)
          INSERT INTO reservations (instrument_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at)
          SELECT n % 1940 + 1, 4, 'machine_time', CASE WHEN n % 2 = 0 THEN 'approved' ELSE 'pending' END,
                 datetime('$future_start', '+' || ((n / 1940) * 60 * 1440 / ($future / 1940 + 1)) || ' minutes'),
                 datetime('$future_start', '+' || ((n / 1940) * 60 * 1440 / ($future / 1940 + 1) + 60) || ' minutes'),
                 'academic', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM g;"
  fi
}

measure() {
  curl -sf "http://127.0.0.1:$port/api/v1/units/1/schedule?week=$week" > /dev/null   # warm
  echo "-- GET /api/v1/units/1/schedule?week=$week (the largest unit's week grid)"
  wrk -t2 -c$conns -d"$duration" --latency "http://127.0.0.1:$port/api/v1/units/1/schedule?week=$week" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx'
  echo "-- GET availability of one instrument, this week"
  wrk -t2 -c$conns -d"$duration" --latency "http://127.0.0.1:$port/api/v1/instruments/5/availability?from=$from&to=$to" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx'
}

bench() {
  local backend=$1 url=$2 sql=$3
  echo "== $backend"
  DATABASE_URL=$url $bin seed demo > /dev/null
  prepare_sql "$backend" | $sql
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false YIQI__MAIL__SENDER_ENABLED=false \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.01; done
  echo "- an empty future"
  measure
  local t0=$(date +%s.%N)
  future_sql "$backend" | $sql
  echo "- $future active bookings over the 60 days from next Monday (inserted in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s)"
  # Let the database settle as it would by itself before measuring: on PostgreSQL what
  # autovacuum and the next checkpoint do (else they share the 2 cores with the run); SQLite
  # keeps the statistics of the empty future (nothing refreshes them on its own), the harder
  # case for its planner.
  if [[ $backend == postgres ]]; then
    echo "VACUUM ANALYZE; CHECKPOINT;" | $sql
  else
    echo "PRAGMA wal_checkpoint(TRUNCATE);" | $sql > /dev/null
  fi
  measure
  kill $server; wait $server 2>/dev/null || true
  server=
}

if [[ $which == sqlite || $which == both ]]; then
  bench sqlite "sqlite://$work/week.db" "sqlite3 -bail $work/week.db"
fi
if [[ $which == postgres || $which == both ]]; then
  db=yiqi_week_$$
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  bench postgres "postgres://postgres@127.0.0.1:5432/$db" "psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d $db"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"
fi
