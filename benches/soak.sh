#!/usr/bin/env bash
# A soak: a realistic mix at a steady rate for a long time (run by hand, not in CI).
#   bash benches/soak.sh [sqlite|postgres|both]      (MINUTES=30, SEGMENT=5, BIN=)
# Seeds the demo, opens every instrument for automatic booking, adds 20,000 past reservations,
# then runs four wrk clients side by side against the release binary for MINUTES, in segments
# of SEGMENT minutes (each segment's figures apart, so a drift shows):
#   - browsing, ~140 req/s: home, the catalogue's pages, instrument pages, the list API;
#   - availability, ~40 req/s: one instrument's week (a random one each time);
#   - booking, ~10 req/s: POST /api/v1/reservations, a fresh slot each time;
#   - staff pages, ~10 req/s: the approval queue page and the unit's week grid (unit admin);
# each connection pausing 100 ms between requests (wrk's delay hook), so the rate is steady.
# Every minute it samples the server's resident memory, its open files and the database's
# size; it prints each client's rate and p50/p90/p99 per segment, and the samples.
# Needs wrk, sqlite3, and for postgres a server at 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
minutes=${MINUTES:-30}
segment=${SEGMENT:-5}
port=${PORT:-18084}
bin=${BIN:-target/release/yiqi}
[[ -n ${BIN:-} ]] || cargo build --release -q
work=$(mktemp -d)
trap 'kill $server $sampler 2>/dev/null || true; rm -rf "$work"' EXIT
server=
sampler=

tomorrow=$(TZ=Asia/Shanghai date -d tomorrow +%Y-%m-%d)
from="${tomorrow}T00:00:00%2B08:00"
to="$(date -d "$tomorrow +7 days" +%Y-%m-%d)T00:00:00%2B08:00"
week=$(TZ=Asia/Shanghai date -d tomorrow +%G-W%V)

cat > "$work/browse.lua" <<'LUA'
math.randomseed(os.time())
delay = function() return 100 end
request = function()
  local r = math.random(100)
  local path
  if r <= 10 then path = "/"
  elseif r <= 40 then path = "/instruments?page=" .. math.random(1, 50)
  elseif r <= 80 then path = "/instruments/" .. math.random(1, 1940)
  else path = "/api/v1/instruments?per_page=20&page=" .. math.random(1, 90) end
  return wrk.format("GET", path)
end
LUA
cat > "$work/availability.lua" <<LUA
math.randomseed(os.time() + 1)
delay = function() return 100 end
request = function()
  return wrk.format("GET", "/api/v1/instruments/" .. math.random(1, 1940) .. "/availability?from=$from&to=$to")
