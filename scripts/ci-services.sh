#!/usr/bin/env bash
# Starts what the test suite needs besides Python: a local PostgreSQL with a test role and
# database. Idempotent and quiet: on a machine where it already runs it only checks.
# The tests read REDACTOR_TEST_POSTGRES_URL (see docs/api.md); this prints nothing on success.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install-system-packages.sh" "$here/system-packages-test.txt"   # postgresql is a test package

role="${REDACTOR_TEST_PG_ROLE:-redactor_test}"
password="${REDACTOR_TEST_PG_PASSWORD:-redactor_test}"
database="${REDACTOR_TEST_PG_DB:-redactor_test}"

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters --no-header | awk -v v="$version" '$1 == v && $2 == "main" {found = 1} END {exit !found}'; then
  pg_createcluster "$version" main >/dev/null
fi
port="$(pg_lsclusters --no-header | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')"
if ! pg_lsclusters --no-header | awk -v v="$version" '$1 == v && $2 == "main" {exit ($4 != "online")}'; then
  pg_ctlcluster "$version" main start
fi
for _ in $(seq 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$port" || { echo "ci-services: PostgreSQL did not start" >&2; exit 1; }

exists() { as_postgres psql -p "$port" -tAc "$1" | grep -q 1; }
if ! exists "SELECT 1 FROM pg_roles WHERE rolname = '$role'"; then
  as_postgres psql -p "$port" -q -c "CREATE ROLE $role LOGIN PASSWORD '$password'"
fi
if ! exists "SELECT 1 FROM pg_database WHERE datname = '$database'"; then
  as_postgres createdb -p "$port" -O "$role" "$database"
fi
if [ "$port" != "5432" ]; then
  echo "ci-services: PostgreSQL listens on port $port; set REDACTOR_TEST_POSTGRES_URL accordingly" >&2
fi
