--
-- ledger: the financial tables of the sample workloads (transactions, account_balances,
-- transaction_history partitioned by (account_id, year, month)) with widecol
-- SQL.
--   * a month of an account is one partition, clustered by the transaction's
--     timeuuid DESC: statements newest first, LIMIT pushed, no Sort;
--   * CQL DECIMAL as numeric: amounts and running balances stay exact;
--   * transactions clustered by ("timestamp" DESC, transaction_id): time
--     windows by clustering range.
-- Transaction ids are deterministic timeuuids (min_timeuuid of the booking
-- time) and never printed.  Own keyspace (server :ks) and schema; can
-- run twice in a row.
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

-- CLUSTERING ORDER BY (timestamp DESC): transaction_id keeps the default ASC
CREATE :tbl transactions (
    transaction_id   timeuuid,
    account_id       uuid,
    transaction_type text,
    amount           numeric,
    balance_after    numeric,
    "timestamp"      timestamptz,
    status           text,
    metadata         jsonb
) :with (:ksopt
    primary_key :eq '(account_id, "timestamp", transaction_id)',
    clustering_order :eq '"timestamp" DESC'
);

CREATE :tbl account_balances (
    account_id          uuid,
    balance             numeric,
    currency            text,
    last_transaction_id timeuuid,
    updated_at          timestamptz
) :with (:ksopt primary_key :eq 'account_id');

CREATE :tbl transaction_history (
    account_id     uuid,
    year           integer,
    month          integer,
    transaction_id timeuuid,
    amount         numeric
) :with (:ksopt
    primary_key :eq '((account_id, year, month), transaction_id)',
    clustering_order :eq 'transaction_id DESC'
);

-- 150 bookings per account over January-March 2024, every 14 hours;
-- amounts with cents, deposits and withdrawals
CREATE TABLE bookings AS
SELECT a.account_id, i,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '14 hours' + a.n * interval '1 minute' AS ts,
       CASE WHEN i % 5 = 0 THEN 1000.00 + a.n
            ELSE -round(((i * 7919 + a.n * 131) % 25000) / 100.0, 2) END AS amount
FROM (VALUES ('acc00000-0000-4000-8000-000000000001'::uuid, 1),
             ('acc00000-0000-4000-8000-000000000002'::uuid, 2)) a(account_id, n),
     generate_series(0, 149) i;
INSERT INTO transactions
SELECT min_timeuuid(ts), account_id,
       CASE WHEN amount > 0 THEN 'deposit' ELSE 'withdrawal' END,
       amount, sum(amount) OVER (PARTITION BY account_id ORDER BY ts), ts, 'settled',
       jsonb_build_object('channel', CASE WHEN i % 3 = 0 THEN 'card' ELSE 'transfer' END)
FROM bookings;
INSERT INTO transaction_history
SELECT account_id, extract(year FROM ts)::int, extract(month FROM ts)::int,
       min_timeuuid(ts), amount
FROM bookings;
INSERT INTO account_balances
SELECT DISTINCT ON (account_id) account_id,
       sum(amount) OVER (PARTITION BY account_id), 'EUR', min_timeuuid(ts), ts
FROM bookings ORDER BY account_id, ts DESC;

-- the statement of one account and one month: a single partition, newest
-- first, no Sort
EXPLAIN (COSTS OFF)
SELECT transaction_id, amount FROM transaction_history
WHERE account_id = 'acc00000-0000-4000-8000-000000000001' AND year = 2024 AND month = 2
ORDER BY transaction_id DESC LIMIT 5;
SELECT timeuuid_timestamp(transaction_id) AS booked, amount FROM transaction_history
WHERE account_id = 'acc00000-0000-4000-8000-000000000001' AND year = 2024 AND month = 2
ORDER BY transaction_id DESC LIMIT 5;
-- the month's first booking: the reverse order
EXPLAIN (COSTS OFF)
SELECT transaction_id, amount FROM transaction_history
WHERE account_id = 'acc00000-0000-4000-8000-000000000001' AND year = 2024 AND month = 2
ORDER BY transaction_id LIMIT 1;
SELECT timeuuid_timestamp(transaction_id) AS booked, amount FROM transaction_history
WHERE account_id = 'acc00000-0000-4000-8000-000000000001' AND year = 2024 AND month = 2
ORDER BY transaction_id LIMIT 1;
-- monthly totals of both accounts: 2 x 3 partitions (IN on every key column)
EXPLAIN (COSTS OFF)
SELECT account_id, month, count(*), sum(amount)
FROM transaction_history
WHERE account_id IN ('acc00000-0000-4000-8000-000000000001', 'acc00000-0000-4000-8000-000000000002')
  AND year = 2024 AND month IN (1, 2, 3)
GROUP BY account_id, month;
SELECT right(account_id::text, 1) AS account, month, count(*), sum(amount),
       sum(amount) FILTER (WHERE amount > 0) AS deposits
FROM transaction_history
WHERE account_id IN ('acc00000-0000-4000-8000-000000000001', 'acc00000-0000-4000-8000-000000000002')
  AND year = 2024 AND month IN (1, 2, 3)
GROUP BY account_id, month ORDER BY account_id, month;
-- the same totals from the heap copy (must agree to the cent)
SELECT right(account_id::text, 1) AS account, extract(month FROM ts) AS month,
       count(*), sum(amount)
