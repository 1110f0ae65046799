--
-- ring: widecol.token() of partition keys (the engine's own token, in the
-- column types of the key), widecol.endpoints() and the widecol.ring view
-- on a one-node cluster, their errors and privileges.  Can run twice in a
-- row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('ring_ks', 'ring_nts');
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'regress_wc_ring') THEN
        DROP OWNED BY regress_wc_ring;
        DROP ROLE regress_wc_ring;
    END IF;
END
$$;
RESET client_min_messages;

CREATE SERVER ring_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
CREATE SERVER ring_nts FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'NetworkTopologyStrategy', 'east': 3, 'west': 2}$$);
-- a composite partition key (device, day) and a one-column one (id)
CREATE FOREIGN TABLE ring_readings (device text, day date, seq int, v int)
  SERVER ring_ks OPTIONS (primary_key '((device, day), seq)');
CREATE FOREIGN TABLE ring_accounts (id bigint, name varchar(20))
  SERVER ring_ks OPTIONS (primary_key 'id');
CREATE FOREIGN TABLE ring_far (id uuid, v int)
  SERVER ring_nts OPTIONS (primary_key 'id');

-- Tokens are XXH3-64 of the encoded key: fixed values, the same whatever
-- the spelling of the arguments (untyped literals, the column's type, an
-- implicit cast such as varchar to text or integer to bigint).
SELECT widecol.token('ring_readings', 'dev-1', '2024-01-01') AS t_literal,
       widecol.token('ring_readings', 'dev-1'::text, '2024-01-01'::date) AS t_typed,
       widecol.token('ring_readings', 'dev-1'::varchar, date '2024-01-01') AS t_cast;
SELECT widecol.token('ring_accounts', 42) = widecol.token('ring_accounts', 42::bigint) AS int_widened,
       widecol.token('ring_accounts', 42::smallint) = widecol.token('ring_accounts', '42') AS smallint_widened,
       widecol.token('ring_accounts', 42) <> widecol.token('ring_accounts', 43) AS differ;
SELECT widecol.token('ring_accounts', 0), widecol.token('ring_accounts', -1),
       widecol.token('ring_far', '00000000-0000-0000-0000-000000000001');
-- no partition has a NULL key
SELECT widecol.token('ring_readings', 'dev-1', NULL) IS NULL AS null_key,
       widecol.token(NULL, 1) IS NULL AS null_table,
       widecol.endpoints('ring_accounts', NULL) IS NULL AS null_endpoints;

-- the engine stores partitions in token order: a whole-table read comes back
-- in the order of widecol.token(), so token() is the engine's token
INSERT INTO ring_accounts SELECT g, 'n' || g FROM generate_series(1, 40) g;
INSERT INTO ring_readings
  SELECT 'dev-' || (g % 7), date '2024-01-01' + (g % 3), g, g FROM generate_series(1, 60) g;
SELECT (SELECT array_agg(id) FROM ring_accounts) =
       (SELECT array_agg(id ORDER BY widecol.token('ring_accounts', id)) FROM ring_accounts)
       AS accounts_in_token_order;
SELECT count(*) AS row_count,
       bool_and(t_prev IS NULL OR t_prev <= t) AS readings_in_token_order
  FROM (SELECT widecol.token('ring_readings', device, day) AS t,
               lag(widecol.token('ring_readings', device, day)) OVER () AS t_prev
          FROM ring_readings) s;

-- Replicas: one node holds every keyspace, whatever its replication says.
SELECT widecol.endpoints('ring_readings', 'dev-1', '2024-01-01') AS simple_rf3,
       widecol.endpoints('ring_far', gen_random_uuid()) AS nts;
SELECT DISTINCT widecol.endpoints('ring_accounts', id) FROM ring_accounts;

-- The ring: widecol.num_tokens (16) evenly spaced tokens from -2^63.
SHOW widecol.num_tokens;
SELECT count(*) AS tokens, count(DISTINCT address) AS nodes, min(address) AS address,
       min(token), max(token)
  FROM widecol.ring;
SELECT DISTINCT token - lag(token) OVER (ORDER BY token) AS spacing
  FROM widecol.ring ORDER BY 1 NULLS FIRST;
-- the owner of a key's token in the view is its first endpoint
SELECT (SELECT address FROM widecol.ring WHERE token >= widecol.token('ring_accounts', 7)
         ORDER BY token LIMIT 1) = (widecol.endpoints('ring_accounts', 7))[1] AS primary_matches;

-- errors: each with a hint
SELECT widecol_try($$SELECT widecol.token('ring_readings', 'dev-1')$$);
SELECT widecol_try($$SELECT widecol.token('ring_accounts', 1, 2)$$);
SELECT widecol_try($$SELECT widecol.token('ring_accounts')$$);
SELECT widecol_try($$SELECT widecol.token('ring_accounts', 'one'::text)$$);
SELECT widecol_try($$SELECT widecol.token('ring_accounts', 1.5)$$);
SELECT widecol_try($$SELECT widecol.token('ring_readings', 'dev-1', now())$$);
SELECT widecol_try($$SELECT widecol.endpoints('ring_far', 42)$$);
SELECT widecol_try($$SELECT widecol.token('ring_accounts', VARIADIC ARRAY[1, 2])$$);
SELECT widecol_try($$SELECT widecol.token('pg_class', 1)$$);
SELECT widecol_try($$SELECT widecol.token('ring_readings', repeat('x', 70000), '2024-01-01')$$);

-- privileges: token() and endpoints() need SELECT on the table; the ring
-- view is for everyone
CREATE ROLE regress_wc_ring;
SET ROLE regress_wc_ring;
SELECT widecol_try($$SELECT widecol.token('ring_accounts', 1)$$);
SELECT widecol_try($$SELECT widecol.endpoints('ring_accounts', 1)$$);
SELECT count(*) FROM widecol.ring;
RESET ROLE;
GRANT SELECT ON ring_accounts TO regress_wc_ring;
SET ROLE regress_wc_ring;
SELECT widecol.token('ring_accounts', 1) = widecol.token('ring_accounts', 1::bigint) AS granted;
RESET ROLE;
DROP OWNED BY regress_wc_ring;
DROP ROLE regress_wc_ring;
