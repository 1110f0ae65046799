--
-- tam_owner: ownership of tables of the widecol access method follows the
-- relation: ALTER TABLE ... OWNER TO and REASSIGN OWNED move the engine
-- table's ownership record too, so the new owner's relations may attach
-- to its data and the old owner's may not; errors name the table as a
-- "table", not a "foreign table"; one REASSIGN OWNED moves foreign tables
-- and tables of the access method alike.
-- Own keyspace (server tam_owner_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('tam_owner_t');
DROP SCHEMA IF EXISTS tam_owner_t CASCADE;
DROP ROLE IF EXISTS regress_tam_alice;
DROP ROLE IF EXISTS regress_tam_bob;
RESET client_min_messages;

CREATE SCHEMA tam_owner_t;
SET search_path = tam_owner_t, public, widecol;
CREATE SERVER tam_owner_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE ROLE regress_tam_alice;
CREATE ROLE regress_tam_bob;
GRANT USAGE, CREATE ON SCHEMA tam_owner_t TO regress_tam_alice, regress_tam_bob;
GRANT USAGE ON FOREIGN SERVER tam_owner_t TO regress_tam_alice, regress_tam_bob;

SET ROLE regress_tam_alice;
CREATE TABLE kept (k int PRIMARY KEY, v text) USING widecol WITH (keyspace = 'tam_owner_t');
INSERT INTO kept VALUES (1, 'alice');
RESET ROLE;

-- bob's table cannot attach to alice's data (the error says "table")
SET ROLE regress_tam_bob;
SELECT * FROM widecol_try($$CREATE TABLE bob_view (k int PRIMARY KEY, v text) USING widecol
    WITH (keyspace = 'tam_owner_t', table_name = 'kept')$$);
RESET ROLE;

-- REASSIGN OWNED gives bob the relation and the engine data
REASSIGN OWNED BY regress_tam_alice TO regress_tam_bob;
SELECT relowner::regrole FROM pg_class WHERE oid = 'kept'::regclass;
SET ROLE regress_tam_bob;
INSERT INTO kept VALUES (2, 'bob');
SELECT * FROM kept WHERE k IN (1, 2) ORDER BY k;
CREATE FOREIGN TABLE bob_alias (k int, v text) SERVER tam_owner_t
    OPTIONS (primary_key 'k', table_name 'kept');
SELECT * FROM bob_alias WHERE k = 2;
DROP FOREIGN TABLE bob_alias;
RESET ROLE;
SET ROLE regress_tam_alice;
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE alice_alias (k int, v text) SERVER tam_owner_t
    OPTIONS (primary_key 'k', table_name 'kept')$$);
RESET ROLE;

-- ALTER TABLE ... OWNER TO does the same
ALTER TABLE kept OWNER TO regress_tam_alice;
SET ROLE regress_tam_alice;
CREATE FOREIGN TABLE alice_alias (k int, v text) SERVER tam_owner_t
    OPTIONS (primary_key 'k', table_name 'kept');
SELECT * FROM alice_alias WHERE k = 1;
DROP FOREIGN TABLE alice_alias;
RESET ROLE;

-- the key errors of a USING widecol table name a table
SELECT * FROM widecol_try($$CREATE TABLE bad (a int, b int) USING widecol
    WITH (keyspace = 'tam_owner_t', primary_key = '(a)', clustering_order = 'c DESC')$$);
GRANT SELECT ON kept TO regress_tam_bob;
SET ROLE regress_tam_bob;
SELECT * FROM widecol_try($$SELECT widecol.scrub('kept')$$);
RESET ROLE;

-- one REASSIGN OWNED moves a foreign table and a USING widecol table of
-- the same role alike, each with its engine table's ownership record
SET ROLE regress_tam_alice;
CREATE TABLE mixed_tam (k int PRIMARY KEY, v text) USING widecol WITH (keyspace = 'tam_owner_t');
CREATE FOREIGN TABLE mixed_ft (k int, v text) SERVER tam_owner_t OPTIONS (primary_key 'k');
INSERT INTO mixed_tam VALUES (1, 'tam');
INSERT INTO mixed_ft VALUES (1, 'foreign');
RESET ROLE;
REASSIGN OWNED BY regress_tam_alice TO regress_tam_bob;
SELECT relname, relkind, relowner::regrole FROM pg_class
 WHERE relname IN ('mixed_tam', 'mixed_ft') AND relnamespace = 'tam_owner_t'::regnamespace
 ORDER BY relname;
SET ROLE regress_tam_bob;
CREATE FOREIGN TABLE bob_tam (k int, v text) SERVER tam_owner_t
    OPTIONS (primary_key 'k', table_name 'mixed_tam');
CREATE FOREIGN TABLE bob_ft (k int, v text) SERVER tam_owner_t
    OPTIONS (primary_key 'k', table_name 'mixed_ft');
SELECT * FROM bob_tam;
SELECT * FROM bob_ft;
DROP FOREIGN TABLE bob_tam, bob_ft;
INSERT INTO mixed_tam VALUES (2, 'bob');
INSERT INTO mixed_ft VALUES (2, 'bob');
RESET ROLE;
SET ROLE regress_tam_alice;
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE alice_tam (k int, v text) SERVER tam_owner_t
    OPTIONS (primary_key 'k', table_name 'mixed_tam')$$);
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE alice_ft (k int, v text) SERVER tam_owner_t
    OPTIONS (primary_key 'k', table_name 'mixed_ft')$$);
RESET ROLE;

DROP OWNED BY regress_tam_alice, regress_tam_bob;
DROP ROLE regress_tam_alice;
DROP ROLE regress_tam_bob;
SET client_min_messages = warning;
DROP SERVER tam_owner_t CASCADE;
DROP SCHEMA tam_owner_t CASCADE;
