--
-- udts: CQL user-defined types over PostgreSQL composite types.
--   * cql_type 'address' (the column's composite type): one cell per
--     field, so `SET home.city = ...` with the whole primary key writes that
--     field alone, without a read, and field updates of two writers both
--     survive (here two writers with crossing write timestamps);
--   * cql_type 'frozen<address>' and a composite without cql_type: one
--     cell, a field update reads the row and writes the whole value back;
--   * a whole value replaces every field (a tombstone and the fields);
--   * values written as one cell before cql_type was added read back as
--     they were;
--   * the same on a table USING widecol (cql_types 'home address').
-- Own keyspace (server udts_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('udts_t');
DROP SCHEMA IF EXISTS udts_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA udts_t;
SET search_path = udts_t, public, widecol;

CREATE SERVER udts_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

CREATE TYPE address AS (street text, city text, zip_code text);

CREATE FOREIGN TABLE user_profiles (
    user_id int,
    name    text,
    home    address OPTIONS (cql_type 'address'),
    work    address OPTIONS (cql_type 'frozen<address>'),
    billing address
) SERVER udts_t OPTIONS (primary_key 'user_id');

INSERT INTO user_profiles VALUES
    (1, 'Ann', ('1 Main St', 'Springfield', '12345'), ('2 Mill Rd', 'Shelbyville', '99999'),
     ('1 Main St', 'Springfield', '12345')),
    (2, 'Bob', ('5 Elm St', 'Ogdenville', '55555'), NULL, NULL);
SELECT * FROM user_profiles ORDER BY user_id;

-- a field update of a UDT: no read, one field written
EXPLAIN (COSTS OFF) UPDATE user_profiles SET home.city = 'Paris' WHERE user_id = 1;
UPDATE user_profiles SET home.city = 'Paris' WHERE user_id = 1;
SELECT user_id, home, (home).city FROM user_profiles ORDER BY user_id;
-- several fields, a field set to NULL, a field named twice (the last wins)
UPDATE user_profiles SET home.street = '3 Rue Haute', home.zip_code = NULL, name = 'Ann B',
    home.street = '4 Rue Basse' WHERE user_id = 1;
SELECT user_id, name, home FROM user_profiles ORDER BY user_id;
-- a missing row gets the field, as CQL's UPDATE
UPDATE user_profiles SET home.city = 'Lyon' WHERE user_id = 3;
SELECT user_id, name, home, home IS NULL AS home_null FROM user_profiles ORDER BY user_id;
-- a whole value replaces every field; NULL deletes them all
UPDATE user_profiles SET home = ('9 Quai', NULL, '69000') WHERE user_id = 3;
SELECT user_id, home FROM user_profiles WHERE user_id = 3;
UPDATE user_profiles SET home = NULL WHERE user_id = 2;
SELECT user_id, name, home FROM user_profiles WHERE user_id = 2;

-- Two writers update different fields of one value at once: writer A's
-- write of the city carries the later timestamp, writer B's write of the
-- zip code, sent after it, an earlier one (as when B read the row before A
-- wrote).  Both fields survive; a read-modify-write of the whole value by
-- B would put the old city back or lose the zip code.
CREATE FUNCTION write_at(seconds_from_now int) RETURNS boolean LANGUAGE sql AS $$
    SELECT set_config('widecol.write_timestamp',
        ((extract(epoch FROM clock_timestamp()) + seconds_from_now) * 1000000)::bigint::text,
        false) IS NOT NULL $$;
SELECT write_at(1);
INSERT INTO user_profiles (user_id, name, home) VALUES (4, 'Cy', ('7 Oak St', 'Old Town', '00001'));
SELECT write_at(3);
UPDATE user_profiles SET home.city = 'New Town' WHERE user_id = 4;
SELECT write_at(2);
UPDATE user_profiles SET home.zip_code = '00002' WHERE user_id = 4;
RESET widecol.write_timestamp;
SELECT user_id, home FROM user_profiles WHERE user_id = 4;

-- frozen and plain composites stay one cell: a field update reads the row
EXPLAIN (COSTS OFF) UPDATE user_profiles SET work.city = 'Paris' WHERE user_id = 1;
UPDATE user_profiles SET work.city = 'Paris', billing.zip_code = '75001' WHERE user_id = 1;
SELECT user_id, work, billing FROM user_profiles WHERE user_id = 1;
-- a frozen UDT may be a key column
CREATE FOREIGN TABLE users_by_address (
    home address OPTIONS (cql_type 'frozen<address>'), user_id int, name text
) SERVER udts_t OPTIONS (primary_key '(home, user_id)');
INSERT INTO users_by_address VALUES (('1 Main St', 'Springfield', '12345'), 1, 'Ann');
SELECT name FROM users_by_address WHERE home = ('1 Main St', 'Springfield', '12345')::address;

-- Values written as one cell read back the same once cql_type is added;
-- rewrite them once (SET c = c) before field updates, which otherwise
-- replace the old value (a field update does not read it).
ALTER FOREIGN TABLE user_profiles ALTER COLUMN billing OPTIONS (ADD cql_type 'address');
SELECT user_id, billing FROM user_profiles WHERE user_id = 1;
UPDATE user_profiles SET billing = billing WHERE user_id = 1;
UPDATE user_profiles SET billing.city = 'Paris' WHERE user_id = 1;
SELECT user_id, billing FROM user_profiles WHERE user_id = 1;

-- errors
CREATE FOREIGN TABLE bad1 (k int, a address OPTIONS (cql_type 'location'))
    SERVER udts_t OPTIONS (primary_key 'k');
CREATE FOREIGN TABLE bad2 (k int, a int OPTIONS (cql_type 'address'))
    SERVER udts_t OPTIONS (primary_key 'k');
CREATE FOREIGN TABLE bad3 (a address OPTIONS (cql_type 'address'), k int)
    SERVER udts_t OPTIONS (primary_key 'a');

-- tables USING widecol name their UDT columns in cql_types
CREATE TABLE profiles_tam (
    user_id int PRIMARY KEY,
    home    address,
    work    address
) USING widecol WITH (keyspace = 'udts_t', cql_types = 'home address, work frozen<address>');
INSERT INTO profiles_tam VALUES (1, ('1 Main St', 'Springfield', '12345'), ('2 Mill Rd', 'Shelbyville', '99999'));
EXPLAIN (COSTS OFF) UPDATE profiles_tam SET home.city = 'Paris' WHERE user_id = 1;
UPDATE profiles_tam SET home.city = 'Paris' WHERE user_id = 1;
UPDATE profiles_tam SET home.zip_code = '75001', home.street = NULL WHERE user_id = 1;
UPDATE profiles_tam SET work.city = 'Paris' WHERE user_id = 1;
SELECT * FROM profiles_tam;

DROP TABLE profiles_tam;
