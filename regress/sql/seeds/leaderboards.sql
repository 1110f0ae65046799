--
-- leaderboards: the gaming schema of the sample workloads (player_profiles,
-- player_inventory, player_scores clustered by score DESC, leaderboard_daily
-- with the composite partition key (game_id, date)) with widecol SQL.
--   * get_leaderboard(game_id, limit): the top N of a game straight from the
--     clustering order: LIMIT pushed down, no Sort node (EXPLAIN);
--   * the bottom N by the reverse order, ranks by window functions over the
--     ordered read, a score change as delete + insert (score is a key);
--   * MAP<TEXT, INT> as jsonb; the inventory "quantity = quantity + n".
-- Own keyspace (server :ks) and schema; can run twice in a row.
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
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

CREATE :tbl player_profiles (
    player_id  uuid,
    username   text,
    email      text,
    level      integer,
    experience bigint,
    currency   jsonb,
    created_at timestamptz,
    last_login timestamptz
) :with (:ksopt primary_key :eq 'player_id');

CREATE :tbl player_inventory (
    player_id   uuid,
    item_id     uuid,
    quantity    integer,
    acquired_at timestamptz
) :with (:ksopt primary_key :eq '((player_id), item_id)');

CREATE :tbl player_scores (
    game_id     text,
    player_id   uuid,
    score       integer,
    achieved_at timestamptz
) :with (:ksopt
    primary_key :eq '((game_id), score, player_id)',
    clustering_order :eq 'score DESC'
);

CREATE :tbl leaderboard_daily (
    game_id   text,
    date      date,
    player_id uuid,
    score     integer,
    rank      integer
) :with (:ksopt primary_key :eq '((game_id, date), rank)');

-- 40 players; player n has the uuid ...0<n> and the name player<n>
CREATE FUNCTION pid(n int) RETURNS uuid IMMUTABLE LANGUAGE sql
AS $$ SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
INSERT INTO player_profiles (player_id, username, email, level, experience, currency, created_at)
SELECT pid(n), 'player' || n, 'player' || n || '@example.com', 1 + n % 10, n * 1000,
       jsonb_build_object('gold', n * 10, 'gems', n % 3),
       timestamptz '2024-01-01 00:00:00+00' + n * interval '1 day'
FROM generate_series(1, 40) n;

-- record_score for two games; several players share a score (ties are
-- ordered by player_id, the next clustering column, ascending)
INSERT INTO player_scores
SELECT 'tetris', pid(n), (n * 37) % 1000 / 10 * 10,
       timestamptz '2024-07-01 00:00:00+00' + n * interval '1 minute'
FROM generate_series(1, 40) n;
INSERT INTO player_scores
SELECT 'chess', pid(n), 1200 + (n * 53) % 400, timestamptz '2024-07-01 00:00:00+00'
FROM generate_series(1, 25) n;
SELECT game_id, count(*) FROM player_scores
WHERE game_id IN ('tetris', 'chess') GROUP BY 1 ORDER BY 1;

-- get_leaderboard(game_id, limit=10): SELECT * FROM player_scores WHERE
-- game_id = ? LIMIT ?  -- the top 10 without sorting anything
EXPLAIN (COSTS OFF)
SELECT * FROM player_scores WHERE game_id = 'tetris' LIMIT 10;
EXPLAIN (COSTS OFF)
SELECT * FROM player_scores WHERE game_id = 'tetris'
ORDER BY score DESC, player_id LIMIT 10;
EXPLAIN (COSTS OFF)
SELECT * FROM player_scores WHERE game_id = 'tetris'
ORDER BY score DESC LIMIT 10;
SELECT p.username, s.score
FROM (SELECT * FROM player_scores WHERE game_id = 'tetris'
      ORDER BY score DESC, player_id LIMIT 10) s
JOIN player_profiles p USING (player_id)
ORDER BY s.score DESC, s.player_id;
-- the same ten in the order the table returns them
SELECT array_agg(score) AS scores, array_agg(right(player_id::text, 2)) AS players
FROM (SELECT * FROM player_scores WHERE game_id = 'tetris' LIMIT 10) s;
-- the bottom 3: the exact reverse order (score ASC, player_id DESC), no Sort
EXPLAIN (COSTS OFF)
SELECT score, player_id FROM player_scores WHERE game_id = 'tetris'
ORDER BY score, player_id DESC LIMIT 3;
SELECT score, right(player_id::text, 2) AS player FROM player_scores
WHERE game_id = 'tetris' ORDER BY score, player_id DESC LIMIT 3;
-- scores in a band (clustering range on the first clustering column)
EXPLAIN (COSTS OFF)
SELECT score, player_id FROM player_scores
WHERE game_id = 'chess' AND score BETWEEN 1400 AND 1500;
SELECT score, right(player_id::text, 2) AS player FROM player_scores
WHERE game_id = 'chess' AND score BETWEEN 1400 AND 1500;
-- ranks: rank() and dense_rank() over the ordered read, no Sort
EXPLAIN (COSTS OFF)
SELECT player_id, score, rank() OVER (ORDER BY score DESC)
FROM player_scores WHERE game_id = 'tetris';
SELECT right(player_id::text, 2) AS player, score,
       rank() OVER w, dense_rank() OVER w
