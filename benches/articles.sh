#!/usr/bin/env bash
# The home page and the article lists under many articles (run by hand, not in CI).
#   bash benches/articles.sh [sqlite|postgres|both] [ARTICLES]
# Seeds the demo platform, adds ARTICLES articles (default 10,000: every kind, the platform's,
# sub-platforms' and units'; most published, some sent by units and waiting, some drafts, a few
# pinned, a few ended), then runs wrk (16 connections, 2 threads) on the home page, a list
# page, a deep page of a list, a unit's page and the Atom feed. Prints p50/p90/p99 and
# requests per second.
# Needs wrk (apt-get install wrk), sqlite3 and, for postgres, psql and a server at
# 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
count=${2:-10000}
duration=${DURATION:-10s}
port=${PORT:-18083}
bin=target/release/yiqi
cargo build --release -q
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

# ARTICLES rows as SQL both backends read, dated over the last three years before 2026-12-01.
fill_sql() {
  cat <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count)
INSERT INTO articles (kind, scope, sub_platform_id, unit_id, title, summary, body, status,
  publish_at, ends_at, pinned, event_place, author_id, published_at, created_at, updated_at,
  announced_at)
SELECT
  CASE i % 5 WHEN 0 THEN 'news' WHEN 1 THEN 'notice' WHEN 2 THEN 'policy' WHEN 3 THEN 'training'
    ELSE 'case' END,
  CASE WHEN i % 3 = 0 THEN 'unit' WHEN i % 7 = 0 THEN 'sub_platform' ELSE 'platform' END,
  CASE WHEN i % 3 <> 0 AND i % 7 = 0 THEN 1 + i % 13 END,
  CASE WHEN i % 3 = 0 THEN 1 + i % 72 END,
  '测试文章第 ' || i || ' 号：大型科研仪器开放共享工作动态',
  '这是一篇用于测量首页和列表速度的文章摘要，长度与真实的通知相当。',
  '## 正文\n\n测试正文，包含 **Markdown** 格式、列表和链接。\n\n- 第一项\n- 第二项\n',
  CASE WHEN i % 20 = 0 THEN 'draft' WHEN i % 3 = 0 AND i % 2 = 0 THEN 'submitted'
    ELSE 'published' END,
  TIMESTAMP '2026-12-01 00:00:00' - (i * INTERVAL_MINUTES),
  CASE WHEN i % 50 = 0 THEN TIMESTAMP '2026-01-01 00:00:00' END,
  i % 997 = 0, '', u.id,
  TIMESTAMP '2026-12-01 00:00:00' - (i * INTERVAL_MINUTES),
  TIMESTAMP '2026-12-01 00:00:00' - (i * INTERVAL_MINUTES),
  TIMESTAMP '2026-12-01 00:00:00' - (i * INTERVAL_MINUTES),
  TIMESTAMP '2026-12-01 00:00:00' - (i * INTERVAL_MINUTES)
FROM users u, n
WHERE u.email = 'admin@yiqi.demo';
SQL
}

page() { # name, path
  echo "-- $1: GET $2"
  wrk -t2 -c16 -d"$duration" --latency "http://127.0.0.1:$port$2" \
    | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
}

bench() {
  local backend=$1 url=$2
  echo "== $backend, $count articles"
  DATABASE_URL=$url $bin seed demo > /dev/null
  case $backend in
    sqlite)
      # Minutes as SQLite's datetime modifiers; no TIMESTAMP literals.
      fill_sql | sed -E \
        -e "s/TIMESTAMP '([^']*)' - \(i \* INTERVAL_MINUTES\)/datetime('\1', '-' || (i * 150) || ' minutes')/g" \
        -e "s/TIMESTAMP '/'/g" | sqlite3 "$work/bench.db" ;;
    postgres)
      fill_sql | sed -e "s/INTERVAL_MINUTES/INTERVAL '150 minutes'/g" | psql -q "$url" ;;
  esac
  DATABASE_URL=$url YIQI__LOG__FILTER=warn YIQI__DEMO__SEED_ON_EMPTY=false \
    YIQI__SEARCH__INDEX_DIR="$work/index-$backend" \
    $bin serve --bind 127.0.0.1:$port > "$work/$backend.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.05; done
  curl -sf "http://127.0.0.1:$port/api/v1/articles?per_page=1" \
    | sed -E 's/.*"total":([0-9]+).*/   published platform-wide: \1/'
  echo
  page "home page" "/"
  page "notices, page 1" "/articles?kind=notice"
  page "notices, page 50" "/articles?kind=notice&page=50"
  page "a unit's page" "/units/3"
  page "Atom feed" "/feeds/all.atom"
  kill $server
  wait $server 2>/dev/null || true
  server=
}

if [[ $which == sqlite || $which == both ]]; then
  bench sqlite "sqlite://$work/bench.db"
fi
if [[ $which == postgres || $which == both ]]; then
  db="yiqi_bench_articles_$$"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
  bench postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE $db"
fi
