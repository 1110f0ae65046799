--
-- cluster_views: widecol.nodes and widecol.nodes(keyspace) on a node without
-- widecol.listen_address (no cluster: this node alone owns the whole ring),
-- the cluster settings and their defaults.  Can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('cv_ks');
RESET client_min_messages;

SELECT * FROM widecol.nodes;
CREATE SERVER cv_ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
SELECT address, status, state, owns, tokens FROM widecol.nodes('cv_ks');
-- an unknown keyspace
SELECT * FROM widecol.nodes('no_such_keyspace');
-- the ring agrees: one node, widecol.num_tokens tokens
SELECT count(*), count(DISTINCT address) FROM widecol.ring;

-- cluster settings
SELECT name, setting, unit, context
  FROM pg_settings
 WHERE name IN ('widecol.cluster_name', 'widecol.listen_address', 'widecol.port',
                'widecol.seeds', 'widecol.datacenter', 'widecol.rack',
                'widecol.cluster_secret_file', 'widecol.phi_convict_threshold',
                'widecol.write_request_timeout', 'widecol.read_request_timeout',
                'widecol.hinted_handoff_enabled', 'widecol.max_hint_window')
 ORDER BY name;
SET widecol.write_request_timeout = '3s';
SHOW widecol.write_request_timeout;
SET widecol.listen_address = '127.0.0.1';

-- no cluster: no streaming sessions
SELECT * FROM widecol.streams;

SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('cv_ks');
RESET client_min_messages;
