--
-- fdw_types: every supported type round-trips bit-exactly as a regular
-- column, and every keyable type as a partition key and as an ASC and a DESC
-- clustering column, where ORDER BY (no Sort) and range predicates give
-- exactly what a heap table with the same values gives.  Can run twice in a
-- row (engine data outlives DROP FOREIGN TABLE: drop_table() first).
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('types_ks');
DROP SCHEMA IF EXISTS types_heap CASCADE;
DROP FUNCTION IF EXISTS types_check(text, text, text[], boolean);
DROP TYPE IF EXISTS types_place, types_addr, types_named, types_doc CASCADE;
DROP COLLATION IF EXISTS types_c_utf8;
RESET client_min_messages;

-- widecol.timeuuid's operators live in schema widecol
SET search_path = public, widecol;
CREATE SERVER types_ks FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE SCHEMA types_heap;

--
-- types_check(label, type, values, keyable): stores the values (NULL
-- elements only as regular values) in
--   types_<label>_reg   (id int, v type)         primary_key 'id'
-- and, if keyable,
--   types_<label>_pk    (k type, id int)         primary_key 'k'
--   types_<label>_asc   (p int, c type, id int)  primary_key '(p, c)'
--   types_<label>_desc  (p int, c type, id int)  primary_key '(p, c)', c DESC
-- and the same values in a heap table types_heap.<label>, then compares:
--   regular   rows equal both ways (EXCEPT ALL on the value and its text)
--   pkey      same, and a point read by each value finds exactly its row
--   asc/desc  ORDER BY c and ORDER BY c DESC of one partition equal the heap
--             order (array equality and text equality), with no Sort node
--   ranges    c <, <=, >, >=, BETWEEN for every value as the bound, same
--             rows as on the heap, pushed down (no local Filter)
-- Each column reports "ok" or the first difference.
--
CREATE FUNCTION types_check(label text, typ text, vals text[], keyable boolean,
    OUT type text, OUT regular text, OUT pkey text, OUT asc_order text,
    OUT desc_order text, OUT ranges text)
LANGUAGE plpgsql AS $fn$
DECLARE
    heap text := format('types_heap.%I', label);
    reg text := format('types_%s_reg', label);
    pk text := format('types_%s_pk', label);
    tbl text;
    n bigint;
    ok boolean;
    a text;
    b text;
    plan text;
    bound text;
    pred text;
    op text;
    v text;
    line record;
