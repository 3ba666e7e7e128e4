-- xueji on PostgreSQL: the owner role and the application role (issue #6 §3.8; 等保 8.1.4.3, 第23条).
--
-- The application connects as a role that owns nothing, so it can neither rewrite the audit trail nor lift
-- the triggers that keep it append-only (only a table's owner can `ALTER TABLE … DISABLE TRIGGER`).
-- Migrations run as the owner role. Idempotent: run it again after changing a variable.
--
--   psql -U postgres -v db=xueji -f deploy/postgres/roles.sql                 # production: roles + database
--   psql -U postgres -v db=xueji -v app_password=… -v owner_password=… -f …   # also set the passwords
--   psql -U postgres -v createdb=on -f deploy/postgres/roles.sql              # CI: roles, owner may CREATEDB
--
-- Variables (psql -v): owner (default xueji_owner), app (default xueji_app), db (database to create and
-- prepare; omitted → roles only), app_password / owner_password (omitted → unchanged; use \password or a
-- password manager rather than shell history), createdb=on (the owner may create databases: the test suite
-- creates its own test database).
--
-- Then, with DATABASE_URL=postgres://xueji_app@host/xueji and
-- XUEJI_MIGRATE_DATABASE_URL=postgres://xueji_owner@host/xueji, `manage.py migrate` runs as the owner and
-- grants the application its privileges on every table (`manage.py db_roles` prints that SQL,
-- `manage.py db_roles --apply` applies it again): SELECT/INSERT/UPDATE/DELETE on ordinary tables, only
-- SELECT/INSERT on the append-only tables, no TRUNCATE, REFERENCES or TRIGGER anywhere, USAGE on sequences.
\set ON_ERROR_STOP on
\if :{?owner}
\else
  \set owner xueji_owner
\endif
\if :{?app}
\else
  \set app xueji_app
\endif

SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', :'app')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
-- An existing application role is brought back to owning nothing and inheriting nothing from the owner.
SELECT format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', :'app') \gexec
SELECT format('REVOKE %I FROM %I', :'owner', :'app') WHERE pg_has_role(:'app', :'owner', 'MEMBER') \gexec

\if :{?createdb}
  SELECT format('ALTER ROLE %I CREATEDB', :'owner') \gexec
\endif
\if :{?app_password}
  SELECT format('ALTER ROLE %I PASSWORD %L', :'app', :'app_password') \gexec
\endif
\if :{?owner_password}
  SELECT format('ALTER ROLE %I PASSWORD %L', :'owner', :'owner_password') \gexec
\endif

\if :{?db}
  SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' TEMPLATE template0', :'db', :'owner')
   WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
  SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'owner') \gexec
  SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
  SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'db', :'app') \gexec
  \connect :db
  -- The schema is the owner's; nobody else creates objects in it (PostgreSQL < 15 let PUBLIC do so).
  SELECT format('ALTER SCHEMA public OWNER TO %I', :'owner') \gexec
  REVOKE CREATE ON SCHEMA public FROM PUBLIC;
  SELECT format('REVOKE CREATE ON SCHEMA public FROM %I', :'app') \gexec
  SELECT format('GRANT USAGE ON SCHEMA public TO %I', :'app') \gexec
  -- Tables and sequences the owner creates later (every migration) are usable by the application at once;
  -- `migrate` then takes UPDATE/DELETE back on the append-only tables (manage.py db_roles).
  SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
                'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', :'owner', :'app') \gexec
  SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
                'GRANT USAGE, SELECT ON SEQUENCES TO %I', :'owner', :'app') \gexec
\endif
