--
-- fdw_wide_schema: a table whose definition is far larger than 8 KiB (300
-- columns with 60-character names) is created, written, read, altered and
-- imported again: the typed schema has no size ceiling.  Can run twice in
-- a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('wide_ks');
DROP SCHEMA IF EXISTS wide_import CASCADE;
RESET client_min_messages;

CREATE SERVER wide_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
DO $$
BEGIN
  EXECUTE format('CREATE FOREIGN TABLE wide_t (id int, %s) SERVER wide_ks OPTIONS (primary_key %L, comment %L)',
                 (SELECT string_agg(format('%I text', 'column_with_a_rather_long_descriptive_name_number_' || lpad(i::text, 9, '0')), ', ')
                    FROM generate_series(1, 300) i),
                 '(id)', 'three hundred columns');
END $$;
SELECT count(*) AS columns,
       sum(length(attname) + length(format_type(atttypid, atttypmod))) > 8192 AS over_8k
  FROM pg_attribute WHERE attrelid = 'wide_t'::regclass AND attnum > 0;
INSERT INTO wide_t (id, column_with_a_rather_long_descriptive_name_number_000000001,
                    column_with_a_rather_long_descriptive_name_number_000000300)
  VALUES (1, 'first', 'last');
SELECT id, column_with_a_rather_long_descriptive_name_number_000000001 AS c1,
       column_with_a_rather_long_descriptive_name_number_000000300 AS c300
  FROM wide_t WHERE id = 1;

-- ALTER sends the whole definition again
ALTER FOREIGN TABLE wide_t OPTIONS (ADD default_time_to_live '0');
ALTER FOREIGN TABLE wide_t ADD COLUMN extra_column_after_the_alter_with_a_long_name text;
UPDATE wide_t SET extra_column_after_the_alter_with_a_long_name = 'added' WHERE id = 1;
SELECT extra_column_after_the_alter_with_a_long_name FROM wide_t WHERE id = 1;

-- the definition kept by the node recreates the foreign table
DROP FOREIGN TABLE wide_t;
CREATE SCHEMA wide_import;
IMPORT FOREIGN SCHEMA wide_ks FROM SERVER wide_ks INTO wide_import;
SELECT count(*) AS columns FROM pg_attribute
 WHERE attrelid = 'wide_import.wide_t'::regclass AND attnum > 0;
SELECT array(SELECT o FROM unnest(ftoptions) o WHERE o NOT LIKE 'table_id=%' ORDER BY o) AS options
  FROM pg_foreign_table WHERE ftrelid = 'wide_import.wide_t'::regclass;
SELECT id, column_with_a_rather_long_descriptive_name_number_000000300 AS c300,
       extra_column_after_the_alter_with_a_long_name AS extra
  FROM wide_import.wide_t WHERE id = 1;

SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('wide_ks');
DROP SCHEMA wide_import CASCADE;
RESET client_min_messages;
