/*-------------------------------------------------------------------------
 *
 * table_cache.c
 *		  The per-backend cache of widecol table models, and whether the
 *		  node is known to have each engine table.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/table_cache.c
 *
 * NOTES
 *	  A hash table keyed by relation OID, in CacheMemoryContext.  Relcache
 *	  and foreign-server/foreign-table syscache invalidation callbacks mark
 *	  entries stale; a transaction callback frees the memory of replaced
 *	  models at transaction end, when no scan can still point at them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "widecol.h"

typedef struct TableCacheEntry
{
	Oid			relid;			/* hash key */
	WidecolTable *table;		/* in cxt */
	MemoryContext cxt;			/* the model's own memory */
	bool		valid;			/* false once an invalidation touched it */
	bool		engine_ready;	/* engine table known to exist */
} TableCacheEntry;

/*
 * The hash table lives for the backend.  Invalidation callbacks only mark
 * entries stale (they may run in the middle of building one); a stale
 * model's memory is freed at the end of the transaction, when no scan can
 * still point at it.
 */
static HTAB *table_cache = NULL;
static uint64 table_cache_generation = 0;	/* bumped by every invalidation */
static List *retired_cxts = NIL;			/* freed at transaction end */

/* callbacks */
static void table_cache_inval(Datum arg, Oid relid);
static void table_cache_syscache_inval(Datum arg, int cacheid, uint32 hashvalue);
static void table_cache_xact(XactEvent event, void *arg);
static void table_cache_mark(Oid relid);

void
widecol_table_cache_init(void)
{
	CacheRegisterRelcacheCallback(table_cache_inval, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, table_cache_syscache_inval, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNTABLEREL, table_cache_syscache_inval, (Datum) 0);
	RegisterXactCallback(table_cache_xact, NULL);
}

/* Mark one entry (or all for InvalidOid) stale. */
static void
table_cache_mark(Oid relid)
{
	HASH_SEQ_STATUS seq;
	TableCacheEntry *e;

	table_cache_generation++;
	if (table_cache == NULL)
		return;
	hash_seq_init(&seq, table_cache);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (!OidIsValid(relid) || e->relid == relid)
			e->valid = false;
}

static void
table_cache_inval(Datum arg, Oid relid)
{
	table_cache_mark(relid);
}

static void
table_cache_syscache_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	table_cache_mark(InvalidOid);
}

static void
table_cache_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		ListCell   *lc;

		foreach(lc, retired_cxts)
			MemoryContextDelete((MemoryContext) lfirst(lc));
		list_free(retired_cxts);
		retired_cxts = NIL;
	}
}

/*
 * The model of a widecol foreign table, cached for the backend.
 */
WidecolTable *
widecol_get_table(Oid relid)
{
	TableCacheEntry *entry;
	bool		found;

	if (table_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TableCacheEntry);
		ctl.hcxt = CacheMemoryContext;
		table_cache = hash_create("widecol tables", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(table_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->table = NULL;
		entry->cxt = NULL;
		entry->valid = false;
		entry->engine_ready = false;
	}
	while (!entry->valid)
	{
		uint64		generation = table_cache_generation;
		MemoryContext cxt = AllocSetContextCreate(CacheMemoryContext, "widecol table",
												  ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(cxt);
		WidecolTable *t;
		Relation	rel;

		PG_TRY();
		{
			rel = table_open(relid, AccessShareLock);
			t = widecol_build_table(rel);
			table_close(rel, AccessShareLock);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
			PG_RE_THROW();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
		/* entries never move in a dynahash table: entry is still ours */
		if (entry->cxt != NULL)
		{
			/* the list outlives this query: keep it in TopMemoryContext */
			MemoryContext top = MemoryContextSwitchTo(TopMemoryContext);

			retired_cxts = lappend(retired_cxts, entry->cxt);
			MemoryContextSwitchTo(top);
		}
		entry->table = t;
		entry->cxt = cxt;
		entry->engine_ready = false;	/* the engine table may be gone (drop_table) */
		/* an invalidation while building: build again */
		entry->valid = generation == table_cache_generation;
	}
	return entry->table;
}

/*
 * Make sure the node has the engine table (once per backend and table).
 */
void
widecol_ensure_engine_table(WidecolTable *t)
{
	TableCacheEntry *entry = NULL;

	if (table_cache != NULL)
	{
		entry = hash_search(table_cache, &t->relid, HASH_FIND, NULL);
		if (entry && entry->engine_ready)
			return;
	}
	widecol_create_or_check(t, false, true);
	if (entry)
		entry->engine_ready = true;
}
