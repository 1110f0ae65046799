--
-- collections: CQL sets, lists and maps (column option cql_type) with the
-- collection workloads of the sample applications:
--   * orders_by_user_date (items list<text>): items appended and prepended
--     without reading, a whole list replaced;
--   * conversations (participants set<uuid>, unread_count map<uuid, int>):
--     members added and removed, sorted and unique, per-key counts put and
--     deleted, also into a NULL map;
--   * player profiles (currency map<text, int>) and user events
--     (properties map<text, text>), frozen collections.
-- Element UPDATEs with the whole primary key are direct modifies (EXPLAIN:
-- no read); other shapes read and write the whole value.  Validation
-- errors: cql_type against the column type, map keys and values against
-- K and V, NULL elements.  Elements written under widecol.ttl expire one
-- by one.
-- Own keyspace (server collections_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('collections_t');
DROP SCHEMA IF EXISTS collections_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA collections_t;
SET search_path = collections_t, public, widecol;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE SERVER collections_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- orders_by_user_date: items list<text>
CREATE FOREIGN TABLE orders_by_user_date (
    user_id      uuid,
    order_date   date,
    order_id     timeuuid,
    total_amount numeric,
    items        text[] OPTIONS (cql_type 'list<text>')
) SERVER collections_t OPTIONS (
    primary_key '((user_id), order_date, order_id)',
    clustering_order 'order_date DESC, order_id DESC');

INSERT INTO orders_by_user_date VALUES
    ('00000001-0000-4000-8000-000000000000', '2024-06-10',
     min_timeuuid('2024-06-10 09:00+00'), 19.98, ARRAY['book', 'pen']),
    ('00000001-0000-4000-8000-000000000000', '2024-06-11',
     min_timeuuid('2024-06-11 09:00+00'), 5.00, ARRAY['mug', 'mug']);
SELECT order_date, total_amount, items FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000';

-- appending an item is a direct write: no read before the write
EXPLAIN (COSTS OFF)
UPDATE orders_by_user_date SET items = items || ARRAY['lamp']
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-10'
  AND order_id = min_timeuuid('2024-06-10 09:00+00');
UPDATE orders_by_user_date SET items = items || ARRAY['lamp', 'desk']
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-10'
  AND order_id = min_timeuuid('2024-06-10 09:00+00');
UPDATE orders_by_user_date SET items = items || 'ink'::text
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-10'
  AND order_id = min_timeuuid('2024-06-10 09:00+00');
-- prepend: CQL's items = ['gift'] + items
UPDATE orders_by_user_date SET items = ARRAY['gift'] || items
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-10'
  AND order_id = min_timeuuid('2024-06-10 09:00+00');
SELECT items FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-10';
-- lists keep duplicates; a whole value replaces the list
UPDATE orders_by_user_date SET items = ARRAY['pen']
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-11'
  AND order_id = min_timeuuid('2024-06-11 09:00+00');
SELECT order_date, items FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000';
-- an append to a row that does not exist writes the element (as CQL's UPDATE)
UPDATE orders_by_user_date SET items = items || ARRAY['first']
WHERE user_id = '00000002-0000-4000-8000-000000000000' AND order_date = '2024-06-12'
  AND order_id = min_timeuuid('2024-06-12 09:00+00');
SELECT order_date, total_amount, items FROM orders_by_user_date
WHERE user_id = '00000002-0000-4000-8000-000000000000';
-- a list removal by value reads the list (as in CQL) and deletes the equal elements
EXPLAIN (COSTS OFF)
UPDATE orders_by_user_date SET items = array_remove(items, 'lamp')
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-10'
  AND order_id = min_timeuuid('2024-06-10 09:00+00');
UPDATE orders_by_user_date SET items = array_remove(items, 'lamp')
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-10'
  AND order_id = min_timeuuid('2024-06-10 09:00+00');
SELECT items FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-10';
-- appends inside a transaction read back before COMMIT, and ROLLBACK drops them
BEGIN;
UPDATE orders_by_user_date SET items = items || ARRAY['tx1']
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-11'
  AND order_id = min_timeuuid('2024-06-11 09:00+00');
UPDATE orders_by_user_date SET items = items || ARRAY['tx2']
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-11'
  AND order_id = min_timeuuid('2024-06-11 09:00+00');
SELECT items FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-11';
ROLLBACK;
SELECT items FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-11';
-- an UPDATE without the whole primary key reads the rows and writes whole values
EXPLAIN (COSTS OFF)
UPDATE orders_by_user_date SET items = items || ARRAY['note']
WHERE user_id = '00000001-0000-4000-8000-000000000000';
UPDATE orders_by_user_date SET items = items || ARRAY['note']
WHERE user_id = '00000001-0000-4000-8000-000000000000';
SELECT order_date, items FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000';
-- the list survives flush and compaction
SELECT widecol.flush('orders_by_user_date');
UPDATE orders_by_user_date SET items = items || ARRAY['after-flush']
WHERE user_id = '00000001-0000-4000-8000-000000000000' AND order_date = '2024-06-11'
  AND order_id = min_timeuuid('2024-06-11 09:00+00');
SELECT widecol.flush('orders_by_user_date');
SELECT widecol.compact('orders_by_user_date');
SELECT order_date, items FROM orders_by_user_date
WHERE user_id = '00000001-0000-4000-8000-000000000000';

-- conversations: participants set<uuid>, unread_count map<uuid, int>
CREATE FOREIGN TABLE conversations (
    conversation_id      uuid,
    participants         uuid[] OPTIONS (cql_type 'set<uuid>'),
    last_message_at      timestamptz,
    last_message_preview text,
    unread_count         jsonb OPTIONS (cql_type 'map<uuid, int>')
) SERVER collections_t OPTIONS (primary_key 'conversation_id');

-- a set reads back sorted and unique
INSERT INTO conversations VALUES
    ('c0000000-0000-4000-8000-000000000001',
     ARRAY['b0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001',
           'b0000000-0000-4000-8000-000000000002']::uuid[],
     '2024-06-10 10:00+00', 'hello',
     '{"a0000000-0000-4000-8000-000000000001": 0, "b0000000-0000-4000-8000-000000000002": 1}');
SELECT participants, unread_count FROM conversations;
-- add members (one already there), remove one
UPDATE conversations
   SET participants = participants || ARRAY['0c000000-0000-4000-8000-000000000003',
                                            'a0000000-0000-4000-8000-000000000001']::uuid[]
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
-- a set removal is an element tombstone: no read (unlike a list's)
EXPLAIN (COSTS OFF)
UPDATE conversations
   SET participants = array_remove(participants, 'b0000000-0000-4000-8000-000000000002')
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
UPDATE conversations
   SET participants = array_remove(participants, 'b0000000-0000-4000-8000-000000000002')
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
SELECT participants FROM conversations;
-- a new message: one UPDATE sets plain columns and puts a map key, without a read
EXPLAIN (COSTS OFF)
UPDATE conversations
   SET last_message_at = '2024-06-10 11:00+00', last_message_preview = 'hi all',
       unread_count = unread_count || '{"0c000000-0000-4000-8000-000000000003": 1}'
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
UPDATE conversations
   SET last_message_at = '2024-06-10 11:00+00', last_message_preview = 'hi all',
       unread_count = unread_count || '{"0c000000-0000-4000-8000-000000000003": 1}'
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
-- m['k'] = v puts one key; m - 'k' deletes one
UPDATE conversations
   SET unread_count['a0000000-0000-4000-8000-000000000001'] = '5'
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
UPDATE conversations
   SET unread_count = unread_count - 'b0000000-0000-4000-8000-000000000002'
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
SELECT last_message_at, last_message_preview, unread_count FROM conversations;
-- a NULL map takes a key: the map comes into being
INSERT INTO conversations (conversation_id, last_message_preview)
VALUES ('c0000000-0000-4000-8000-000000000002', 'new');
UPDATE conversations
   SET unread_count = unread_count || '{"a0000000-0000-4000-8000-000000000001": 4}'
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000002';
SELECT conversation_id, unread_count FROM conversations
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000002';
-- removing the last key leaves NULL (an empty collection is no value, as in CQL)
UPDATE conversations
   SET unread_count = unread_count - ARRAY['a0000000-0000-4000-8000-000000000001']
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000002';
SELECT conversation_id, unread_count IS NULL AS no_map FROM conversations
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000002';
-- SET to NULL deletes the whole collection
UPDATE conversations SET participants = NULL
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
SELECT participants IS NULL AS no_set FROM conversations
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';

-- element types are checked on every write
INSERT INTO conversations (conversation_id, unread_count)
VALUES ('c0000000-0000-4000-8000-000000000003', '{"not-a-uuid": "not-an-int"}');
INSERT INTO conversations (conversation_id, unread_count)
VALUES ('c0000000-0000-4000-8000-000000000003', '{"a0000000-0000-4000-8000-000000000001": "x"}');
UPDATE conversations SET unread_count = unread_count || '{"a0000000-0000-4000-8000-000000000001": 1.5}'
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
UPDATE conversations SET unread_count = unread_count || '[1, 2]'
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000001';
INSERT INTO conversations (conversation_id, participants)
VALUES ('c0000000-0000-4000-8000-000000000003', ARRAY[NULL]::uuid[]);
SELECT count(*) FROM conversations;

-- cql_type is checked against the column type at CREATE and ALTER
CREATE FOREIGN TABLE bad1 (k int, s text OPTIONS (cql_type 'set<text>'))
    SERVER collections_t OPTIONS (primary_key 'k');
CREATE FOREIGN TABLE bad2 (k int, m text[] OPTIONS (cql_type 'map<text, int>'))
    SERVER collections_t OPTIONS (primary_key 'k');
CREATE FOREIGN TABLE bad3 (k int, l int[] OPTIONS (cql_type 'list<text>'))
    SERVER collections_t OPTIONS (primary_key 'k');
CREATE FOREIGN TABLE bad4 (k int, l int[] OPTIONS (cql_type 'tuple<int>'))
    SERVER collections_t OPTIONS (primary_key 'k');
CREATE FOREIGN TABLE bad5 (k int, l int[] OPTIONS (cql_type 'list<frozen<list<int>>>'))
    SERVER collections_t OPTIONS (primary_key 'k');
ALTER FOREIGN TABLE conversations ALTER COLUMN last_message_preview
    OPTIONS (ADD cql_type 'list<int>');

-- player profiles: currency map<text, int>; user events: frozen properties
CREATE FOREIGN TABLE player_profiles (
    player_id  uuid,
    username   text,
    currency   jsonb OPTIONS (cql_type 'map<text,int>'),
    badges     text[] OPTIONS (cql_type 'frozen<set<text>>')
) SERVER collections_t OPTIONS (primary_key 'player_id');
INSERT INTO player_profiles VALUES
    ('e0000000-0000-4000-8000-000000000001', 'ada', '{"gold": 100, "gems": 5}',
     ARRAY['veteran', 'explorer', 'veteran']);
UPDATE player_profiles SET currency = currency || '{"gold": 150, "tokens": 3}'
WHERE player_id = 'e0000000-0000-4000-8000-000000000001';
-- a frozen set is one value: sorted and unique, replaced as a whole
SELECT username, currency, badges FROM player_profiles;
UPDATE player_profiles SET badges = badges || ARRAY['collector']
WHERE player_id = 'e0000000-0000-4000-8000-000000000001';
SELECT badges FROM player_profiles;

-- frozen lists may be key columns: PostgreSQL's array order, DESC too
CREATE FOREIGN TABLE routes (
    origin text,
    path   int[] OPTIONS (cql_type 'frozen<list<int>>'),
    stops  text[] OPTIONS (cql_type 'frozen<list<text>>'),
    note   text
) SERVER collections_t OPTIONS (primary_key '((origin, stops), path)',
                                clustering_order 'path DESC');
INSERT INTO routes VALUES
    ('x', ARRAY[1, 2], ARRAY['a', 'b'], 'one-two'), ('x', ARRAY[1], ARRAY['a', 'b'], 'one'),
    ('x', ARRAY[2], ARRAY['a', 'b'], 'two'), ('x', ARRAY[1, 2, 3], ARRAY['a', 'b'], 'one-two-three'),
    ('x', ARRAY[1], ARRAY['b'], 'other partition');
SELECT path, note FROM routes WHERE origin = 'x' AND stops = ARRAY['a', 'b'];
SELECT path, note FROM routes WHERE origin = 'x' AND stops = ARRAY['a', 'b'] AND path = ARRAY[1, 2];
SELECT stops, path, note FROM routes WHERE origin = 'x' AND stops = ARRAY['b'];
-- frozen sets may be key columns too: stored sorted and unique, so any
-- order of the elements (duplicates too) names the same key, as in CQL
CREATE FOREIGN TABLE tag_groups (
    tags  text[] OPTIONS (cql_type 'frozen<set<text>>'),
    level int[] OPTIONS (cql_type 'frozen<set<int>>'),
    note  text
) SERVER collections_t OPTIONS (primary_key '((tags), level)', clustering_order 'level DESC');
INSERT INTO tag_groups VALUES
    (ARRAY['b', 'a', 'b'], ARRAY[2, 1], 'ab 12'), (ARRAY['a', 'b'], ARRAY[1, 2, 1], 'ab 12 again'),
    (ARRAY['a', 'b'], ARRAY[3], 'ab 3'), (ARRAY['a'], ARRAY[1], 'a 1');
SELECT tags, level, note FROM tag_groups WHERE tags = ARRAY['b', 'a'];
SELECT note FROM tag_groups WHERE tags = ARRAY['a', 'b', 'a'] AND level = ARRAY[2, 1, 2];
UPDATE tag_groups SET note = 'A 1' WHERE tags = ARRAY['a', 'a'] AND level = ARRAY[1];
DELETE FROM tag_groups WHERE tags = ARRAY['b', 'a'] AND level = ARRAY[3];
SELECT tags, level, note FROM tag_groups ORDER BY note;
-- frozen maps may be key columns: stored in key order and compared entry
-- by entry (key, then value; a prefix first), as in CQL, so any order of
-- the entries names the same key
CREATE FOREIGN TABLE price_tiers (
    attrs jsonb OPTIONS (cql_type 'frozen<map<text, int>>'),
    tier  jsonb OPTIONS (cql_type 'frozen<map<int, text>>'),
    note  text
) SERVER collections_t OPTIONS (primary_key '((attrs), tier)');
INSERT INTO price_tiers VALUES
    ('{"b": 2, "a": 1}', '{"2": "x"}', 'ab 2x'),
    ('{"a": 1, "b": 2}', '{"10": "y", "2": "x"}', 'ab 2x10y'),
    ('{"a": 1, "b": 2}', '{"10": "y"}', 'ab 10y'),
    ('{"a": 1, "b": 2}', '{"2": "w"}', 'ab 2w'),
    ('{"a": 1, "b": 2}', '{}', 'ab empty'),
    ('{"a": 1}', '{"10": "y"}', 'a 10y');
-- the clustering order: {}, {2: w}, {2: x}, {2: x, 10: y}, {10: y}
SELECT tier, note FROM price_tiers WHERE attrs = '{"a": 1, "b": 2}';
SELECT attrs, tier, note FROM price_tiers WHERE attrs = '{"a": 1}';
EXPLAIN (COSTS OFF)
SELECT note FROM price_tiers WHERE attrs = '{"b": 2, "a": 1}' AND tier = '{"10": "y", "2": "x"}';
SELECT note FROM price_tiers WHERE attrs = '{"b": 2, "a": 1}' AND tier = '{"10": "y", "2": "x"}';
-- jsonb sorts otherwise: ORDER BY and ranges stay in PostgreSQL
EXPLAIN (COSTS OFF)
SELECT tier FROM price_tiers WHERE attrs = '{"a": 1, "b": 2}' ORDER BY tier;
SELECT tier FROM price_tiers WHERE attrs = '{"a": 1, "b": 2}' ORDER BY tier;
SELECT tier FROM price_tiers WHERE attrs = '{"a": 1, "b": 2}' AND tier > '{"2": "x"}' ORDER BY tier;
UPDATE price_tiers SET note = 'AB 2W' WHERE attrs = '{"b": 2, "a": 1}' AND tier = '{"2": "w"}';
DELETE FROM price_tiers WHERE attrs = '{"a": 1, "b": 2}' AND tier = '{}';
SELECT tier, note FROM price_tiers WHERE attrs = '{"a": 1, "b": 2}';
-- keys and values are checked as for any map
INSERT INTO price_tiers VALUES ('{"a": "one"}', '{}', 'bad');
INSERT INTO price_tiers VALUES ('{"a": 1}', '{"x": "y"}', 'bad');
-- other collections are no key columns
CREATE FOREIGN TABLE bad6 (k jsonb OPTIONS (cql_type 'map<text, int>'), v int)
    SERVER collections_t OPTIONS (primary_key 'k');
CREATE FOREIGN TABLE bad7 (k text[] OPTIONS (cql_type 'list<text>'), v int)
    SERVER collections_t OPTIONS (primary_key 'k');

-- a prepared append, three times in one transaction: each is a new element
PREPARE add_item(text) AS
UPDATE orders_by_user_date SET items = items || ARRAY[$1]
WHERE user_id = '00000003-0000-4000-8000-000000000000' AND order_date = '2024-06-13'
  AND order_id = min_timeuuid('2024-06-13 09:00+00');
BEGIN;
EXECUTE add_item('a');
EXECUTE add_item('b');
EXECUTE add_item('c');
COMMIT;
SELECT items FROM orders_by_user_date
WHERE user_id = '00000003-0000-4000-8000-000000000000';
DEALLOCATE add_item;
-- l[i] = v sets element i (from 1, as arrays count) by its element key: the
-- list is read, as CQL does, and the other elements are not written
EXPLAIN (COSTS OFF)
UPDATE orders_by_user_date SET items[2] = 'B'
WHERE user_id = '00000003-0000-4000-8000-000000000000' AND order_date = '2024-06-13'
  AND order_id = min_timeuuid('2024-06-13 09:00+00');
UPDATE orders_by_user_date SET items[2] = 'B'
WHERE user_id = '00000003-0000-4000-8000-000000000000' AND order_date = '2024-06-13'
  AND order_id = min_timeuuid('2024-06-13 09:00+00');
-- l[i] = NULL deletes element i (CQL's DELETE l[i])
UPDATE orders_by_user_date SET items[1] = NULL
WHERE user_id = '00000003-0000-4000-8000-000000000000' AND order_date = '2024-06-13'
  AND order_id = min_timeuuid('2024-06-13 09:00+00');
SELECT items FROM orders_by_user_date
WHERE user_id = '00000003-0000-4000-8000-000000000000';
-- an element the list does not have
UPDATE orders_by_user_date SET items[5] = 'x'
WHERE user_id = '00000003-0000-4000-8000-000000000000' AND order_date = '2024-06-13'
  AND order_id = min_timeuuid('2024-06-13 09:00+00');

-- TTL of single elements (CQL's UPDATE ... USING TTL): the elements an
-- UPDATE writes under widecol.ttl expire on their own, the others stay;
-- also after a flush and a compaction.  A TTL of 2 s, not 1: expiry counts
-- whole seconds, so a 1 s TTL written at the end of a second can expire
-- before the next statement reads it
INSERT INTO conversations (conversation_id, participants, unread_count)
VALUES ('c0000000-0000-4000-8000-000000000005',
        ARRAY['a0000000-0000-4000-8000-000000000001']::uuid[],
        '{"a0000000-0000-4000-8000-000000000001": 1}');
SET widecol.ttl = 2;
UPDATE conversations
   SET participants = participants || ARRAY['b0000000-0000-4000-8000-000000000002']::uuid[],
       unread_count = unread_count || '{"b0000000-0000-4000-8000-000000000002": 2}'
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000005';
RESET widecol.ttl;
UPDATE conversations
   SET unread_count['0c000000-0000-4000-8000-000000000003'] = '3'
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000005';
SELECT participants, unread_count FROM conversations
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000005';
SELECT pg_sleep(2.5);
SELECT participants, unread_count FROM conversations
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000005';
SELECT widecol.flush('conversations');
SELECT widecol.compact('conversations');
SELECT participants, unread_count FROM conversations
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000005';

DROP SERVER collections_t CASCADE;
DROP SCHEMA collections_t CASCADE;
