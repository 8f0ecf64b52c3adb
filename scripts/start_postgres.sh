#!/usr/bin/env bash
# Start a local PostgreSQL on loopback for the multi-worker search tests and print the URL.
# Used by .ci/run; run it by hand to enable those tests locally:
#   export NAS_TEST_POSTGRES_URL=$(bash scripts/start_postgres.sh)
set -euo pipefail
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
if ! command -v pg_ctlcluster >/dev/null; then
  $sudo apt-get install -y -q postgresql >/dev/null \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q postgresql >/dev/null; }
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  $sudo pg_createcluster "$version" main >/dev/null
fi
$sudo pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
for _ in $(seq 30); do
  as_pg psql -qtAc "select 1" >/dev/null 2>&1 && break
  sleep 1
done
as_pg psql -qtAc "select 1 from pg_roles where rolname='nas'" | grep -q 1 \
  || as_pg psql -qc "create role nas login password 'nas' createdb" >/dev/null
as_pg psql -qtAc "select 1 from pg_database where datname='nas_test'" | grep -q 1 \
  || as_pg createdb -O nas nas_test
echo "postgresql+psycopg2://nas:nas@127.0.0.1:5432/nas_test"
