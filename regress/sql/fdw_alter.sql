--
-- fdw_alter: ALTER TABLE on a widecol foreign table gets exactly the checks
-- and the propagation to the engine table that ALTER FOREIGN TABLE gets:
-- what stored data cannot follow is refused with a hint, under either
-- spelling; what it can follow (new, renamed and dropped ordinary columns)
-- reaches the engine table's schema, as IMPORT FOREIGN SCHEMA shows.  Can
-- run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('alt_ks');
DROP SCHEMA IF EXISTS alt_imp CASCADE;
RESET client_min_messages;

\pset tuples_only on
\pset format unaligned

CREATE SERVER alt_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE FOREIGN TABLE alt_t (a int, b int, v text, w bigint OPTIONS (writetime 'v'), x int)
  SERVER alt_ks OPTIONS (primary_key '((a), b)');
INSERT INTO alt_t (a, b, v, x) VALUES (1, 1, 'one', 10), (1, 2, 'two', 20);

-- the engine table's columns, as IMPORT FOREIGN SCHEMA recreates them
CREATE FUNCTION alt_engine_columns() RETURNS text LANGUAGE plpgsql AS $$
DECLARE cols text;
BEGIN
    SET LOCAL client_min_messages = warning;
    DROP SCHEMA IF EXISTS alt_imp CASCADE;
    CREATE SCHEMA alt_imp;
    IMPORT FOREIGN SCHEMA alt_ks LIMIT TO (alt_t) FROM SERVER alt_ks INTO alt_imp;
    SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
      INTO cols FROM pg_attribute
     WHERE attrelid = 'alt_imp.alt_t'::regclass AND attnum > 0 AND NOT attisdropped;
    DROP SCHEMA alt_imp CASCADE;
    RETURN cols;
END
$$;
SELECT alt_engine_columns();

-- ======================================================== refused, both spellings
-- a column's type: stored values keep theirs
SELECT sp, widecol_try(format($$ALTER %s alt_t ALTER COLUMN x TYPE bigint$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
-- where a column's cells live
SELECT sp, widecol_try(format($$ALTER %s alt_t ALTER COLUMN x OPTIONS (ADD static 'true')$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
SELECT sp, widecol_try(format($$ALTER %s alt_t ALTER COLUMN x OPTIONS (ADD column_id '9')$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
-- the key, through the table options
SELECT sp, widecol_try(format($$ALTER %s alt_t OPTIONS (SET primary_key '(b, a)')$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
SELECT sp, widecol_try(format($$ALTER %s alt_t OPTIONS (ADD clustering_order 'v DESC')$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
SELECT sp, widecol_try(format($$ALTER %s alt_t OPTIONS (DROP primary_key)$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
-- dropping a key column, or a column another column describes
SELECT sp, widecol_try(format($$ALTER %s alt_t DROP COLUMN b$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
SELECT sp, widecol_try(format($$ALTER %s alt_t DROP COLUMN a$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
SELECT sp, widecol_try(format($$ALTER %s alt_t DROP COLUMN v$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
-- renaming a key column, or a column another column describes
SELECT sp, widecol_try(format($$ALTER %s alt_t RENAME COLUMN a TO a2$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
SELECT sp, widecol_try(format($$ALTER %s alt_t RENAME COLUMN b TO b2$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
SELECT sp, widecol_try(format($$ALTER %s alt_t RENAME COLUMN v TO v2$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
-- a new column whose definition is wrong
SELECT sp, widecol_try(format($$ALTER %s alt_t ADD COLUMN y int OPTIONS (writetime 'v')$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
SELECT sp, widecol_try(format($$ALTER %s alt_t ADD COLUMN y jsonb OPTIONS (column_id '5')$$, sp))
  FROM unnest(ARRAY['FOREIGN TABLE', 'TABLE']) sp;
-- nothing changed
SELECT attname FROM pg_attribute WHERE attrelid = 'alt_t'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'alt_t'::regclass;
SELECT a, b, v, x FROM alt_t WHERE a = 1;
SELECT alt_engine_columns();

-- ======================================================== propagated, both spellings
ALTER FOREIGN TABLE alt_t ADD COLUMN y1 text;
ALTER TABLE alt_t ADD COLUMN y2 numeric;
SELECT alt_engine_columns();
ALTER FOREIGN TABLE alt_t RENAME COLUMN x TO x1;
ALTER TABLE alt_t RENAME COLUMN y1 TO label;
SELECT alt_engine_columns();
ALTER FOREIGN TABLE alt_t DROP COLUMN y2;
ALTER TABLE alt_t DROP COLUMN label;
SELECT alt_engine_columns();
-- the renamed column keeps its cells; the rest reads as before
INSERT INTO alt_t (a, b, v, x1) VALUES (1, 3, 'three', 30);
SELECT a, b, v, x1 FROM alt_t WHERE a = 1;
-- a rolled-back ALTER TABLE reaches neither the catalog nor the engine
BEGIN;
ALTER TABLE alt_t ADD COLUMN gone int;
ROLLBACK;
SELECT alt_engine_columns();

-- ======================================================== cleanup
SELECT widecol.drop_table('alt_t');
DROP FUNCTION alt_engine_columns();
SET client_min_messages = warning;
DROP SERVER alt_ks CASCADE;
