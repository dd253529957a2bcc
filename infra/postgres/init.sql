-- The compose PostgreSQL's databases and roles, run once when its volume is empty (by init.sh, which
-- passes each role's password from the environment as a psql variable). The same design as
-- `orderflow up` (infra/cli/src/runner/postgres-roles.ts): per service database a login role
-- `<database>_owner`, with no other attribute, owning it; CONNECT and TEMPORARY revoked from PUBLIC, so
-- no other role (superusers aside) can even connect. Services run their own migrations at start, as that
-- owner. (No operator role here: the CLI cannot reach this server, whose port is not published.)
\set ON_ERROR_STOP on

CREATE ROLE orders_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'order_password';
COMMENT ON ROLE orders_owner IS 'orderflow: owner of database orders';
CREATE DATABASE orders OWNER orders_owner;
REVOKE ALL ON DATABASE orders FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE orders TO orders_owner;

CREATE ROLE inventory_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'inventory_password';
COMMENT ON ROLE inventory_owner IS 'orderflow: owner of database inventory';
CREATE DATABASE inventory OWNER inventory_owner;
REVOKE ALL ON DATABASE inventory FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE inventory TO inventory_owner;

CREATE ROLE billing_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'billing_password';
COMMENT ON ROLE billing_owner IS 'orderflow: owner of database billing';
CREATE DATABASE billing OWNER billing_owner;
REVOKE ALL ON DATABASE billing FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE billing TO billing_owner;

CREATE ROLE saga_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'saga_password';
COMMENT ON ROLE saga_owner IS 'orderflow: owner of database saga';
CREATE DATABASE saga OWNER saga_owner;
REVOKE ALL ON DATABASE saga FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE saga TO saga_owner;