BEGIN
    type := typ;
    EXECUTE format('CREATE TABLE %s (id int, v %s)', heap, typ);
    FOR i IN 1 .. cardinality(vals) LOOP
        EXECUTE format('INSERT INTO %s VALUES (%s, %L::%s)', heap, i, vals[i], typ);
    END LOOP;

    -- regular column
    EXECUTE format('CREATE FOREIGN TABLE %I (id int, v %s) SERVER types_ks OPTIONS (primary_key %L)',
                   reg, typ, 'id');
    EXECUTE format('DELETE FROM %I', reg);  -- rows a failed earlier run may have left
    BEGIN
        EXECUTE format('INSERT INTO %I SELECT id, v FROM %s', reg, heap);
        EXECUTE format('SELECT count(*) FROM ((SELECT id, v, v::text FROM %I EXCEPT ALL SELECT id, v, v::text FROM %s)
                        UNION ALL (SELECT id, v, v::text FROM %s EXCEPT ALL SELECT id, v, v::text FROM %I)) d',
                       reg, heap, heap, reg) INTO n;
        regular := CASE WHEN n = 0 THEN 'ok' ELSE n || ' rows differ' END;
    EXCEPTION WHEN OTHERS THEN
        regular := 'ERROR: ' || SQLERRM;
    END;
    IF NOT keyable THEN
        RETURN;
    END IF;

    -- partition key
    EXECUTE format('CREATE FOREIGN TABLE %I (k %s, id int) SERVER types_ks OPTIONS (primary_key %L)',
                   pk, typ, 'k');
    EXECUTE format('DELETE FROM %I', pk);
    BEGIN
    EXECUTE format('INSERT INTO %I SELECT v, id FROM %s WHERE v IS DISTINCT FROM NULL', pk, heap);
    EXECUTE format('SELECT count(*) FROM ((SELECT k, id, k::text FROM %I EXCEPT ALL SELECT v, id, v::text FROM %s WHERE v IS DISTINCT FROM NULL)
                    UNION ALL (SELECT v, id, v::text FROM %s WHERE v IS DISTINCT FROM NULL EXCEPT ALL SELECT k, id, k::text FROM %I)) d',
                   pk, heap, heap, pk) INTO n;
    pkey := CASE WHEN n = 0 THEN 'ok' ELSE n || ' rows differ' END;
    IF pkey = 'ok' THEN
        FOREACH v IN ARRAY vals LOOP
            CONTINUE WHEN v IS NULL;
            EXECUTE format('SELECT string_agg(id::text, '','' ORDER BY id) FROM %I WHERE k = %L::%s', pk, v, typ) INTO a;
            EXECUTE format('SELECT string_agg(id::text, '','' ORDER BY id) FROM %s WHERE v = %L::%s', heap, v, typ) INTO b;
            IF a IS DISTINCT FROM b THEN
                pkey := format('k = %s: got ids %s, want %s', left(v, 40), a, b);
                EXIT;
            END IF;
        END LOOP;
    END IF;
    EXCEPTION WHEN OTHERS THEN
        pkey := 'ERROR: ' || SQLERRM;
    END;

    -- clustering columns, ASC and DESC
    FOREACH tbl IN ARRAY ARRAY['asc', 'desc'] LOOP
        EXECUTE format('CREATE FOREIGN TABLE %I (p int, c %s, id int) SERVER types_ks OPTIONS (primary_key %L, clustering_order %L)',
                       'types_' || label || '_' || tbl, typ, '(p, c)', 'c ' || tbl);
        EXECUTE format('DELETE FROM %I', 'types_' || label || '_' || tbl);
        EXECUTE format('INSERT INTO %I SELECT 1, v, id FROM %s WHERE v IS DISTINCT FROM NULL',
                       'types_' || label || '_' || tbl, heap);
        a := 'ok';
        BEGIN
        FOREACH op IN ARRAY ARRAY['ASC', 'DESC'] LOOP
            plan := '';
            FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT c FROM %I WHERE p = 1 ORDER BY c %s',
                                       'types_' || label || '_' || tbl, op) LOOP
                plan := plan || line."QUERY PLAN" || ' ';
            END LOOP;
            IF plan NOT LIKE 'Foreign Scan%' OR plan LIKE '%Sort%' THEN
                a := format('ORDER BY c %s is not read in clustering order: %s', op, plan);
                EXIT;
            END IF;
            EXECUTE format('SELECT (SELECT array_agg(c) FROM (SELECT c FROM %I WHERE p = 1 ORDER BY c %s) s)
                                   = (SELECT array_agg(v ORDER BY v %s) FROM %s WHERE v IS DISTINCT FROM NULL),
                                   (SELECT array_agg(c::text) FROM (SELECT c FROM %I WHERE p = 1 ORDER BY c %s) s)
                                   = (SELECT array_agg(v::text ORDER BY v %s) FROM %s WHERE v IS DISTINCT FROM NULL)',
                           'types_' || label || '_' || tbl, op, op, heap,
                           'types_' || label || '_' || tbl, op, op, heap) INTO ok, ok;
            IF ok IS NOT TRUE THEN
                EXECUTE format('SELECT array_agg(left(c::text, 40))::text FROM (SELECT c FROM %I WHERE p = 1 ORDER BY c %s) s',
                               'types_' || label || '_' || tbl, op) INTO b;
                a := format('ORDER BY c %s gives %s', op, b);
                EXIT;
            END IF;
        END LOOP;
        EXCEPTION WHEN OTHERS THEN
            a := 'ERROR: ' || SQLERRM;
        END;
        IF tbl = 'asc' THEN asc_order := a; ELSE desc_order := a; END IF;

        -- ranges with every value as a bound
        IF ranges IS NULL THEN
          BEGIN
            FOREACH bound IN ARRAY vals LOOP
                CONTINUE WHEN bound IS NULL;
                FOREACH op IN ARRAY ARRAY['<', '<=', '>', '>=', 'BETWEEN'] LOOP
                    IF op = 'BETWEEN' THEN
                        pred := format('BETWEEN %L::%s AND %L::%s', bound, typ,
                                       vals[cardinality(vals) / 2 + 1], typ);
                    ELSE
                        pred := format('%s %L::%s', op, bound, typ);
                    END IF;
                    plan := '';
                    FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT c FROM %I WHERE p = 1 AND c %s',
                                               'types_' || label || '_' || tbl, pred) LOOP
                        plan := plan || line."QUERY PLAN" || ' ';
                    END LOOP;
                    IF plan NOT LIKE '%clustering: c %' OR plan LIKE '%Filter%' THEN
                        ranges := format('%s: c %s is not pushed down: %s', tbl, left(pred, 60), plan);
                        EXIT;
                    END IF;
                    EXECUTE format('SELECT string_agg(id::text, '','' ORDER BY id) FROM %I WHERE p = 1 AND c %s',
                                   'types_' || label || '_' || tbl, pred) INTO a;
                    EXECUTE format('SELECT string_agg(id::text, '','' ORDER BY id) FROM %s WHERE v %s',
                                   heap, pred) INTO b;
                    IF a IS DISTINCT FROM b THEN
                        ranges := format('%s: c %s: got ids %s, want %s', tbl, left(pred, 60), a, b);
                        EXIT;
                    END IF;
                END LOOP;
                EXIT WHEN ranges IS NOT NULL;
            END LOOP;
          EXCEPTION WHEN OTHERS THEN
            ranges := format('%s: c %s: ERROR: %s', tbl, left(pred, 60), SQLERRM);
          END;
        END IF;
    END LOOP;
    ranges := coalesce(ranges, 'ok');