FROM bookings GROUP BY 1, 2 ORDER BY 1, 2;
-- the first half of February by timeuuid range
SELECT count(*), sum(amount) FROM transaction_history
WHERE account_id = 'acc00000-0000-4000-8000-000000000002' AND year = 2024 AND month = 2
  AND transaction_id >= min_timeuuid('2024-02-01 00:00:00+00')
  AND transaction_id <  min_timeuuid('2024-02-15 00:00:00+00');
SELECT count(*), sum(amount) FROM bookings
WHERE account_id = 'acc00000-0000-4000-8000-000000000002'
  AND ts >= '2024-02-01 00:00:00+00' AND ts < '2024-02-15 00:00:00+00';

-- transactions: the latest of an account, and a time window
EXPLAIN (COSTS OFF)
SELECT "timestamp", transaction_type, amount, balance_after FROM transactions
WHERE account_id = 'acc00000-0000-4000-8000-000000000002' LIMIT 3;
SELECT "timestamp", transaction_type, amount, balance_after FROM transactions
WHERE account_id = 'acc00000-0000-4000-8000-000000000002' LIMIT 3;
EXPLAIN (COSTS OFF)
SELECT "timestamp", amount FROM transactions
WHERE account_id = 'acc00000-0000-4000-8000-000000000001'
  AND "timestamp" >= '2024-03-01' AND "timestamp" < '2024-03-03';
SELECT "timestamp", amount, balance_after, metadata ->> 'channel' AS channel
FROM transactions
WHERE account_id = 'acc00000-0000-4000-8000-000000000001'
  AND "timestamp" >= '2024-03-01' AND "timestamp" < '2024-03-03';
-- the stored running balance agrees with the sum of the amounts, and the
-- latest balance_after with account_balances
SELECT count(*) AS txns,
       bool_and(balance_after = running) AS balances_exact
FROM (SELECT balance_after,
             sum(amount) OVER (ORDER BY "timestamp", transaction_id) AS running
      FROM transactions
      WHERE account_id = 'acc00000-0000-4000-8000-000000000001') t;
SELECT right(b.account_id::text, 1) AS account, b.balance, b.currency,
       b.balance = t.balance_after AS matches_last_txn,
       b.last_transaction_id = t.transaction_id AS last_id_matches
FROM account_balances b
CROSS JOIN LATERAL (SELECT balance_after, transaction_id FROM transactions t
                    WHERE t.account_id = b.account_id
                    ORDER BY "timestamp" DESC LIMIT 1) t
ORDER BY b.account_id;
-- the lateral read is one parameterized partition read per account
EXPLAIN (COSTS OFF)
SELECT b.balance, t.balance_after
FROM account_balances b
CROSS JOIN LATERAL (SELECT balance_after FROM transactions t
                    WHERE t.account_id = b.account_id
                    ORDER BY "timestamp" DESC LIMIT 1) t;

-- a transfer of 0.10 + 0.20 from account 1 to account 2: numeric stays exact
INSERT INTO transactions (transaction_id, account_id, transaction_type, amount, balance_after, "timestamp", status)
SELECT min_timeuuid(ts), acc, typ, amt,
       (SELECT balance FROM account_balances WHERE account_id = acc) + amt, ts, 'pending'
FROM (VALUES ('acc00000-0000-4000-8000-000000000001'::uuid, 'transfer_out', -0.10, timestamptz '2024-04-01 09:00:00+00'),
             ('acc00000-0000-4000-8000-000000000001', 'transfer_out', -0.20, '2024-04-01 09:00:01+00'),
             ('acc00000-0000-4000-8000-000000000002', 'transfer_in', 0.30, '2024-04-01 09:00:02+00'))
     v(acc, typ, amt, ts);
UPDATE account_balances b SET balance = balance + d.delta,
       updated_at = '2024-04-01 09:00:02+00'
FROM (VALUES ('acc00000-0000-4000-8000-000000000001'::uuid, -0.30),
             ('acc00000-0000-4000-8000-000000000002', 0.30)) d(acc, delta)
WHERE b.account_id = d.acc;
SELECT right(account_id::text, 1) AS account, balance, updated_at FROM account_balances
WHERE account_id IN ('acc00000-0000-4000-8000-000000000001', 'acc00000-0000-4000-8000-000000000002')
ORDER BY account_id;
SELECT sum(amount) AS transferred FROM transactions
WHERE account_id = 'acc00000-0000-4000-8000-000000000001' AND "timestamp" >= '2024-04-01';
-- settle the pending ones (UPDATE of a regular column inside one partition)
UPDATE transactions SET status = 'settled'
WHERE account_id = 'acc00000-0000-4000-8000-000000000001' AND "timestamp" >= '2024-04-01'
  AND status = 'pending';
SELECT "timestamp", transaction_type, amount, status FROM transactions
WHERE account_id = 'acc00000-0000-4000-8000-000000000001' LIMIT 3;
-- numeric values of any scale and size survive the round trip
INSERT INTO account_balances (account_id, balance, currency)
VALUES ('acc00000-0000-4000-8000-000000000009', 12345678901234567890.123456789012, 'XAU'),
       ('acc00000-0000-4000-8000-00000000000a', -0.000000001, 'BTC'),
       ('acc00000-0000-4000-8000-00000000000b', 'NaN', 'XXX');
SELECT right(account_id::text, 1) AS account, balance, currency FROM account_balances
WHERE account_id IN ('acc00000-0000-4000-8000-000000000009', 'acc00000-0000-4000-8000-00000000000a',
                     'acc00000-0000-4000-8000-00000000000b')
ORDER BY account_id;

DROP TABLE bookings;

SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;
