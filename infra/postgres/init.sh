#!/bin/sh
# Run once by the postgres image's entrypoint (from /docker-entrypoint-initdb.d) when its volume is
# empty: init.sql with each service role's password from the environment (compose.yaml passes them).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --no-psqlrc \
  -v order_password="$ORDER_DB_PASSWORD" \
  -v inventory_password="$INVENTORY_DB_PASSWORD" \
  -v billing_password="$BILLING_DB_PASSWORD" \
  -v saga_password="$SAGA_DB_PASSWORD" \
  -f /orderflow/init.sql