END
$fn$;

-- ORDER BY in clustering order or its reverse is read without a Sort, and
-- a range is sent to the node (shown once here; types_check checks every type)
CREATE FOREIGN TABLE types_explain (p int, c bigint, v text) SERVER types_ks
    OPTIONS (primary_key '(p, c)', clustering_order 'c DESC');
EXPLAIN (COSTS OFF) SELECT c FROM types_explain WHERE p = 1 ORDER BY c;
EXPLAIN (COSTS OFF) SELECT c FROM types_explain WHERE p = 1 AND c >= 10 AND c < 20 ORDER BY c DESC;
EXPLAIN (COSTS OFF) SELECT c FROM types_explain WHERE p = 1 AND c BETWEEN 10 AND 20;

-- ======================================================== keyable types
SELECT * FROM types_check('text', 'text',
    ARRAY['', ' ', 'A', 'Z', 'a', 'a b', 'ab', 'abc', 'b', 'it''s', 'say "hi"', E'tab\there',
          E'back\\slash', E'new\nline', 'é', 'ü', 'Ω', '日本語', '😀', repeat('x', 3000)], true);
SELECT * FROM types_check('varchar', 'varchar(3000)',
    ARRAY['', 'A', 'a', 'a''b', '"', 'é', '日本', repeat('y', 2000)], true);
SELECT * FROM types_check('int2', 'smallint',
    ARRAY['-32768', '-32767', '-256', '-1', '0', '1', '255', '256', '32766', '32767'], true);
SELECT * FROM types_check('int4', 'integer',
    ARRAY['-2147483648', '-2147483647', '-65536', '-1', '0', '1', '65536', '2147483646', '2147483647'], true);
SELECT * FROM types_check('int8', 'bigint',
    ARRAY['-9223372036854775808', '-9223372036854775807', '-4294967296', '-1', '0', '1',
          '4294967296', '9223372036854775806', '9223372036854775807'], true);
SELECT * FROM types_check('float4', 'real',
    ARRAY['-Infinity', '-3.4028235e+38', '-1.5', '-1.17549435e-38', '-1e-45', '0', '1e-45',
          '1.17549435e-38', '0.1', '1', '1.5', '3.4028235e+38', 'Infinity', 'NaN'], true);
