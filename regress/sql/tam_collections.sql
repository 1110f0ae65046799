--
-- tam_collections: the collection workloads of collections (order items
-- list<text>, conversations with participants set<uuid> and unread_count
-- map<uuid, int>, player profiles and routes with frozen collections) on
-- tables USING widecol, whose collection columns are named by the table
-- option cql_types: the same statements and the same results as the
-- foreign tables there.  Element UPDATEs with the whole primary key are
-- planned as a WidecolModify that writes the elements without reading
-- (EXPLAIN); other shapes read and write the whole value.  cql_types is
-- checked against the columns and follows RENAME and DROP COLUMN.
-- Own keyspace (server tam_collections_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('tam_collections_t');
DROP SCHEMA IF EXISTS tam_collections_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA tam_collections_t;
SET search_path = tam_collections_t, public, widecol;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE SERVER tam_collections_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- orders_by_user_date: items list<text>
CREATE TABLE orders_by_user_date (
    user_id      uuid,
    order_date   date,
    order_id     timeuuid,
    total_amount numeric,
    items        text[]
) USING widecol WITH (keyspace = 'tam_collections_t',
    primary_key = '((user_id), order_date, order_id)',
    clustering_order = 'order_date DESC, order_id DESC',
    cql_types = 'items list<text>');

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
CREATE TABLE conversations (
    conversation_id      uuid,
    participants         uuid[],
    last_message_at      timestamptz,
    last_message_preview text,
    unread_count         jsonb
) USING widecol WITH (keyspace = 'tam_collections_t', primary_key = 'conversation_id',
    cql_types = 'participants set<uuid>, unread_count map<uuid, int>');

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

-- cql_types is checked against the columns at CREATE and ALTER
CREATE TABLE bad1 (k int, s text) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 's set<text>');
CREATE TABLE bad2 (k int, m text[]) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 'm map<text, int>');
CREATE TABLE bad3 (k int, l int[]) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 'l list<text>');
CREATE TABLE bad4 (k int, l int[]) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 'l tuple<int>');
CREATE TABLE bad5 (k int, l int[]) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 'l list<frozen<list<int>>>');
ALTER TABLE conversations SET (cql_types = 'participants set<uuid>, unread_count map<uuid, int>, last_message_preview list<int>');
-- the option's own syntax, and the columns it names
CREATE TABLE bad8 (k int, l int[]) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 'l list<int>,');
CREATE TABLE bad9 (k int, l int[]) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 'l');
CREATE TABLE bad10 (k int, l int[]) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 'nope list<int>');

-- player profiles: currency map<text, int>; user events: frozen properties
CREATE TABLE player_profiles (
    player_id  uuid,
    username   text,
    currency   jsonb,
    badges     text[]
) USING widecol WITH (keyspace = 'tam_collections_t', primary_key = 'player_id',
    cql_types = 'currency map<text,int>, badges frozen<set<text>>');
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
CREATE TABLE routes (
    origin text,
    path   int[],
    stops  text[],
    note   text
) USING widecol WITH (keyspace = 'tam_collections_t', primary_key = '((origin, stops), path)',
    clustering_order = 'path DESC',
    cql_types = 'path frozen<list<int>>, stops frozen<list<text>>');
INSERT INTO routes VALUES
    ('x', ARRAY[1, 2], ARRAY['a', 'b'], 'one-two'), ('x', ARRAY[1], ARRAY['a', 'b'], 'one'),
    ('x', ARRAY[2], ARRAY['a', 'b'], 'two'), ('x', ARRAY[1, 2, 3], ARRAY['a', 'b'], 'one-two-three'),
    ('x', ARRAY[1], ARRAY['b'], 'other partition');
SELECT path, note FROM routes WHERE origin = 'x' AND stops = ARRAY['a', 'b'];
SELECT path, note FROM routes WHERE origin = 'x' AND stops = ARRAY['a', 'b'] AND path = ARRAY[1, 2];
SELECT stops, path, note FROM routes WHERE origin = 'x' AND stops = ARRAY['b'];
-- frozen sets may be key columns too: stored sorted and unique, so any
-- order of the elements (duplicates too) names the same key, as in CQL
CREATE TABLE tag_groups (
    tags  text[],
    level int[],
    note  text
) USING widecol WITH (keyspace = 'tam_collections_t', primary_key = '((tags), level)',
    clustering_order = 'level DESC', cql_types = 'tags frozen<set<text>>, level frozen<set<int>>');
INSERT INTO tag_groups VALUES
    (ARRAY['b', 'a', 'b'], ARRAY[2, 1], 'ab 12'), (ARRAY['a', 'b'], ARRAY[1, 2, 1], 'ab 12 again'),
    (ARRAY['a', 'b'], ARRAY[3], 'ab 3'), (ARRAY['a'], ARRAY[1], 'a 1');
SELECT tags, level, note FROM tag_groups WHERE tags = ARRAY['b', 'a'];
SELECT note FROM tag_groups WHERE tags = ARRAY['a', 'b', 'a'] AND level = ARRAY[2, 1, 2];
UPDATE tag_groups SET note = 'A 1' WHERE tags = ARRAY['a', 'a'] AND level = ARRAY[1];
DELETE FROM tag_groups WHERE tags = ARRAY['b', 'a'] AND level = ARRAY[3];
SELECT tags, level, note FROM tag_groups ORDER BY note;
-- frozen maps may be key columns: in key order, compared entry by entry
CREATE TABLE price_tiers (attrs jsonb, tier jsonb, note text) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = '((attrs), tier)',
          clustering_order = 'tier DESC',
          cql_types = 'attrs frozen<map<text, int>>, tier frozen<map<int, text>>');
INSERT INTO price_tiers VALUES
    ('{"b": 2, "a": 1}', '{"2": "x"}', 'ab 2x'), ('{"a": 1, "b": 2}', '{"10": "y", "2": "x"}', 'ab 2x10y'),
    ('{"a": 1, "b": 2}', '{"10": "y"}', 'ab 10y'), ('{"a": 1, "b": 2}', '{}', 'ab empty'),
    ('{"a": 1}', '{"10": "y"}', 'a 10y');
SELECT tier, note FROM price_tiers WHERE attrs = '{"b": 2, "a": 1}';
SELECT note FROM price_tiers WHERE attrs = '{"a": 1, "b": 2}' AND tier = '{"10": "y", "2": "x"}';
-- other collections are no key columns
CREATE TABLE bad6 (k jsonb, v int) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 'k map<text, int>');
CREATE TABLE bad7 (k text[], v int) USING widecol
    WITH (keyspace = 'tam_collections_t', primary_key = 'k', cql_types = 'k list<text>');

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

-- a collection column renamed keeps its type; a dropped one leaves cql_types
ALTER TABLE conversations RENAME COLUMN participants TO members;
ALTER TABLE conversations DROP COLUMN unread_count;
SELECT reloptions FROM pg_class WHERE oid = 'conversations'::regclass;
UPDATE conversations SET members = members || ARRAY['d0000000-0000-4000-8000-000000000004']::uuid[]
WHERE conversation_id = 'c0000000-0000-4000-8000-000000000002';
SELECT conversation_id, members FROM conversations ORDER BY 1;

SET client_min_messages = warning;
DROP SCHEMA tam_collections_t CASCADE;
CALL widecol_test_drop_keyspaces('tam_collections_t');
