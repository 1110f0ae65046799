--
-- messaging: the messaging system of the sample workloads (messages, conversations,
-- user_conversations) with widecol SQL.
--   * messages clustered by a timeuuid DESC: a conversation reads newest
--     first with LIMIT and no Sort node, pages with message_id < last seen;
--   * conversations with CQL SET<UUID> as uuid[] and MAP<UUID, INT> as jsonb,
--     collection updates as read-modify-write in SQL;
--   * user_conversations clustered by last_message_at DESC (the seed's key
--     names a column its column list lacks: added here).
-- Message ids are deterministic timeuuids (min_timeuuid of the send time) or
-- now_timeuuid(); no id is printed.  Own keyspace (server :ks) and
-- schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;

CREATE SCHEMA :ks;
SET search_path = :ks, public, widecol;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE SERVER :ks FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'NetworkTopologyStrategy', 'dc1': 3}$$);

CREATE :tbl messages (
    message_id      timeuuid,
    conversation_id uuid,
    sender_id       uuid,
    recipient_id    uuid,
    content         text,
    created_at      timestamptz,
    read_at         timestamptz,
    deleted_at      timestamptz
) :with (:ksopt
    primary_key :eq '(conversation_id, message_id)',
    clustering_order :eq 'message_id DESC'
);

-- participants SET<UUID> -> uuid[] (kept sorted and distinct by the writers),
-- unread_count MAP<UUID, INT> -> jsonb
CREATE :tbl conversations (
    conversation_id      uuid,
    participants         uuid[],
    last_message_at      timestamptz,
    last_message_preview text,
    unread_count         jsonb
) :with (:ksopt primary_key :eq 'conversation_id');

-- the seed's user_conversations, as written: its PRIMARY KEY names
-- last_message_at, which is not a column; refused at CREATE time
CREATE :tbl user_conversations (
    user_id              uuid,
    conversation_id      uuid,
    last_read_message_id timeuuid,
    added_at             timestamptz
) :with (:ksopt
    primary_key :eq '(user_id, last_message_at)',
    clustering_order :eq 'last_message_at DESC'
);
-- with the column added
CREATE :tbl user_conversations (
    user_id              uuid,
    last_message_at      timestamptz,
    conversation_id      uuid,
    last_read_message_id timeuuid,
    added_at             timestamptz
) :with (:ksopt
    primary_key :eq '(user_id, last_message_at)',
    clustering_order :eq 'last_message_at DESC'
);

-- the application's users live in an ordinary table
CREATE TABLE app_users (user_id uuid PRIMARY KEY, name text);
INSERT INTO app_users VALUES
    ('a0000000-0000-4000-8000-000000000001', 'alice'),
    ('b0000000-0000-4000-8000-000000000002', 'bob'),
    ('c0000000-0000-4000-8000-000000000003', 'carol');