SELECT * FROM types_check('float8', 'double precision',
    ARRAY['-Infinity', '-1.7976931348623157e+308', '-1.5', '-2.2250738585072014e-308', '-5e-324',
          '0', '5e-324', '2.2250738585072014e-308', '0.1', '1', '1.5', '1.7976931348623157e+308',
          'Infinity', 'NaN'], true);
-- numeric keys are normalised: trailing zeros of the fraction are not part
-- of the key (1.0 and 1.00 are the same key, as they are equal in
-- PostgreSQL) and a key reads back in its shortest form; so the values here
-- are written in that form (regular columns keep the scale: see below)
SELECT * FROM types_check('numeric', 'numeric',
    ARRAY['-Infinity', '-1e+100', '-12345678901234567890.12345678901234567890123456789',
          '-123.456', '-1', '-0.001', '0', '0.000000000000000000000000000001', '0.001', '1', '1.5',
          '99', '100', '101', '123.456', '12345678901234567890.12345678901234567890123456789',
          '1e+100', '1e+1000', 'Infinity', 'NaN'], true);
-- numeric's whole range: up to 131072 digits before the decimal point and
-- 16383 after it
SELECT * FROM types_check('numeric_huge', 'numeric',
    ARRAY['-1e+131071', '-1e+40000', '-1e+32768', '-1e+32767', '-1e-16383', '1e-16383', '1e+32767',
          '1e+32768', '1e+40000', '9e+131071'], true);
