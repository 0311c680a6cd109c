#!/usr/bin/env bash
# Does the password-reset answer tell a registered address from an unknown one by its timing?
# Run by hand, not in CI:
#   bash benches/reset_timing.sh [sqlite|postgres|both]     # N=4000 requests of each kind
# Seeds the demo, starts the release binary with the mail limits lifted, and sends
# POST /api/v1/auth/password-reset alternately for a demo account and for an address without
# one, over one keep-alive connection, timing each answer on the client. Prints the median and
# p90 of each and their difference.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
n=${N:-4000}
port=${PORT:-18083}
bin=target/release/yiqi
cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

cat > "$work/time.py" <<'PY'
import http.client, json, statistics, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
times = {"known": [], "unknown": []}
bodies = {"known": json.dumps({"email": "researcher@yiqi.demo"}),
          "unknown": json.dumps({"email": "nobody-at-all@example.cn"})}
for i in range(2 * n + 200):
    kind = "known" if i % 2 == 0 else "unknown"
    t = time.perf_counter()
    conn.request("POST", "/api/v1/auth/password-reset", bodies[kind],
                 {"Content-Type": "application/json"})
    res = conn.getresponse(); res.read()
    dt = (time.perf_counter() - t) * 1000
    assert res.status == 202, res.status
    if i >= 200:  # the first 100 of each warm the server up
        times[kind].append(dt)
for kind, ts in times.items():
    ts.sort()
    print(f"{kind:8} n={len(ts)} median {statistics.median(ts):.3f} ms  p90 {ts[int(len(ts)*0.9)]:.3f} ms")
diff = statistics.median(times["known"]) - statistics.median(times["unknown"])
print(f"median difference (known - unknown): {diff*1000:.1f} µs")
PY

bench() {
  local backend=$1 url=$2
  echo "== $backend"
  DATABASE_URL=$url $bin seed demo > /dev/null
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false \
    YIQI__AUTH__MAIL_MAX_PER_EMAIL=100000000 YIQI__AUTH__MAIL_MAX_PER_ADDRESS=100000000 \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.01; done
  python3 "$work/time.py" "$port" "$n"
  kill $server; wait $server 2>/dev/null || true
  server=
}

if [[ $which == sqlite || $which == both ]]; then
  bench sqlite "sqlite://$work/reset.db"
fi
if [[ $which == postgres || $which == both ]]; then
  db=yiqi_reset_$$
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  bench postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db"
fi