FROM player_scores WHERE game_id = 'tetris'
WINDOW w AS (ORDER BY score DESC)
LIMIT 8;
-- a player's rank: count of better scores + 1
SELECT count(*) + 1 AS rank_of_player7 FROM player_scores
WHERE game_id = 'tetris'
  AND score > (SELECT score FROM player_scores WHERE game_id = 'tetris'
               AND player_id = pid(7) AND score >= 0);

-- player 7 improves: score is a clustering column, so the old entry is
-- deleted by its full key (a row tombstone, no read) and the new one inserted
EXPLAIN (COSTS OFF)
DELETE FROM player_scores WHERE game_id = 'tetris' AND score = 250 AND player_id = pid(7);
DELETE FROM player_scores WHERE game_id = 'tetris' AND score = 250 AND player_id = pid(7);
INSERT INTO player_scores VALUES ('tetris', pid(7), 995, '2024-07-02 00:00:00+00');
SELECT score, right(player_id::text, 2) AS player FROM player_scores
WHERE game_id = 'tetris' LIMIT 3;
SELECT count(*) FROM player_scores WHERE game_id = 'tetris';
-- cut the long tail: every score below 100, one range tombstone
EXPLAIN (COSTS OFF)
DELETE FROM player_scores WHERE game_id = 'tetris' AND score < 100;
DELETE FROM player_scores WHERE game_id = 'tetris' AND score < 100;
SELECT count(*), min(score) FROM player_scores WHERE game_id = 'tetris';

-- the daily leaderboard: the top 5 of each game with their ranks, written by
-- a job into (game_id, date) partitions clustered by rank
INSERT INTO leaderboard_daily
SELECT g, '2024-07-02', s.player_id, s.score, s.rank
FROM unnest(ARRAY['tetris', 'chess']) g
CROSS JOIN LATERAL (
    SELECT player_id, score, row_number() OVER (ORDER BY score DESC, player_id) AS rank
    FROM player_scores ps WHERE ps.game_id = g
    ORDER BY score DESC, player_id LIMIT 5) s;
EXPLAIN (COSTS OFF)
SELECT rank, player_id, score FROM leaderboard_daily
WHERE game_id = 'chess' AND date = '2024-07-02' AND rank <= 3;
SELECT l.rank, p.username, l.score
FROM leaderboard_daily l JOIN player_profiles p USING (player_id)
WHERE l.game_id = 'chess' AND l.date = '2024-07-02' AND l.rank <= 3
ORDER BY l.rank;
SELECT game_id, array_agg(score ORDER BY rank) AS top5
FROM leaderboard_daily
WHERE game_id IN ('tetris', 'chess') AND date = '2024-07-02'
GROUP BY game_id ORDER BY game_id;
-- a day without a leaderboard is an empty partition
SELECT count(*) FROM leaderboard_daily WHERE game_id = 'chess' AND date = '2024-07-03';

-- profiles: currency MAP<TEXT, INT> as jsonb; a purchase spends gold
UPDATE player_profiles
SET currency = currency || jsonb_build_object('gold', (currency ->> 'gold')::int - 25),
    last_login = '2024-07-02 10:00:00+00'
WHERE player_id = pid(7);
SELECT username, level, experience, currency, last_login
FROM player_profiles WHERE player_id = pid(7);

-- update_inventory(player_id, item_id, quantity): quantity = quantity + n
INSERT INTO player_inventory VALUES
    (pid(7), 'f0000000-0000-4000-8000-000000000001', 1, '2024-07-01 12:00:00+00'),
    (pid(7), 'f0000000-0000-4000-8000-000000000002', 10, '2024-07-01 12:00:00+00');
UPDATE player_inventory SET quantity = quantity + 5
WHERE player_id = pid(7) AND item_id = 'f0000000-0000-4000-8000-000000000002';
UPDATE player_inventory SET quantity = quantity + 5
WHERE player_id = pid(7) AND item_id = 'f0000000-0000-4000-8000-000000000002';
-- an item the player does not own: UPDATE finds no row and creates none
UPDATE player_inventory SET quantity = quantity + 5
WHERE player_id = pid(7) AND item_id = 'f0000000-0000-4000-8000-000000000003';
SELECT item_id, quantity FROM player_inventory WHERE player_id = pid(7);
-- an INSERT instead creates (or overwrites) the item
INSERT INTO player_inventory (player_id, item_id, quantity)
VALUES (pid(7), 'f0000000-0000-4000-8000-000000000003', 2);
SELECT item_id, quantity, acquired_at FROM player_inventory WHERE player_id = pid(7);

DROP FUNCTION pid(int);

SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;