-- (k = true and k = false reach the FDW as "k" and "NOT k")
SELECT * FROM types_check('bool', 'boolean', ARRAY['false', 'true'], true);
SELECT * FROM types_check('uuid', 'uuid',
    ARRAY['00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000001',
          '00000000-0000-0000-0000-000000000100', '0000000f-0000-0000-0000-000000000000',
          '7fffffff-ffff-ffff-ffff-ffffffffffff', '80000000-0000-0000-0000-000000000000',
          'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'ffffffff-ffff-ffff-ffff-ffffffffffff'], true);
SELECT * FROM types_check('timeuuid', 'widecol.timeuuid',
    ARRAY(SELECT x::text FROM (VALUES
        (widecol.min_timeuuid('1970-01-01 00:00+00')), (widecol.max_timeuuid('1970-01-01 00:00+00')),
        (widecol.min_timeuuid('1999-12-31 23:59:59.999999+00')),
        (widecol.min_timeuuid('2000-01-01 00:00+00')), (widecol.max_timeuuid('2000-01-01 00:00+00')),
        (widecol.min_timeuuid('2024-02-29 12:00+00')), (widecol.max_timeuuid('2024-02-29 12:00+00')),
        (widecol.min_timeuuid('2200-01-01 00:00+00'))) t(x)), true);
SELECT * FROM types_check('timestamptz', 'timestamptz',
    ARRAY['-infinity', '4713-01-01 00:00:00+00 BC', '0001-12-31 23:59:59.999999+00 BC',
          '0001-01-01 00:00:00+00', '1969-12-31 23:59:59.999999+00', '1970-01-01 00:00:00+00',
          '1970-01-01 00:00:00.000001+00', '2000-01-01 00:00:00+00', '2024-02-29 12:34:56.789012+00',
          '294276-12-31 23:59:59.999999+00', 'infinity'], true);
SELECT * FROM types_check('timestamp', 'timestamp',
    ARRAY['-infinity', '4713-01-01 00:00:00 BC', '0001-12-31 23:59:59.999999 BC', '0001-01-01 00:00:00',
          '1969-12-31 23:59:59.999999', '1970-01-01 00:00:00', '2000-01-01 00:00:00',
          '2024-02-29 12:34:56.789012', '294276-12-31 23:59:59.999999', 'infinity'], true);
SELECT * FROM types_check('date', 'date',
    ARRAY['-infinity', '4713-01-01 BC', '0001-12-31 BC', '0001-01-01', '1969-12-31', '1970-01-01',
          '1999-12-31', '2000-01-01', '2024-02-29', '5874897-12-31', 'infinity'], true);
SELECT * FROM types_check('time', 'time',
    ARRAY['00:00:00', '00:00:00.000001', '00:00:01', '11:59:59.999999', '12:00:00',
          '23:59:59.999999', '24:00:00'], true);
SELECT * FROM types_check('bytea', 'bytea',
    ARRAY['\x', '\x00', '\x0000', '\x000000', '\x0001', '\x00ff', '\x01', '\x0100', '\x7f',
          '\x80', '\xfe', '\xff', '\xff00', '\xffff', '\xffffff'], true);

-- inet sorts as network_cmp: family, common prefix, mask length, address
SELECT * FROM types_check('inet', 'inet',
    ARRAY['0.0.0.0', '0.0.0.0/0', '10.0.0.0/8', '10.0.0.5', '10.0.0.5/16', '10.1.0.0/16',
          '10.1.0.0/15', '127.0.0.1', '192.168.1.5/24', '192.168.1.0/24', '255.255.255.255',
          '::', '::/0', '::1', 'fe80::1/64', 'fe80::/10', '::ffff:1.2.3.4', '2001:db8::1',
          'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], true);
-- composite types (CQL's frozen UDTs) whose fields are key types, nested too;
-- a NULL field sorts after every value, as record comparison does
CREATE TYPE types_addr AS (city text, zip int, floor smallint);
CREATE TYPE types_place AS (addr types_addr, since date);
SELECT * FROM types_check('udt', 'types_addr',
    ARRAY['(Paris,75001,1)', '(Paris,75001,)', '(Paris,75002,0)', '(Paris,,3)', '(,1,2)',
          '(,,)', '(Berlin,10115,-3)', '("a b",0,0)', '(Z,-2147483648,32767)', '("",0,0)'], true);
SELECT * FROM types_check('udt_nested', 'types_place',
    ARRAY['("(Paris,75001,1)",2020-01-01)', '("(Paris,75001,1)",)', '("(Berlin,1,)",1999-12-31)',
          '(,2020-01-01)', '("(,,)",2000-01-01)'], true);

-- a composite key with a text field under a collation that is not "C": its
-- equality is pushed down, its ranges and order are left to PostgreSQL
CREATE COLLATION types_c_utf8 (locale = 'C.UTF-8');
CREATE TYPE types_named AS (name text COLLATE types_c_utf8, n int);
CREATE FOREIGN TABLE types_named_t (p int, c types_named, v int) SERVER types_ks
    OPTIONS (primary_key '(p, c)');
INSERT INTO types_named_t VALUES (1, ('b', 1), 1), (1, ('a', 2), 2), (1, ('B', 3), 3);
EXPLAIN (COSTS OFF) SELECT v FROM types_named_t WHERE p = 1 AND c = ROW('a', 2)::types_named;
EXPLAIN (COSTS OFF) SELECT v FROM types_named_t WHERE p = 1 AND c > ROW('a', 2)::types_named;
EXPLAIN (COSTS OFF) SELECT c FROM types_named_t WHERE p = 1 ORDER BY c;
SELECT v FROM types_named_t WHERE p = 1 AND c = ROW('a', 2)::types_named;
SELECT c, v FROM types_named_t WHERE p = 1 AND c > ROW('a', 2)::types_named ORDER BY c;

-- a composite with a field that cannot be a key is refused as a key
CREATE TYPE types_doc AS (id int, body jsonb);
CREATE FOREIGN TABLE types_doc_t (k types_doc, v int) SERVER types_ks OPTIONS (primary_key 'k');

-- ======================================================== regular columns only
-- (NULL elements are NULL cells)
SELECT * FROM types_check('text_reg', 'text', ARRAY['', 'x', NULL, E'\\x00 is not a NUL', 'é'], false);
SELECT * FROM types_check('float8_reg', 'double precision',
    ARRAY['-0', '0', 'NaN', '-Infinity', 'Infinity', '5e-324', '0.30000000000000004', NULL], false);
SELECT * FROM types_check('float4_reg', 'real', ARRAY['-0', '0', 'NaN', '1e-45', '0.1', NULL], false);
SELECT * FROM types_check('numeric_reg', 'numeric',
    ARRAY['1.0', '1.00', '1', '-0.000', '0', '1.2300', '1e+100', '-1e-100', 'NaN', 'Infinity',
          '-Infinity', '12345678901234567890.123456789012345678901234567890', NULL], false);
SELECT * FROM types_check('interval', 'interval',
    ARRAY['0', '1 microsecond', '-1 day', '1 mon -1 day 01:02:03.000004', '178000000 years',
          '-178000000 years', '-2147483648 days', NULL], false);
SELECT * FROM types_check('inet_reg', 'inet', ARRAY['10.0.0.5/16', '::1', NULL], false);
SELECT * FROM types_check('cidr', 'cidr',
    ARRAY['0.0.0.0/0', '10.0.0.0/8', '192.168.1.0/24', '2001:db8::/32', '::/0', NULL], false);
SELECT * FROM types_check('udt_reg', 'types_addr', ARRAY['(Paris,75001,1)', '(,,)', NULL], false);
SELECT * FROM types_check('int_array', 'int[]',
    ARRAY['{}', '{1}', '{1,NULL,3}', '{NULL}', '{{1,2},{3,4}}', '[0:1]={5,6}',
          '{-2147483648,2147483647}', NULL], false);
SELECT * FROM types_check('text_array', 'text[]',
    ARRAY['{}', '{""}', '{NULL}', '{a,NULL,b}', '{"a b","c,d","\"q\"","it''s","NULL"}',
          '{é,日本}', NULL], false);
SELECT * FROM types_check('jsonb', 'jsonb',
    ARRAY['null', 'true', '0', '-1.50', '1e+100', '"str"', '""', '[]', '{}',
          '{"a": [1, 2.50, "x", null], "b": {"c": "d"}}', '"\u00e9 \" \\ "', NULL], false);
SELECT * FROM types_check('bool_reg', 'boolean', ARRAY['true', 'false', NULL], false);
SELECT * FROM types_check('uuid_reg', 'uuid', ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', NULL], false);
SELECT * FROM types_check('bytea_reg', 'bytea', ARRAY['\x', '\x00', '\x000000', '\xdeadbeef00', NULL], false);
SELECT * FROM types_check('time_reg', 'timetz', ARRAY['00:00:00+00', '23:59:59.999999-15:59', NULL], false);

-- ======================================================== normalised keys, shown
-- numeric: 1.0 and 1.00 are one key; the key reads back as 1, the regular
-- column keeps what was written last
CREATE FOREIGN TABLE types_numkey (p int, c numeric, v numeric) SERVER types_ks
    OPTIONS (primary_key '(p, c)');
INSERT INTO types_numkey VALUES (1, 1.0, 1.0);
INSERT INTO types_numkey VALUES (1, 1.00, 1.00);
INSERT INTO types_numkey VALUES (1, 1.50, 1.50), (1, -0.0, -0.0), (1, 100, 100);
SELECT c, v FROM types_numkey WHERE p = 1 ORDER BY c;
SELECT c, v FROM types_numkey WHERE p = 1 AND c = 1.000;
SELECT c, v FROM types_numkey WHERE p = 1 AND c IN (1.5, 100.00);
-- float: -0 and 0 are one key (they are equal in PostgreSQL); as a regular
-- value -0 stays -0
CREATE FOREIGN TABLE types_floatkey (p int, c double precision, v double precision) SERVER types_ks
    OPTIONS (primary_key '(p, c)');
INSERT INTO types_floatkey VALUES (1, '-0', '-0');
INSERT INTO types_floatkey VALUES (1, '0', '-0');
SELECT c, v FROM types_floatkey WHERE p = 1;
SELECT count(*) FROM types_floatkey WHERE p = 1 AND c = '-0';
-- a typmod'ed key keeps its scale
CREATE FOREIGN TABLE types_numtypmod (k numeric(10,2), c numeric(6,3), v int) SERVER types_ks
    OPTIONS (primary_key '(k, c)');
INSERT INTO types_numtypmod VALUES (1.5, 2, 1), (10, 0.1, 2);
SELECT k, c, v FROM types_numtypmod WHERE k = 1.5;
SELECT k, c, v FROM types_numtypmod WHERE k = 10.00;

-- ======================================================== predicates of other types and operators
-- comparisons with a value of another type mean what they mean on a heap
-- table: a real column compared with a double precision constant, an
-- integer column with a constant outside its range, a key column with <>
CREATE TABLE types_heap.cross (p int, r real, s smallint);
CREATE FOREIGN TABLE types_cross_r (p int, r real) SERVER types_ks OPTIONS (primary_key '(p, r)');
CREATE FOREIGN TABLE types_cross_s (p int, s smallint) SERVER types_ks OPTIONS (primary_key '(p, s)');
INSERT INTO types_heap.cross VALUES (1, 0.1, -5), (1, 0.5, 5), (1, 1, 7);
INSERT INTO types_cross_r SELECT p, r FROM types_heap.cross;
INSERT INTO types_cross_s SELECT p, s FROM types_heap.cross;
SELECT (SELECT array_agg(r ORDER BY r) FROM types_cross_r WHERE p = 1 AND r = 0.1) AS widecol,
       (SELECT array_agg(r ORDER BY r) FROM types_heap.cross WHERE p = 1 AND r = 0.1) AS heap;
SELECT (SELECT array_agg(r ORDER BY r) FROM types_cross_r WHERE p = 1 AND r <= 0.1) AS widecol,
       (SELECT array_agg(r ORDER BY r) FROM types_heap.cross WHERE p = 1 AND r <= 0.1) AS heap;
SELECT (SELECT array_agg(r ORDER BY r) FROM types_cross_r WHERE p = 1 AND r > 0.1) AS widecol,
       (SELECT array_agg(r ORDER BY r) FROM types_heap.cross WHERE p = 1 AND r > 0.1) AS heap;
SELECT (SELECT array_agg(r ORDER BY r) FROM types_cross_r WHERE p = 1 AND r = 0.5) AS widecol,
       (SELECT array_agg(r ORDER BY r) FROM types_heap.cross WHERE p = 1 AND r = 0.5) AS heap;
SELECT (SELECT array_agg(s ORDER BY s) FROM types_cross_s WHERE p = 1 AND s < 40000) AS widecol,
       (SELECT array_agg(s ORDER BY s) FROM types_heap.cross WHERE p = 1 AND s < 40000) AS heap;
SELECT (SELECT array_agg(s ORDER BY s) FROM types_cross_s WHERE p = 1 AND s > -40000) AS widecol,
       (SELECT array_agg(s ORDER BY s) FROM types_heap.cross WHERE p = 1 AND s > -40000) AS heap;
SELECT (SELECT array_agg(s ORDER BY s) FROM types_cross_s WHERE p = 1 AND s = 100000) AS widecol,
       (SELECT array_agg(s ORDER BY s) FROM types_heap.cross WHERE p = 1 AND s = 100000) AS heap;
SELECT (SELECT array_agg(s ORDER BY s) FROM types_cross_s WHERE p = 1 AND s <> 5) AS widecol,
       (SELECT array_agg(s ORDER BY s) FROM types_heap.cross WHERE p = 1 AND s <> 5) AS heap;

-- ======================================================== clean up
SELECT count(*) AS dropped FROM (
    SELECT widecol.drop_table(ft.ftrelid) FROM pg_foreign_table ft
      JOIN pg_foreign_server s ON s.oid = ft.ftserver
     WHERE s.srvname = 'types_ks') d;
SET client_min_messages = warning;
DROP SERVER types_ks CASCADE;
DROP SCHEMA types_heap CASCADE;
DROP FUNCTION types_check(text, text, text[], boolean);
DROP TYPE types_place, types_addr, types_named, types_doc;
DROP COLLATION types_c_utf8;
RESET client_min_messages;
RESET search_path;
