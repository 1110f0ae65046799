/*-------------------------------------------------------------------------
 *
 * lwt.c
 *		  Lightweight transactions: INSERT ... ON CONFLICT DO NOTHING as
 *		  CQL IF NOT EXISTS, and UPDATE or DELETE of one row with
 *		  conditions (CQL IF), sent to the node as CAS requests.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/lwt.c
 *
 * NOTES
 *	  modify.c builds the row's writes into a batch of their own (not the
 *	  transaction's) and hands them here with the row's key; the node
 *	  runs Paxos on the partition (cluster/paxos.h) or, alone, takes the
 *	  partition's lock, checks the conditions on the current row and
 *	  writes the batch only when they hold.  The answer says whether it
 *	  applied: ExecForeignInsert then returns the slot (INSERT 0 1) or
 *	  NULL (INSERT 0 0); a conditional UPDATE or DELETE sends as its
 *	  conditions the values it read of the columns it depends on
 *	  (modify.c).  A CAS is applied at once and cannot be rolled
 *	  back, so it is refused inside BEGIN ... COMMIT (not in a
 *	  subtransaction such as a PL/pgSQL exception block, where it is
 *	  applied at once all the same).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "client.h"
#include "lwt.h"

#include "widecol.h"

int			widecol_serial_consistency = WC_CL_SERIAL;

static const struct config_enum_entry serial_options[] = {
	{"serial", WC_CL_SERIAL, false},
	{"local_serial", WC_CL_LOCAL_SERIAL, false},
	{NULL, 0, false}
};

static void report_cas(wc_status st, WidecolTable *t);

void
widecol_lwt_init(void)
{
	DefineCustomEnumVariable("widecol.serial_consistency",
							 "Consistency level of the Paxos rounds of lightweight transactions (CQL SERIAL CONSISTENCY).",
							 "SERIAL needs a quorum of all replicas, LOCAL_SERIAL a quorum of this data centre's.",
							 &widecol_serial_consistency, WC_CL_SERIAL, serial_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * A lightweight transaction (what: the statement, for the detail) is
 * applied at once: refused inside BEGIN ... COMMIT (a subtransaction,
 * e.g. a PL/pgSQL exception block, is let through).
 */
void
widecol_lwt_refuse_in_block(WidecolTable *t, const char *what)
{
	if (IsTransactionBlock() && GetCurrentTransactionNestLevel() == 1)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("lightweight transaction on widecol table \"%s\" cannot run inside a transaction block",
						get_rel_name(t->relid)),
				 errdetail("%s is applied on the replicas at once and cannot be rolled back.", what),
				 errhint("Run it as a statement of its own, outside BEGIN ... COMMIT.")));
}

/*
 * Run a compare-and-set on the row (pk, ck) of t: flags, conditions and
 * the batch as in cluster/lwt.h.  Returns whether it applied; failures
 * are errors.
 */
bool
widecol_lwt_cas(WidecolTable *t, const char *pk, int pk_len, const char *ck, int ck_len,
				uint8 flags, const wc_lwt_cond *conds, int nconds, const uint8 *batch,
				size_t len)
{
	wc_lwt_request r;
	bool		applied = false;
	wc_status	st;

	widecol_lwt_refuse_in_block(t, "INSERT ... ON CONFLICT DO NOTHING");
	Assert(nconds >= 0 && nconds <= WC_LWT_MAX_CONDS);
	memset(&r, 0, sizeof(r));
	r.serial_cl = (wc_consistency) widecol_serial_consistency;
	r.flags = flags;
	r.nconds = (uint32) nconds;
	if (nconds > 0)
		memcpy(r.conds, conds, sizeof(wc_lwt_cond) * nconds);
	r.table_id = t->table_id;
	r.pk = (const uint8_t *) pk;
	r.pk_len = pk_len;
	r.ck = (const uint8_t *) ck;
	r.ck_len = ck_len;
	r.batch = batch;
	r.batch_len = len;
	st = wc_client_cas(widecol_connection(), &r, &applied);
	if (st != WC_OK)
		report_cas(st, t);
	return applied;
}

/*
 * A failed CAS: contention (it did not apply) and timeouts (the detail
 * says whether its outcome is unknown) are errors of their own; the rest
 * as any node request.
 */
static void
report_cas(wc_status st, WidecolTable *t)
{
	char		detail[1024];
	wc_client  *c = widecol_connection();

	strlcpy(detail, wc_last_error(), sizeof(detail));
	if (st == WC_TIMEOUT && !wc_client_broken(c) &&
		strncmp(detail, "lightweight transaction contention", 34) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WIDECOL_LWT_CONTENTION),
				 errmsg("lightweight transaction on widecol table \"%s\" gave up under contention",
						get_rel_name(t->relid)),
				 errdetail("%s", detail),
				 errhint("Other lightweight transactions on the same partition kept winning "
						 "until the timeout, and this one did not apply: retry after a short "
						 "random pause, spread the writers over more partitions, or raise "
						 "widecol.write_request_timeout.")));
	if (st == WC_TIMEOUT && !wc_client_broken(c) &&
		strncmp(detail, "lightweight transaction", 23) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WIDECOL_REPLICA_TIMEOUT),
				 errmsg("lightweight transaction on widecol table \"%s\" timed out at consistency level %s",
						get_rel_name(t->relid),
						widecol_serial_consistency == WC_CL_LOCAL_SERIAL ? "LOCAL_SERIAL" : "SERIAL"),
				 errdetail("%s", detail),
				 errhint("Replicas are slow, went down or kept other transactions winning "
						 "until the timeout; unless the detail says it did not apply, a later "
						 "round may still apply the write.  Read the row with "
						 "widecol.consistency = serial before retrying, or raise "
						 "widecol.write_request_timeout.")));
	widecol_report(st, "lightweight transaction");
}
