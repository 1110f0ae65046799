--
-- node: the extension's GUCs, functions and the node background worker.
--

-- the extension and its objects
SELECT extname, extversion, extrelocatable, extnamespace::regnamespace
  FROM pg_extension WHERE extname = 'widecol';
SELECT p.oid::regprocedure AS function, pg_get_function_result(p.oid) AS result
  FROM pg_proc p WHERE p.pronamespace = 'widecol'::regnamespace
   AND p.proname IN ('version', 'node_status') ORDER BY p.proname;

-- GUCs: defaults, units, contexts
SHOW widecol.data_directory;
SHOW widecol.commitlog_sync;
SHOW widecol.commitlog_sync_period_ms;
SHOW widecol.memtable_size_mb;
SHOW widecol.memtable_total_space_mb;
SHOW widecol.commitlog_total_space_mb;
SHOW widecol.block_cache_size_mb;
SHOW widecol.num_tokens;
SELECT name, setting, unit, vartype, context, enumvals,
       short_desc <> '' AS has_description
  FROM pg_settings WHERE name LIKE 'widecol.%' AND context = 'postmaster' ORDER BY name;

-- postmaster-only settings cannot change in a session
SET widecol.num_tokens = 8;
SET widecol.commitlog_sync = 'batch';
-- the prefix is reserved: misspelt settings are errors
SET widecol.num_token = 8;

-- version
SELECT widecol.version();

-- the node serves (widecol_setup waited for it)
SELECT public.widecol_wait_for_node();
SELECT running,
       pid IS NOT NULL AS has_pid,
       data_directory = current_setting('data_directory') || '/widecol'
           AS default_directory
  FROM widecol.node_status();

-- the engine's memory and commit-log bounds (defaults), no background failure
SELECT memtable_bytes >= 0 AS has_memtable_bytes,
       memtable_flushing_bytes >= 0 AS has_flushing_bytes,
       memtable_limit_bytes = 512 * 1024 * 1024 AS default_memtable_limit,
       commitlog_bytes > 0 AS has_commitlog,
       commitlog_limit_bytes = 1024 * 1024 * 1024 AS default_commitlog_limit,
       writes_refused,
       background_error
  FROM widecol.node_status();

-- it is the "widecol node" background worker of pg_stat_activity
SELECT a.backend_type, a.datname, a.pid = n.pid AS same_pid
  FROM pg_stat_activity a, widecol.node_status() n
 WHERE a.backend_type = 'widecol node';

-- the engine directory exists under $PGDATA
SELECT isdir FROM pg_stat_file('widecol');

-- node_status is for monitoring roles only
SELECT has_function_privilege('public', 'widecol.node_status()', 'EXECUTE')
    AS public_can_execute,
       has_function_privilege('pg_monitor', 'widecol.node_status()', 'EXECUTE')
    AS pg_monitor_can_execute;
