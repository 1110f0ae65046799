--
-- fdw_names: the node keeps an engine table's name, "keyspace.table", in at
-- most 127 bytes.  Longer keyspace or table_name options, or a longer
-- combination, are refused with an error, never shortened (two tables
-- whose names differ only past the limit would share their data).  Can run
-- twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('nm_ks', 'nm_long_ks',
    'nm_server_with_a_name_of_exactly_sixty_three_bytes_xxxxxxxxxxxx');
RESET client_min_messages;

CREATE SERVER nm_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- one option alone too long, or empty
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE nm_t (k int, v text) SERVER nm_ks
  OPTIONS (primary_key '((k))', table_name '$$ || repeat('t', 126) || $$')$$);
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE nm_t (k int, v text) SERVER nm_ks
  OPTIONS (primary_key '((k))', table_name '')$$);
SELECT * FROM widecol_try($$CREATE SERVER nm_long_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (keyspace '$$ || repeat('k', 200) || $$',
           replication '{''class'': ''SimpleStrategy'', ''replication_factor'': 1}')$$);

-- each fits, together they do not: refused when the table is defined
SELECT * FROM widecol_try($$CREATE SERVER nm_long_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (keyspace '$$ || repeat('k', 100) || $$',
           replication '{''class'': ''SimpleStrategy'', ''replication_factor'': 1}')$$);
CREATE SERVER nm_long_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (keyspace 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk',
           replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
SELECT * FROM widecol_try($$CREATE FOREIGN TABLE nm_a_table_name_of_thirty_byte (k int, v text)
  SERVER nm_long_ks OPTIONS (primary_key '((k))')$$);
-- ... also when ALTER adds the option
CREATE FOREIGN TABLE nm_short (k int, v text) SERVER nm_long_ks OPTIONS (primary_key '((k))');
SELECT * FROM widecol_try($$ALTER FOREIGN TABLE nm_short OPTIONS (ADD table_name '$$ || repeat('s', 30) || $$')$$);
DROP FOREIGN TABLE nm_short;

-- the longest names PostgreSQL allows fit exactly (63 + 1 + 63 bytes)
CREATE SERVER nm_server_with_a_name_of_exactly_sixty_three_bytes_xxxxxxxxxxxx
  FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE FOREIGN TABLE nm_table_with_a_name_of_exactly_sixty_three_bytes_xxxxxxxxxxxxx (k int, v text)
  SERVER nm_server_with_a_name_of_exactly_sixty_three_bytes_xxxxxxxxxxxx
  OPTIONS (primary_key '((k))');
INSERT INTO nm_table_with_a_name_of_exactly_sixty_three_bytes_xxxxxxxxxxxxx VALUES (1, 'fits');
SELECT * FROM nm_table_with_a_name_of_exactly_sixty_three_bytes_xxxxxxxxxxxxx;
