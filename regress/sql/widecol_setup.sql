--
-- widecol_setup: helper test, runs first.  Creates the extension and waits
-- until the node background worker serves, so later tests can rely on it.
-- Can run twice in a row.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS widecol CASCADE;
DROP SCHEMA IF EXISTS widecol CASCADE;
DROP FUNCTION IF EXISTS public.widecol_wait_for_node(int);
DROP PROCEDURE IF EXISTS public.widecol_test_drop_keyspaces(text[]);
DROP FUNCTION IF EXISTS public.widecol_try(text);
RESET client_min_messages;

CREATE EXTENSION widecol;

-- Wait up to timeout_s seconds for the node to report running.
CREATE FUNCTION public.widecol_wait_for_node(timeout_s int DEFAULT 10)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. timeout_s * 10 LOOP
        IF (SELECT running FROM widecol.node_status()) THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN false;
END
$$;

-- The suites start with this, so that each can run twice in a row: delete
-- the engine data of every foreign table of the named servers (it outlives
-- DROP FOREIGN TABLE), then drop the servers.
CREATE PROCEDURE public.widecol_test_drop_keyspaces(VARIADIC servers text[])
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT ft.ftrelid FROM pg_foreign_table ft
               JOIN pg_foreign_server s ON s.oid = ft.ftserver
              WHERE s.srvname = ANY (servers)
    LOOP
        PERFORM widecol.drop_table(r.ftrelid);
    END LOOP;
    FOR i IN 1 .. cardinality(servers) LOOP
        EXECUTE format('DROP SERVER IF EXISTS %I CASCADE', servers[i]);
    END LOOP;
END
$$;

-- widecol_try(sql): run one statement and undo it; print "ok (undone)" if it
-- succeeded, or the SQLSTATE, message, detail and hint of its error.  Every
-- error of widecol must carry a hint.
CREATE FUNCTION public.widecol_try(stmt text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE stmt;
    RAISE EXCEPTION USING ERRCODE = 'WC000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    IF st = 'WC000' THEN
        RETURN NEXT 'ok (undone)';
        RETURN;
    END IF;
    RETURN NEXT 'ERROR ' || st || ': ' || msg;
    IF det <> '' THEN
        RETURN NEXT 'DETAIL: ' || det;
    END IF;
    RETURN NEXT 'HINT: ' || coalesce(nullif(hnt, ''), '(none: every widecol error needs a hint)');
END
$$;

SELECT public.widecol_wait_for_node();
