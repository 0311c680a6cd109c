#!/usr/bin/env bash
# Load benchmark of reservations against the release binary (run by hand, not in CI).
#   bash benches/booking.sh [sqlite|postgres|both]     (CONNECTIONS=16, DURATION=15s)
# Seeds the demo, opens every instrument for automatic booking (max 100 active bookings per
# person), adds 1,000,000 past reservations, then measures with wrk (16 connections):
#   - booking creation: POST /api/v1/reservations, each request a fresh slot on one of the
#     1,940 instruments in turn (lock + checks + 3 inserts: reservation, history, e-mail);
#   - availability of one instrument for a week; the unit week grid of the largest unit;
# and on PostgreSQL, after each booking run, pgbench with as many clients, prepared, running
# benches/pgbench-booking.sql (the reference: lock, overlap check, three inserts) and
# benches/pgbench-yiqi-booking.sql (every statement the service sends for a booking, rules
# included): bookings and pgbench at 1 and 16 connections (BOOK_CONNECTIONS).
# KEEP=DIR keeps the loaded SQLite file in DIR (and the PostgreSQL database yiqi_booking_bench)
# and reuses them, skipping the load (the bookings a run made are deleted before the next);
# ONLY="availability grid booking pgbench" (any of them) runs those measurements only;
# BIN=path measures another build.
# Needs wrk, and for postgres a server at 127.0.0.1:5432 with trust auth and pgbench.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
duration=${DURATION:-15s}
conns=${CONNECTIONS:-16}
# Bookings (and pgbench) run at each of these: the comparison at 1 and at 16.
book_conns=${BOOK_CONNECTIONS:-1 16}
port=${PORT:-18082}
bin=${BIN:-target/release/yiqi}
[[ -n ${BIN:-} ]] || cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

# The clock of the run: bookings go from tomorrow on, past ones end before today.
tomorrow=$(TZ=Asia/Shanghai date -d tomorrow +%Y-%m-%d)