end
LUA
cat > "$work/book.lua" <<LUA
local n = 0
delay = function() return 100 end
request = function()
  -- Instrument 1..1940 in turn; each pass moves every instrument to its next 30-minute slot.
  local i = n % 1940 + 1
  local k = math.floor(n / 1940)
  n = n + 1
  local y, mo, d = ("$tomorrow"):match("(%d+)-(%d+)-(%d+)")
  -- Each segment books days of its own (FIRST_DAY), so no segment meets an earlier one's slots.
  local first = tonumber(os.getenv("FIRST_DAY") or "0")
  local t = os.time({year = tonumber(y), month = tonumber(mo), day = tonumber(d) + first + math.floor(k / 20), hour = 12})
  local slot = k % 20
  local h, m = 8 + math.floor(slot / 2), (slot % 2) * 30
  local s = string.format("%sT%02d:%02d:00+08:00", os.date("%Y-%m-%d", t), h, m)
  local e = string.format("%sT%02d:%02d:00+08:00", os.date("%Y-%m-%d", t), h + (m == 30 and 1 or 0), (m + 30) % 60)
  local body = string.format('{"instrument_id": %d, "kind": "machine_time", "starts_at": "%s", "ends_at": "%s"}', i, s, e)
  return wrk.format("POST", "/api/v1/reservations", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
LUA
cat > "$work/staff.lua" <<LUA
local n = 0
delay = function() return 100 end
request = function()
  n = n + 1
  local token = os.getenv("STAFF_TOKEN")
  if n % 2 == 0 then
    return wrk.format("GET", "/manage/reservations", {["Cookie"] = "yiqi_access=" .. token})
  end
  return wrk.format("GET", "/api/v1/units/1/schedule?week=$week", {["Authorization"] = "Bearer " .. token})
end
LUA

prepare_sql() {
  local backend=$1
  echo "UPDATE instruments SET share_mode = 'external', run_status = 'normal';"
  echo "DELETE FROM booking_settings;"
  echo "INSERT INTO booking_settings (instrument_id, modes, approval_required, slot_minutes, min_minutes, max_minutes, horizon_days, notice_minutes, updated_at, max_active_per_user, opening_hours)
        SELECT id, 'both', FALSE, 30, 30, 480, 90, 0, CURRENT_TIMESTAMP, 100, '' FROM instruments;" | if [[ $backend == sqlite ]]; then sed 's/FALSE/0/'; else cat; fi
  if [[ $backend == postgres ]]; then
    echo "INSERT INTO reservations (instrument_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at)
          SELECT g % 1940 + 1, 4, 'machine_time', 'completed',
                 date_trunc('hour', now() - interval '2 days') - (g / 1940) * interval '1 hour',
                 date_trunc('hour', now() - interval '2 days') - (g / 1940) * interval '1 hour' + interval '50 minutes',
                 'academic', 0, now(), now()
          FROM generate_series(0, 19999) g;
          VACUUM ANALYZE;"
  else
    echo "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 19999)
          INSERT INTO reservations (instrument_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at)
          SELECT n % 1940 + 1, 4, 'machine_time', 'completed',
                 strftime('%Y-%m-%d %H:00:00', 'now', '-2 days', '-' || (n / 1940) || ' hours'),
                 strftime('%Y-%m-%d %H:50:00', 'now', '-2 days', '-' || (n / 1940) || ' hours'),
                 'academic', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM g;
          ANALYZE;"
  fi
}

token_of() {
  curl -sf -H 'Content-Type: application/json' -d "{\"email\":\"$1\",\"password\":\"yiqi-demo-2026\"}" \
    "http://127.0.0.1:$port/api/v1/auth/login" | sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}

soak() {
  local backend=$1 url=$2 sql=$3 size=$4
  echo "== $backend, $minutes minutes in segments of $segment"
  DATABASE_URL=$url $bin seed demo > /dev/null
  prepare_sql "$backend" | $sql
  # Tokens outlive the run; the mail sender delivers to files (the demo's default).
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false \
    YIQI__AUTH__ACCESS_TTL_SECS=86400 YIQI__AUTH__LOGIN_MAX_FAILURES_PER_ADDRESS=1000 \
    YIQI__MAIL__FILE_DIR="$work/mail-$backend" YIQI__SEARCH__INDEX_DIR="$work/search-$backend" \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.05; done
  export TOKEN STAFF_TOKEN
  TOKEN=$(token_of researcher@yiqi.demo)
  STAFF_TOKEN=$(token_of unit-admin@yiqi.demo)
  local samples="$work/$backend.samples"
  echo "minute rss_mib open_files db_mib" > "$samples"
  (
    m=0
    while kill -0 $server 2>/dev/null; do
      rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$server/status)
      fds=$(ls /proc/$server/fd | wc -l)
      echo "$m $rss $fds $($size)" >> "$samples"
      m=$((m + 1))
      sleep 60
    done
  ) &
  sampler=$!
  local base="http://127.0.0.1:$port" n=0
  while (( n * segment < minutes )); do
    export FIRST_DAY=$((n * 3))
    wrk -t1 -c14 -d${segment}m --latency -s "$work/browse.lua" "$base" > "$work/browse.out" &
    local w1=$!
    wrk -t1 -c4 -d${segment}m --latency -s "$work/availability.lua" "$base" > "$work/availability.out" &
    local w2=$!
    wrk -t1 -c1 -d${segment}m --latency -s "$work/book.lua" "$base" > "$work/booking.out" &
    local w3=$!
    wrk -t1 -c1 -d${segment}m --latency -s "$work/staff.lua" "$base" > "$work/staff.out" &
    local w4=$!
    wait $w1 $w2 $w3 $w4
    n=$((n + 1))
    echo "-- minutes $(( (n - 1) * segment ))–$(( n * segment ))"
    for client in browse availability booking staff; do
      printf '%-13s' "$client"
      awk '/Requests\/sec/ {r = $2} /^ +50%/ {p50 = $2} /^ +90%/ {p90 = $2} /^ +99%/ {p99 = $2}
           /Non-2xx/ {bad = $NF} /Socket errors/ {err = $0}
           END {printf "%8.1f req/s  p50 %-9s p90 %-9s p99 %-9s non-2xx %s %s\n", r, p50, p90, p99, bad + 0, err}' \
        "$work/$client.out"
    done
  done
  # The last sample, at the end of the run.
  echo "end $(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$server/status) $(ls /proc/$server/fd | wc -l) $($size)" >> "$samples"
  kill $sampler 2>/dev/null || true
  sampler=
  column -t "$samples"
  kill $server; wait $server 2>/dev/null || true
  server=
}

if [[ $which == sqlite || $which == both ]]; then
  file=$work/soak.db
  soak sqlite "sqlite://$file" "sqlite3 $file" \
    "eval du -cm $file $file-wal 2>/dev/null | tail -1 | cut -f1"
fi
if [[ $which == postgres || $which == both ]]; then
  db=yiqi_soak_$$
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  soak postgres "postgres://postgres@127.0.0.1:5432/$db" "psql -q -h 127.0.0.1 -U postgres -d $db" \
    "eval psql -h 127.0.0.1 -U postgres -d $db -Atc 'SELECT pg_database_size(current_database()) / 1048576'"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"
fi
