/*-------------------------------------------------------------------------
 *
 * widecol.h
 *		  Private declarations shared by the files of the widecol extension.
 *
 * This is the one header of extension/.  Its externs are grouped by the
 * file that defines them, in the order of the files' roles: module entry
 * and GUCs first, then the node background worker.  Only extension/ files
 * include it; engine/ and cluster/ never see a PostgreSQL header.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/widecol.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIDECOL_H
#define WIDECOL_H

#include "fmgr.h"

#include "status.h"

/* Version of the library; sql/widecol.control carries the SQL version. */
#define WIDECOL_VERSION			"0.1"

/* Subdirectory of $PGDATA used when widecol.data_directory is empty. */
#define WIDECOL_DEFAULT_SUBDIR	"widecol"

/* Values of widecol.commitlog_sync */
typedef enum WidecolCommitlogSync
{
	WIDECOL_COMMITLOG_SYNC_PERIODIC,
	WIDECOL_COMMITLOG_SYNC_BATCH
} WidecolCommitlogSync;

/* in widecol.c */
extern char *widecol_data_directory;
extern int	widecol_commitlog_sync;
extern int	widecol_commitlog_sync_period_ms;
extern int	widecol_memtable_size_mb;
extern int	widecol_block_cache_size_mb;
extern int	widecol_num_tokens;
extern bool widecol_preloaded;

extern char *widecol_resolve_data_directory(void);
extern int	widecol_status_sqlstate(wc_status st);

/* in node.c */
extern void widecol_node_init(void);
extern PGDLLEXPORT void widecol_node_main(Datum main_arg)
			pg_attribute_noreturn();
extern bool widecol_node_running(void);
extern void widecol_require_node(void);

#endif							/* WIDECOL_H */