cat > "$work/book.lua" <<LUA
local n = 0
local tomorrow = "$tomorrow"
request = function()
  -- Instrument 1..1940 in turn; each pass moves every instrument to its next 30-minute slot.
  local i = n % 1940 + 1
  local k = math.floor(n / 1940)
  n = n + 1
  local day = math.floor(k / 28)
  local slot = k % 28
  local h = 8 + math.floor(slot / 2)
  local m = (slot % 2) * 30
  local y, mo, d = tomorrow:match("(%d+)-(%d+)-(%d+)")
  -- Each run starts on a day of its own (FIRST_DAY), so no run meets an earlier one's bookings.
  local first = tonumber(os.getenv("FIRST_DAY") or "0")
  local t = os.time({year = tonumber(y), month = tonumber(mo), day = tonumber(d) + first + day, hour = 12})
  local date = os.date("%Y-%m-%d", t)
  local s = string.format("%sT%02d:%02d:00+08:00", date, h, m)
  local e = string.format("%sT%02d:%02d:00+08:00", date, h + (m == 30 and 1 or 0), (m + 30) % 60)
  local body = string.format('{"instrument_id": %d, "kind": "machine_time", "starts_at": "%s", "ends_at": "%s"}', i, s, e)
  return wrk.format("POST", "/api/v1/reservations", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
LUA

# Shared SQL: open every instrument, and a million past bookings spread over 2 years.
prepare_sql() {
  local backend=$1
  local ts_from ts_step
  echo "UPDATE instruments SET share_mode = 'external', run_status = 'normal';"
  echo "DELETE FROM booking_settings;"
  echo "INSERT INTO booking_settings (instrument_id, modes, approval_required, slot_minutes, min_minutes, max_minutes, horizon_days, notice_minutes, updated_at, max_active_per_user, opening_hours)
        SELECT id, 'both', FALSE, 30, 30, 480, 60, 0, CURRENT_TIMESTAMP, 100, '' FROM instruments;" | if [[ $backend == sqlite ]]; then sed 's/FALSE/0/'; else cat; fi
  if [[ $backend == postgres ]]; then
    echo "INSERT INTO reservations (instrument_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at)
          SELECT g % 1940 + 1, 4, 'machine_time', 'completed',
                 date_trunc('hour', now() - interval '2 days') - (g / 1940) * interval '1 hour',
                 date_trunc('hour', now() - interval '2 days') - (g / 1940) * interval '1 hour' + interval '50 minutes',
                 'academic', 0, now(), now()
          FROM generate_series(0, 999999) g;
          VACUUM ANALYZE;"
  else
    echo "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 999999)
          INSERT INTO reservations (instrument_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at)
          SELECT n % 1940 + 1, 4, 'machine_time', 'completed',
                 strftime('%Y-%m-%d %H:00:00', 'now', '-2 days', '-' || (n / 1940) || ' hours'),
                 strftime('%Y-%m-%d %H:50:00', 'now', '-2 days', '-' || (n / 1940) || ' hours'),
                 'academic', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM g;
          ANALYZE;"
  fi
}

only=${ONLY:-}
runs() { [[ -z $only || " $only " == *" $1 "* ]]; }

bench() {
  local backend=$1 url=$2 sql=$3 loaded=$4
  echo "== $backend"
  if [[ $loaded == yes ]]; then
    # A kept database: take back what earlier runs booked (what is not finished, but the
    # demo's bookings that carry a voucher).
    echo "DELETE FROM mail_outbox;
          CREATE TEMP TABLE taken AS SELECT id FROM reservations WHERE status <> 'completed'
            AND id NOT IN (SELECT reservation_id FROM voucher_uses WHERE reservation_id IS NOT NULL);
          DELETE FROM reservation_history WHERE reservation_id IN (SELECT id FROM taken);
          DELETE FROM reservations WHERE id IN (SELECT id FROM taken);" | $sql
  else
    DATABASE_URL=$url $bin seed demo > /dev/null
    local t0=$(date +%s.%N)
    prepare_sql "$backend" | $sql
    echo "1,000,000 past reservations loaded in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
  fi
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false YIQI__MAIL__SENDER_ENABLED=false \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.01; done
  export TOKEN=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"email":"researcher@yiqi.demo","password":"yiqi-demo-2026"}' \
    "http://127.0.0.1:$port/api/v1/auth/login" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  local from to week
  from=$(TZ=Asia/Shanghai date -d tomorrow +%Y-%m-%dT00:00:00%%2B08:00)
  to=$(TZ=Asia/Shanghai date -d '+8 days' +%Y-%m-%dT00:00:00%%2B08:00)
  week=$(TZ=Asia/Shanghai date -d '-3 days' +%G-W%V)
  if runs availability; then
  echo "-- GET availability of one instrument, 7 days"
  wrk -t2 -c$conns -d"$duration" --latency "http://127.0.0.1:$port/api/v1/instruments/5/availability?from=$from&to=$to" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx'
  fi
  if runs grid; then
  echo "-- GET unit week grid (unit 1), the week of the past bookings"
  wrk -t2 -c$conns -d"$duration" --latency "http://127.0.0.1:$port/api/v1/units/1/schedule?week=$week" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx'
  fi
  local first_day=0
  for c in $book_conns; do
    if runs booking; then
    echo "-- POST /api/v1/reservations, distinct instruments and slots, $c connection(s)"
    FIRST_DAY=$first_day wrk -t1 -c$c -d"$duration" --latency -s "$work/book.lua" "http://127.0.0.1:$port" \
      | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx'
    first_day=$((first_day + 20))
    fi
    # The same statements without HTTP, Rust or diesel, right after, with as many clients.
    if [[ $backend == postgres ]] && runs pgbench; then
    for script in pgbench-booking pgbench-yiqi-booking; do
    echo "-- pgbench, benches/$script.sql, $c client(s)"
    pgbench -h 127.0.0.1 -U postgres -n -c$c -j$(( c < 2 ? 1 : 2 )) -T${duration%s} -M prepared \
      -f benches/$script.sql "$pgdb" 2>&1 | grep -E 'tps|latency average|failed'
    done
    fi
  done
  kill $server; wait $server 2>/dev/null || true
  server=
}

keep=${KEEP:-}
if [[ $which == sqlite || $which == both ]]; then
  dir=${keep:-$work}
  mkdir -p "$dir"
  loaded=no
  [[ -n $keep && -s $dir/booking.db ]] && loaded=yes
  bench sqlite "sqlite://$dir/booking.db" "sqlite3 $dir/booking.db" $loaded
fi
if [[ $which == postgres || $which == both ]]; then
  loaded=no
  if [[ -n $keep ]]; then
    db=yiqi_booking_bench
    if psql -q -h 127.0.0.1 -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      loaded=yes
    else
      psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
    fi
  else
    db=yiqi_booking_$$
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  fi
  pgdb=$db
  bench postgres "postgres://postgres@127.0.0.1:5432/$db" "psql -q -h 127.0.0.1 -U postgres -d $db" $loaded

  [[ -n $keep ]] || psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"
fi