-- send_message, as SQL: one conversation between alice and bob
CREATE FUNCTION send_message(conv uuid, sender uuid, recipient uuid,
                             body text, at timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO conversations
        (conversation_id, participants, last_message_at, last_message_preview)
    VALUES (conv, ARRAY(SELECT DISTINCT p FROM unnest(ARRAY[sender, recipient]) p ORDER BY p),
            at, left(body, 50));
    INSERT INTO messages
        (message_id, conversation_id, sender_id, recipient_id, content, created_at)
    VALUES (min_timeuuid(at), conv, sender, recipient, body, at);
$$;

-- five messages sent by one statement: every call's upserts come after those
-- of the call before, so the conversation row ends with the last message
-- (as with five separate statements)
SELECT send_message('11111111-0000-4000-8000-00000000c001', a, b, m, t)
FROM (VALUES
    ('a0000000-0000-4000-8000-000000000001'::uuid, 'b0000000-0000-4000-8000-000000000002'::uuid,
     'hi bob', timestamptz '2024-05-01 09:00:00+00'),
    ('b0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001',
     'hi alice', '2024-05-01 09:01:00+00'),
    ('a0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002',
     'lunch today?', '2024-05-01 09:02:30+00'),
    ('b0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001',
     'sure, 12:30 at the usual place, I will book a table for the two of us', '2024-05-01 09:05:00+00'),
    ('a0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002',
     'great', '2024-05-01 09:06:00+00')) v(a, b, m, t)
ORDER BY t;

-- a second conversation with a long history: 200 messages, one a minute
INSERT INTO messages (message_id, conversation_id, sender_id, recipient_id, content, created_at)
SELECT min_timeuuid(timestamptz '2024-05-02 00:00:00+00' + i * interval '1 minute'),
       '22222222-0000-4000-8000-00000000c002',
       CASE WHEN i % 2 = 0 THEN 'b0000000-0000-4000-8000-000000000002'::uuid
            ELSE 'c0000000-0000-4000-8000-000000000003'::uuid END,
       CASE WHEN i % 2 = 0 THEN 'c0000000-0000-4000-8000-000000000003'::uuid
            ELSE 'b0000000-0000-4000-8000-000000000002'::uuid END,
       'message #' || i,
       timestamptz '2024-05-02 00:00:00+00' + i * interval '1 minute'
FROM generate_series(1, 200) i;
INSERT INTO conversations VALUES
    ('22222222-0000-4000-8000-00000000c002',
     '{b0000000-0000-4000-8000-000000000002,c0000000-0000-4000-8000-000000000003}',
     '2024-05-02 03:20:00+00', 'message #200',
     '{"b0000000-0000-4000-8000-000000000002": 0, "c0000000-0000-4000-8000-000000000003": 100}');

-- get_conversation(conversation_id, limit): newest first, one partition, the
-- LIMIT pushed down, no Sort
EXPLAIN (COSTS OFF)
SELECT * FROM messages
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001' LIMIT 50;
SELECT u.name AS sender, m.content, m.created_at
FROM (SELECT * FROM messages
      WHERE conversation_id = '11111111-0000-4000-8000-00000000c001' LIMIT 50) m
JOIN app_users u ON u.user_id = m.sender_id
ORDER BY m.created_at DESC;
-- the order the table gives (message_id DESC) is the send order, newest first
SELECT array_agg(content) AS as_stored
FROM messages WHERE conversation_id = '11111111-0000-4000-8000-00000000c001';
-- the conversation row: the set and the preview of the last upsert
SELECT participants, last_message_at, last_message_preview, unread_count
FROM conversations WHERE conversation_id = '11111111-0000-4000-8000-00000000c001';

-- paging through a long conversation, 3 messages a page: the next page starts
-- after the last message_id of the previous one
EXPLAIN (COSTS OFF)
SELECT content FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
  AND message_id < min_timeuuid('2024-05-02 03:18:00+00')
ORDER BY message_id DESC LIMIT 3;
SELECT content FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
ORDER BY message_id DESC LIMIT 3;
SELECT content FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
  AND message_id < (SELECT message_id FROM messages
                    WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
                    ORDER BY message_id DESC OFFSET 2 LIMIT 1)
ORDER BY message_id DESC LIMIT 3;
-- the first messages of the conversation: reverse of the clustering order
EXPLAIN (COSTS OFF)
SELECT content FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
ORDER BY message_id LIMIT 2;
SELECT content FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
ORDER BY message_id LIMIT 2;
-- messages sent in a time window, by timeuuid range (minTimeuuid/maxTimeuuid)
EXPLAIN (COSTS OFF)
SELECT count(*) FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
  AND message_id >= min_timeuuid('2024-05-02 01:00:00+00')
  AND message_id <= max_timeuuid('2024-05-02 01:59:59.999999+00');
SELECT count(*), min(content), max(created_at) FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
  AND message_id >= min_timeuuid('2024-05-02 01:00:00+00')
  AND message_id <= max_timeuuid('2024-05-02 01:59:59.999999+00');
-- the time inside each id is the send time
SELECT count(*) FILTER (WHERE timeuuid_timestamp(message_id) = created_at) AS same_time,
       count(*) AS total
FROM messages WHERE conversation_id = '22222222-0000-4000-8000-00000000c002';

-- read receipts: bob reads alice's messages (filter inside one partition)
UPDATE messages SET read_at = '2024-05-01 09:10:00+00'
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001'
  AND sender_id = 'a0000000-0000-4000-8000-000000000001' AND read_at IS NULL;
SELECT content, read_at FROM messages
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001';
-- a soft delete (deleted_at) and a hard delete of one message (a row
-- tombstone by full primary key, no read)
UPDATE messages SET deleted_at = '2024-05-01 09:11:00+00'
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001'
  AND message_id = min_timeuuid('2024-05-01 09:02:30+00');
EXPLAIN (COSTS OFF)
DELETE FROM messages
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001'
  AND message_id = min_timeuuid('2024-05-01 09:06:00+00');
DELETE FROM messages
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001'
  AND message_id = min_timeuuid('2024-05-01 09:06:00+00');
SELECT content, deleted_at IS NOT NULL AS deleted FROM messages
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001';
-- purge history older than a time: a range tombstone, no read
EXPLAIN (COSTS OFF)
DELETE FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
  AND message_id < min_timeuuid('2024-05-02 03:00:00+00');
DELETE FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002'
  AND message_id < min_timeuuid('2024-05-02 03:00:00+00');
SELECT count(*), min(content), max(content) FROM messages
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002';

-- collections: add carol to the first conversation (CQL participants =
-- participants + {carol}) and set her unread counter (CQL unread_count[carol] = 5)
UPDATE conversations
SET participants = ARRAY(SELECT DISTINCT p
                         FROM unnest(participants || 'c0000000-0000-4000-8000-000000000003'::uuid) p
                         ORDER BY p),
    unread_count = coalesce(unread_count, '{}')
                   || jsonb_build_object('c0000000-0000-4000-8000-000000000003', 5)
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001';
-- adding an existing member changes nothing (set semantics)
UPDATE conversations
SET participants = ARRAY(SELECT DISTINCT p
                         FROM unnest(participants || 'a0000000-0000-4000-8000-000000000001'::uuid) p
                         ORDER BY p)
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001';
-- bob reads conversation 2: his counter to 0, carol's counter incremented
UPDATE conversations
SET unread_count = unread_count
    || jsonb_build_object('c0000000-0000-4000-8000-000000000003',
                          (unread_count ->> 'c0000000-0000-4000-8000-000000000003')::int + 1)
WHERE conversation_id = '22222222-0000-4000-8000-00000000c002';
SELECT conversation_id, cardinality(participants) AS members,
       (SELECT array_agg(u.name ORDER BY u.name) FROM app_users u
        WHERE u.user_id = ANY (c.participants)) AS names,
       unread_count
FROM conversations c ORDER BY conversation_id;
-- the unread counter of one member (CQL unread_count[?])
SELECT (unread_count ->> 'c0000000-0000-4000-8000-000000000003')::int AS carol_unread
FROM conversations WHERE conversation_id = '22222222-0000-4000-8000-00000000c002';
-- membership test on the set needs a scan of all conversations: refused
-- without allow_filtering
SELECT conversation_id FROM conversations
WHERE 'c0000000-0000-4000-8000-000000000003' = ANY (participants);
SET widecol.allow_filtering = on;
SELECT conversation_id FROM conversations
WHERE 'c0000000-0000-4000-8000-000000000003' = ANY (participants)
ORDER BY conversation_id;
RESET widecol.allow_filtering;

-- user_conversations: a user's inbox, the most recently active first.  A new
-- message moves the conversation: delete the row at the old last_message_at
-- (a row tombstone by full key) and insert it at the new one.
INSERT INTO user_conversations (user_id, last_message_at, conversation_id, added_at)
SELECT p, c.last_message_at, c.conversation_id, '2024-05-01 00:00:00+00'
FROM conversations c, unnest(c.participants) p;
SELECT u.name, count(*) FROM user_conversations uc
JOIN app_users u USING (user_id) GROUP BY u.name ORDER BY u.name;
-- carol writes in conversation 1 at 2024-05-03 08:00
SELECT send_message('11111111-0000-4000-8000-00000000c001',
                    'c0000000-0000-4000-8000-000000000003',
                    'a0000000-0000-4000-8000-000000000001',
                    'hello everyone', '2024-05-03 08:00:00+00');
DELETE FROM user_conversations
WHERE user_id = 'c0000000-0000-4000-8000-000000000003'
  AND last_message_at = '2024-05-01 09:06:00+00';
INSERT INTO user_conversations (user_id, last_message_at, conversation_id, last_read_message_id, added_at)
VALUES ('c0000000-0000-4000-8000-000000000003', '2024-05-03 08:00:00+00',
        '11111111-0000-4000-8000-00000000c001', min_timeuuid('2024-05-03 08:00:00+00'),
        '2024-05-01 00:00:00+00');
-- the inbox page: newest first, LIMIT pushed, no Sort
EXPLAIN (COSTS OFF)
SELECT conversation_id, last_message_at FROM user_conversations
WHERE user_id = 'c0000000-0000-4000-8000-000000000003'
ORDER BY last_message_at DESC LIMIT 10;
SELECT uc.last_message_at, c.last_message_preview,
       uc.last_read_message_id IS NOT NULL AS has_read_marker
FROM user_conversations uc
JOIN conversations c USING (conversation_id)
WHERE uc.user_id = 'c0000000-0000-4000-8000-000000000003'
ORDER BY uc.last_message_at DESC LIMIT 10;
-- the inbox joined to each conversation's newest message (LATERAL, one
-- partition read per conversation)
EXPLAIN (COSTS OFF)
SELECT uc.last_message_at, m.content
FROM user_conversations uc
CROSS JOIN LATERAL (SELECT content FROM messages m
                    WHERE m.conversation_id = uc.conversation_id
                    ORDER BY message_id DESC LIMIT 1) m
WHERE uc.user_id = 'c0000000-0000-4000-8000-000000000003';
SELECT uc.last_message_at, m.content
FROM user_conversations uc
CROSS JOIN LATERAL (SELECT content FROM messages m
                    WHERE m.conversation_id = uc.conversation_id
                    ORDER BY message_id DESC LIMIT 1) m
WHERE uc.user_id = 'c0000000-0000-4000-8000-000000000003'
ORDER BY uc.last_message_at DESC;

-- a message id made by now_timeuuid() (CQL now()) sorts after every earlier one
INSERT INTO messages (message_id, conversation_id, sender_id, recipient_id, content, created_at)
VALUES (now_timeuuid(), '11111111-0000-4000-8000-00000000c001',
        'b0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000003',
        'welcome carol', '2024-05-03 08:01:00+00');
SELECT content FROM messages
WHERE conversation_id = '11111111-0000-4000-8000-00000000c001' LIMIT 2;

DROP FUNCTION send_message(uuid, uuid, uuid, text, timestamptz);
DROP TABLE app_users;

SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;
