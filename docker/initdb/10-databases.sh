#!/bin/sh
# One database per service, each owned by its own login (scram-sha-256 passwords from the
# environment) and closed to every other: a compromised service reaches its own data only.
set -eu
for service in dispute notification refund payments; do
  var=$(echo "$service" | tr a-z A-Z)_DB_PASSWORD
  password=$(printenv "$var") || { echo "$var is required" >&2; exit 1; }
  psql -v ON_ERROR_STOP=1 --username postgres --set=name="$service" --set=pw="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'pw';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
