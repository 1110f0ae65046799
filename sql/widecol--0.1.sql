/* sql/widecol--0.1.sql - install script of widecol 0.1 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION widecol" to load this file. \quit

-- Version of the loaded widecol library.
CREATE FUNCTION version()
RETURNS text
AS 'MODULE_PATHNAME', 'widecol_version'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

COMMENT ON FUNCTION version() IS 'version of the loaded widecol library';

-- State of this instance's node (the "widecol node" background worker).
-- Without shared_preload_libraries there is no node: running is false.
CREATE FUNCTION node_status(
    OUT running boolean,
    OUT pid integer,
    OUT data_directory text)
RETURNS record
AS 'MODULE_PATHNAME', 'widecol_node_status'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION node_status() IS 'state of the widecol node of this instance';

-- The data directory is server-side information: monitoring roles only.
REVOKE ALL ON FUNCTION node_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION node_status() TO pg_monitor;
