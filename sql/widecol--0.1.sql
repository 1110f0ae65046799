/* sql/widecol--0.1.sql - install script of widecol 0.1 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION widecol" to load this file. \quit

-- Every role may use what the schema holds (the timeuuid type, its
-- functions, the views); access to tables is governed by the privileges on
-- each foreign table, and the functions below check them.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

-- Version of the loaded widecol library.
CREATE FUNCTION version()
RETURNS text
AS 'MODULE_PATHNAME', 'widecol_version'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

COMMENT ON FUNCTION version() IS 'version of the loaded widecol library';

-- State of this instance's node (the "widecol node" background worker).
-- Without shared_preload_libraries there is no node: running is false.
-- The engine columns are NULL unless the running node answered.
CREATE FUNCTION node_status(
    OUT running boolean,
    OUT pid integer,
    OUT data_directory text,
    OUT memtable_bytes bigint,
    OUT memtable_flushing_bytes bigint,
    OUT memtable_limit_bytes bigint,
    OUT commitlog_bytes bigint,
    OUT commitlog_limit_bytes bigint,
    OUT writes_stalled bigint,
    OUT writes_refused bigint,
    OUT background_error text)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_node_status'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION node_status() IS 'state of the widecol node of this instance';

-- The data directory is server-side information: monitoring roles only.
REVOKE ALL ON FUNCTION node_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION node_status() TO pg_monitor;

CREATE FUNCTION row_cache_stats(
    OUT enabled boolean,
    OUT size_bytes bigint,
    OUT slots bigint,
    OUT hits bigint,
    OUT misses bigint,
    OUT fills bigint,
    OUT evictions bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_row_cache_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION direct_read_stats(
    OUT enabled boolean,
    OUT tables bigint,
    OUT reads bigint,
    OUT resident bigint,
    OUT other bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_direct_read_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION commitlog_sync_stats(
    OUT backend_fsyncs_enabled boolean,
    OUT backend_fsyncs bigint,
    OUT covered bigint,
    OUT node_syncs bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_commitlog_sync_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION commitlog_sync_stats() IS 'how writes in batch mode (widecol.commitlog_sync) became durable since the server started: commit-log fsyncs by the writing backends, writes another backend''s fsync covered, writes the backend had the node sync';

COMMENT ON FUNCTION direct_read_stats() IS 'direct reads of this instance (widecol.direct_reads): reads answered from the tables'' files by the backend, and reads asked of the node because a memtable may hold the partition (resident) or for another reason, since the server started';

COMMENT ON FUNCTION row_cache_stats() IS 'the row cache of this instance (widecol.row_cache_size_mb): hits, misses, fills, evictions since the server started';

-- ------------------------------------------------------------------------
-- counter (extension/counter.c)
--
-- CQL's counter: a bigint that changes only by increments.  A table whose
-- non-key columns are all counters is a counter table; UPDATE t SET c = c + n
-- WHERE <whole primary key> sends the increment to the node without reading.
-- ------------------------------------------------------------------------

CREATE DOMAIN counter AS bigint;

COMMENT ON DOMAIN counter IS 'CQL counter: changed only by UPDATE ... SET c = c + n';

-- ------------------------------------------------------------------------
-- timeuuid (extension/timeuuid.c)
--
-- A version 1 (time-based) UUID ordered by its timestamp, like Cassandra's
-- TIMEUUID: first by the 60-bit timestamp, then by the clock sequence and
-- node bytes compared as unsigned bytes.  Stored like uuid (16 bytes).
-- Functions and the type keep the default privileges (PUBLIC may use them).
-- ------------------------------------------------------------------------

CREATE TYPE timeuuid;

CREATE FUNCTION timeuuid_in(cstring)
RETURNS timeuuid
AS 'MODULE_PATHNAME', 'widecol_timeuuid_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION timeuuid_out(timeuuid)
RETURNS cstring
AS 'MODULE_PATHNAME', 'widecol_timeuuid_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION timeuuid_recv(internal)
RETURNS timeuuid
AS 'MODULE_PATHNAME', 'widecol_timeuuid_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION timeuuid_send(timeuuid)
RETURNS bytea
AS 'MODULE_PATHNAME', 'widecol_timeuuid_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE timeuuid (
    INPUT = timeuuid_in,
    OUTPUT = timeuuid_out,
    RECEIVE = timeuuid_recv,
    SEND = timeuuid_send,
    INTERNALLENGTH = 16,
    ALIGNMENT = char,
    STORAGE = plain,
    CATEGORY = 'U'
);

COMMENT ON TYPE timeuuid IS 'time-based (version 1) UUID ordered by time, like CQL timeuuid';

-- comparison

CREATE FUNCTION timeuuid_eq(timeuuid, timeuuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'widecol_timeuuid_eq'
LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION timeuuid_ne(timeuuid, timeuuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'widecol_timeuuid_ne'
LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION timeuuid_lt(timeuuid, timeuuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'widecol_timeuuid_lt'
LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION timeuuid_le(timeuuid, timeuuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'widecol_timeuuid_le'
LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION timeuuid_gt(timeuuid, timeuuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'widecol_timeuuid_gt'
LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION timeuuid_ge(timeuuid, timeuuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'widecol_timeuuid_ge'
LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION timeuuid_cmp(timeuuid, timeuuid) RETURNS integer
AS 'MODULE_PATHNAME', 'widecol_timeuuid_cmp'
LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION timeuuid_sortsupport(internal) RETURNS void
AS 'MODULE_PATHNAME', 'widecol_timeuuid_sortsupport'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION timeuuid_hash(timeuuid) RETURNS integer
AS 'MODULE_PATHNAME', 'widecol_timeuuid_hash'
LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE FUNCTION timeuuid_hash_extended(timeuuid, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'widecol_timeuuid_hash_extended'
LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE OPERATOR = (
    LEFTARG = timeuuid, RIGHTARG = timeuuid, FUNCTION = timeuuid_eq,
    COMMUTATOR = =, NEGATOR = <>,
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);

CREATE OPERATOR <> (
    LEFTARG = timeuuid, RIGHTARG = timeuuid, FUNCTION = timeuuid_ne,
    COMMUTATOR = <>, NEGATOR = =,
    RESTRICT = neqsel, JOIN = neqjoinsel
);

CREATE OPERATOR < (
    LEFTARG = timeuuid, RIGHTARG = timeuuid, FUNCTION = timeuuid_lt,
    COMMUTATOR = >, NEGATOR = >=,
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);

CREATE OPERATOR <= (
    LEFTARG = timeuuid, RIGHTARG = timeuuid, FUNCTION = timeuuid_le,
    COMMUTATOR = >=, NEGATOR = >,
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);

CREATE OPERATOR > (
    LEFTARG = timeuuid, RIGHTARG = timeuuid, FUNCTION = timeuuid_gt,
    COMMUTATOR = <, NEGATOR = <=,
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR >= (
    LEFTARG = timeuuid, RIGHTARG = timeuuid, FUNCTION = timeuuid_ge,
    COMMUTATOR = <=, NEGATOR = <,
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR CLASS timeuuid_ops
DEFAULT FOR TYPE timeuuid USING btree AS
    OPERATOR 1 <,
    OPERATOR 2 <=,
    OPERATOR 3 =,
    OPERATOR 4 >=,
    OPERATOR 5 >,
    FUNCTION 1 timeuuid_cmp(timeuuid, timeuuid),
    FUNCTION 2 timeuuid_sortsupport(internal),
    FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS timeuuid_ops
DEFAULT FOR TYPE timeuuid USING hash AS
    OPERATOR 1 =,
    FUNCTION 1 timeuuid_hash(timeuuid),
    FUNCTION 2 timeuuid_hash_extended(timeuuid, bigint);

-- min() and max() in timeuuid order (CQL min/max on a timeuuid column)

CREATE FUNCTION timeuuid_smaller(timeuuid, timeuuid) RETURNS timeuuid
AS 'MODULE_PATHNAME', 'widecol_timeuuid_smaller'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION timeuuid_larger(timeuuid, timeuuid) RETURNS timeuuid
AS 'MODULE_PATHNAME', 'widecol_timeuuid_larger'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE min(timeuuid) (
    SFUNC = timeuuid_smaller, STYPE = timeuuid,
    COMBINEFUNC = timeuuid_smaller, SORTOP = <, PARALLEL = SAFE
);

CREATE AGGREGATE max(timeuuid) (
    SFUNC = timeuuid_larger, STYPE = timeuuid,
    COMBINEFUNC = timeuuid_larger, SORTOP = >, PARALLEL = SAFE
);

-- casts: to uuid, the same bytes; from uuid, checked to be version 1

CREATE FUNCTION timeuuid(uuid) RETURNS timeuuid
AS 'MODULE_PATHNAME', 'widecol_timeuuid_from_uuid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (timeuuid AS uuid) WITHOUT FUNCTION AS ASSIGNMENT;
CREATE CAST (uuid AS timeuuid) WITH FUNCTION timeuuid(uuid) AS ASSIGNMENT;

-- time functions (CQL now(), toTimestamp(), minTimeuuid(), maxTimeuuid())

-- Parallel restricted: all values of a session come from one process, so
-- they strictly increase in the order they are made.
CREATE FUNCTION now_timeuuid() RETURNS timeuuid
AS 'MODULE_PATHNAME', 'widecol_now_timeuuid'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION now_timeuuid() IS 'new time-based UUID (CQL now())';

CREATE FUNCTION timeuuid_timestamp(timeuuid) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'widecol_timeuuid_timestamp'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION timeuuid_timestamp(timeuuid) IS 'time of a timeuuid, to the microsecond (CQL toTimestamp())';

CREATE FUNCTION min_timeuuid(timestamptz) RETURNS timeuuid
AS 'MODULE_PATHNAME', 'widecol_min_timeuuid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION min_timeuuid(timestamptz) IS 'smallest timeuuid of the millisecond (CQL minTimeuuid())';

CREATE FUNCTION max_timeuuid(timestamptz) RETURNS timeuuid
AS 'MODULE_PATHNAME', 'widecol_max_timeuuid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION max_timeuuid(timestamptz) IS 'largest timeuuid of the millisecond (CQL maxTimeuuid())';

-- ------------------------------------------------------------------------
-- foreign data wrapper: keyspaces are servers, tables are foreign tables
-- ------------------------------------------------------------------------

CREATE FUNCTION fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'widecol_fdw_handler'
LANGUAGE C STRICT;

CREATE FUNCTION fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'widecol_fdw_validator'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER widecol
  HANDLER fdw_handler
  VALIDATOR fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER widecol IS
  'widecol keyspaces (servers) and tables (foreign tables)';

-- ------------------------------------------------------------------------
-- table access method: CREATE TABLE ... USING widecol WITH (primary_key ...)
-- gives the same tables as ordinary relations; keyspaces stay servers
-- ------------------------------------------------------------------------

CREATE FUNCTION tam_handler(internal)
RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'widecol_tam_handler'
LANGUAGE C STRICT;

CREATE ACCESS METHOD widecol TYPE TABLE HANDLER tam_handler;

COMMENT ON ACCESS METHOD widecol IS
  'widecol tables as ordinary relations (CREATE TABLE ... USING widecol)';

-- Maintenance functions (flush, compact, drop_table) need ownership of the
-- table; the statistics functions need SELECT on it.  Both checks are made
-- by the functions themselves, so EXECUTE stays granted to PUBLIC.

-- Write a table's memtable to an SSTable and wait for it.
CREATE FUNCTION flush(regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'widecol_flush'
LANGUAGE C STRICT VOLATILE;

-- Flush, then merge all of a table's SSTables into one (major compaction).
CREATE FUNCTION compact(regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'widecol_compact'
LANGUAGE C STRICT VOLATILE;

-- Rebuild a table from what is readable: damaged SSTables are salvaged and
-- moved to the table's quarantine directory, an offline table comes back
-- online.  Only the table's owner or a superuser (checked in the function).
CREATE FUNCTION scrub(
    tab regclass,
    OUT was_offline boolean,
    OUT sstables_checked integer,
    OUT sstables_damaged integer,
    OUT rows_kept bigint,
    OUT rows_salvaged bigint,
    OUT blocks_lost bigint,
    OUT bytes_lost bigint,
    OUT quarantined text[])
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_scrub'
LANGUAGE C STRICT VOLATILE;

-- Delete a table's data from the engine (DROP FOREIGN TABLE keeps it).
CREATE FUNCTION drop_table(regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'widecol_drop_table'
LANGUAGE C STRICT VOLATILE;

-- Materialized views (CQL CREATE MATERIALIZED VIEW): a foreign table in the
-- base's server that the node fills from the base and keeps on every base
-- write.  Only the base's owner creates one (checked in the function).
CREATE FUNCTION create_materialized_view(
    name text,
    base regclass,
    primary_key text,
    clustering_order text DEFAULT NULL,
    "where" text DEFAULT NULL)
RETURNS regclass
AS 'MODULE_PATHNAME', 'widecol_create_materialized_view'
LANGUAGE C VOLATILE;

-- Drop a materialized view: its data and its foreign table.
CREATE FUNCTION drop_materialized_view(regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'widecol_drop_materialized_view'
LANGUAGE C STRICT VOLATILE;

-- Secondary indexes (node-local, as Cassandra's): an index on a regular
-- column lets WHERE column = value find rows without widecol.allow_filtering.
-- Both rewrite the table's "indexes" option; the node builds or drops the
-- index when the change reaches it.  Ownership of the table is needed.
CREATE FUNCTION create_index(tab regclass, col name, index_name name DEFAULT NULL)
RETURNS name
AS 'MODULE_PATHNAME', 'widecol_create_index'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION drop_index(tab regclass, index_name name)
RETURNS void
AS 'MODULE_PATHNAME', 'widecol_drop_index'
LANGUAGE C STRICT VOLATILE;

-- What the node knows of one table.
CREATE FUNCTION table_stats(
    tab regclass,
    OUT memtable_bytes bigint,
    OUT memtable_entries bigint,
    OUT sstable_count bigint,
    OUT sstable_bytes bigint,
    OUT partitions_estimate bigint,
    OUT rows_estimate bigint,
    OUT tombstones bigint,
    OUT pending_flushes bigint,
    OUT offline text)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_table_stats'
LANGUAGE C STRICT VOLATILE;

-- A table's compaction strategy and state.
CREATE FUNCTION compaction_stats(
    tab regclass,
    OUT strategy text,
    OUT enabled boolean,
    OUT running boolean,
    OUT pending bigint,
    OUT level_sstables bigint[],
    OUT window_start timestamptz[],
    OUT window_sstables bigint[],
    OUT droppable_tombstones bigint,
    OUT droppable_tombstone_ratio double precision,
    OUT read_histogram bigint[],
    OUT read_p50 integer,
    OUT read_p99 integer,
    OUT compactions_completed bigint,
    OUT bytes_read bigint,
    OUT bytes_written bigint,
    OUT sstables_expired bigint,
    OUT tombstones_purged bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_compaction_stats'
LANGUAGE C STRICT VOLATILE;

-- A table's running compaction (with progress) and the next pending one.
CREATE FUNCTION table_compactions(
    tab regclass,
    OUT running boolean,
    OUT strategy text,
    OUT kind text,
    OUT sstables integer,
    OUT level integer,
    OUT window_start timestamptz,
    OUT bytes_done bigint,
    OUT bytes_total bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'widecol_table_compactions'
LANGUAGE C STRICT VOLATILE;

-- Every widecol table of the database that the current user may SELECT,
-- with its node statistics.
CREATE VIEW tables AS
SELECT c.oid::regclass AS table_name,
       s.srvname AS keyspace,
       st.memtable_bytes,
       st.memtable_entries,
       st.sstable_count,
       st.sstable_bytes,
       st.partitions_estimate,
       st.rows_estimate,
       st.tombstones,
       st.pending_flushes,
       cs.strategy AS compaction_strategy,
       cs.level_sstables,
       cs.window_sstables,
       cs.droppable_tombstone_ratio,
       cs.read_p50 AS sstables_per_read_p50,
       cs.read_p99 AS sstables_per_read_p99
  FROM pg_class c
  JOIN pg_foreign_server s
    ON s.oid = (SELECT ft.ftserver FROM pg_foreign_table ft WHERE ft.ftrelid = c.oid)
    OR (c.relam = (SELECT a.oid FROM pg_am a WHERE a.amname = 'widecol')
        AND s.srvname = coalesce((SELECT substr(o, 10) FROM unnest(c.reloptions) o
                                   WHERE o LIKE 'keyspace=%'), 'widecol_default'))
  JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'widecol'
  CROSS JOIN LATERAL widecol.table_stats(c.oid) st
  CROSS JOIN LATERAL widecol.compaction_stats(c.oid) cs
 WHERE has_table_privilege(c.oid, 'SELECT');

COMMENT ON VIEW tables IS 'widecol tables with memtable, SSTable and tombstone statistics';
GRANT SELECT ON tables TO PUBLIC;

-- Running and pending compactions of every widecol table that the current
-- user may SELECT.
CREATE VIEW compactions AS
SELECT c.oid::regclass AS table_name,
       x.running, x.strategy, x.kind, x.sstables, x.level, x.window_start,
       x.bytes_done, x.bytes_total,
       CASE WHEN x.bytes_total > 0
            THEN round(100.0 * x.bytes_done / x.bytes_total, 1) END AS progress_pct
  FROM pg_class c
  JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
  JOIN pg_foreign_server s ON s.oid = ft.ftserver
  JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'widecol'
  CROSS JOIN LATERAL widecol.table_compactions(c.oid) x
 WHERE has_table_privilege(c.oid, 'SELECT');

COMMENT ON VIEW compactions IS 'running and pending compactions of widecol tables';
GRANT SELECT ON compactions TO PUBLIC;

-- The token ring.  token() and endpoints() need SELECT on the table
-- (checked by the functions, as for the statistics functions above).

-- The token of a partition key of a table (CQL's token()): one value per
-- partition-key column, in order.
CREATE FUNCTION token(tab regclass, VARIADIC "any")
RETURNS bigint
AS 'MODULE_PATHNAME', 'widecol_token'
LANGUAGE C STABLE;

-- The addresses of the replicas of a partition key, primary replica first
-- (nodetool getendpoints).
CREATE FUNCTION endpoints(tab regclass, VARIADIC "any")
RETURNS text[]
AS 'MODULE_PATHNAME', 'widecol_endpoints'
LANGUAGE C STABLE;

-- Every token of the ring with the address of the node that owns it.
CREATE FUNCTION ring_tokens(OUT token bigint, OUT address text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'widecol_ring_tokens'
LANGUAGE C STABLE;

CREATE VIEW ring AS
SELECT token, address FROM widecol.ring_tokens();

COMMENT ON VIEW ring IS 'the tokens of the token ring and the nodes that own them';
GRANT SELECT ON ring TO PUBLIC;

-- The nodes of the cluster as the local node sees them (nodetool status).
-- owns: the share of the ring a node owns as primary replica, or with a
-- keyspace (a widecol server name) its effective ownership under the
-- keyspace's replication.
CREATE FUNCTION nodes(keyspace text DEFAULT NULL,
    OUT address text, OUT datacenter text, OUT rack text, OUT status text,
    OUT state text, OUT load_bytes bigint, OUT owns float8, OUT host_id uuid,
    OUT tokens int, OUT schema_version text, OUT sql_address text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'widecol_nodes'
LANGUAGE C STABLE;

CREATE VIEW nodes AS
SELECT * FROM widecol.nodes();

COMMENT ON VIEW nodes IS 'the nodes of the cluster: address, data centre, rack, up/down, state, load, ownership, host id, tokens';
GRANT SELECT ON nodes TO PUBLIC;

-- The streaming sessions of the local node (nodetool netstats): pulls into
-- it (direction 'in', a bootstrap) and what it served to each peer ('out').
CREATE FUNCTION streams(
    OUT session text, OUT peer text, OUT direction text, OUT table_id bigint,
    OUT ranges_done int, OUT ranges_total int, OUT bytes bigint,
    OUT rows bigint, OUT state text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'widecol_streams'
LANGUAGE C STABLE;

CREATE VIEW streams AS
SELECT * FROM widecol.streams();

COMMENT ON VIEW streams IS 'streaming sessions of the local node: peer, direction, table, ranges done/total, bytes, rows, state';
GRANT SELECT ON streams TO PUBLIC;

-- The node's copy of the cluster schema (keyspaces and tables, dropped
-- ones until their tombstones expire) and its version.
CREATE FUNCTION cluster_schema(
    OUT keyspace text,
    OUT table_name text,
    OUT table_id bigint,
    OUT replication text,
    OUT dropped boolean,
    OUT version text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'widecol_cluster_schema'
LANGUAGE C STRICT VOLATILE;

-- Anti-entropy repair of one table (nodetool repair): the replicas of every
-- range this node replicates (primary_range: only the ranges it is the
-- primary replica of) compare Merkle trees, and the differing parts are
-- repaired.  Every repair is full.  Only the table's owner or a superuser.
CREATE FUNCTION repair(
    tab regclass,
    full boolean DEFAULT true,
    primary_range boolean DEFAULT false,
    OUT ranges integer,
    OUT ranges_compared integer,
    OUT ranges_mismatched integer,
    OUT leaves_mismatched bigint,
    OUT partitions bigint,
    OUT repairs_sent bigint,
    OUT rows_streamed bigint,
    OUT bytes_streamed bigint,
    OUT seconds float8)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_repair'
LANGUAGE C STRICT VOLATILE;

-- The repairs this node ran or runs (the newest 16), with their progress.
CREATE FUNCTION repairs(
    OUT id bigint,
    OUT table_id bigint,
    OUT state text,
    OUT primary_range boolean,
    OUT started timestamptz,
    OUT ended timestamptz,
    OUT ranges integer,
    OUT ranges_compared integer,
    OUT ranges_mismatched integer,
    OUT leaves_mismatched bigint,
    OUT partitions bigint,
    OUT repairs_sent bigint,
    OUT rows_streamed bigint,
    OUT bytes_streamed bigint,
    OUT error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'widecol_repairs'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW repairs AS
SELECT * FROM widecol.repairs();

COMMENT ON VIEW repairs IS 'repairs run on this node (the newest 16): state, progress in ranges, mismatches, what was streamed';
GRANT SELECT ON repairs TO PUBLIC;

-- Snapshots of every table of this node (nodetool snapshot): a flush, then
-- hard links under <data_directory>/snapshots/<tag>/.  Superuser only.
CREATE FUNCTION snapshot(tag text,
    OUT snapshot text, OUT tables integer, OUT files integer, OUT bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'widecol_snapshot'
LANGUAGE C STRICT VOLATILE;

-- Remove a snapshot (NULL: every snapshot); returns the ones removed.
CREATE FUNCTION clear_snapshot(tag text DEFAULT NULL,
    OUT snapshot text, OUT tables integer, OUT files integer, OUT bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'widecol_clear_snapshot'
LANGUAGE C VOLATILE;

CREATE FUNCTION snapshots(
    OUT snapshot text, OUT tables integer, OUT files integer, OUT bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'widecol_snapshots'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW snapshots AS
SELECT * FROM widecol.snapshots();

COMMENT ON VIEW snapshots IS 'the snapshots on this node: tag (snapshot), tables, files, bytes';
REVOKE ALL ON FUNCTION snapshot(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION clear_snapshot(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION snapshots() FROM PUBLIC;

-- Cleanup (nodetool cleanup): drop the partitions of a table (NULL: of
-- every table, superuser only) that this node no longer replicates, after
-- nodes joined.  Only the table's owner or a superuser.
CREATE FUNCTION cleanup(
    tab regclass DEFAULT NULL,
    OUT sstables integer,
    OUT sstables_rewritten integer,
    OUT partitions_dropped bigint,
    OUT rows_dropped bigint,
    OUT bytes_dropped bigint,
    OUT seconds float8)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_cleanup'
LANGUAGE C VOLATILE;

-- Decommission (nodetool decommission): this node streams its ranges to
-- their new owners, then leaves the ring.  Superuser only.
CREATE FUNCTION decommission(
    OUT ranges integer,
    OUT targets integer,
    OUT rows_streamed bigint,
    OUT bytes_streamed bigint,
    OUT seconds float8)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_decommission'
LANGUAGE C VOLATILE;

-- Remove a dead node (nodetool removenode): the surviving replicas stream
-- its ranges to their new owners, then it leaves the ring.  Superuser only.
CREATE FUNCTION removenode(
    host_id uuid,
    OUT ranges integer,
    OUT targets integer,
    OUT rows_streamed bigint,
    OUT bytes_streamed bigint,
    OUT seconds float8)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_removenode'
LANGUAGE C STRICT VOLATILE;

REVOKE ALL ON FUNCTION decommission() FROM PUBLIC;
REVOKE ALL ON FUNCTION removenode(uuid) FROM PUBLIC;
