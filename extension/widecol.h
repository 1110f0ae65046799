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

#include "access/xact.h"
#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

#include "client.h"
#include "status.h"

/* Version of the library; sql/widecol.control carries the SQL version. */
#define WIDECOL_VERSION			"0.1"

/* Subdirectory of $PGDATA used when widecol.data_directory is empty. */
#define WIDECOL_DEFAULT_SUBDIR	"widecol"

/*
 * SQLSTATE of a request the node did not answer within
 * widecol.request_timeout (class "WC" is widecol's own; docs/sql-reference.md
 * lists the codes).
 */
#define ERRCODE_WIDECOL_TIMEOUT	MAKE_SQLSTATE('W','C','0','0','1')
/* Too few live replicas for the consistency level (nothing was written). */
#define ERRCODE_WIDECOL_UNAVAILABLE	MAKE_SQLSTATE('W','C','0','0','2')
/* The coordinator did not get enough replica answers in time. */
#define ERRCODE_WIDECOL_REPLICA_TIMEOUT	MAKE_SQLSTATE('W','C','0','0','3')
/* A lightweight transaction kept losing its Paxos rounds to others (outcome unknown). */
#define ERRCODE_WIDECOL_LWT_CONTENTION	MAKE_SQLSTATE('W','C','0','1','0')

/*
 * Directory of the node's Unix socket, relative to the data directory
 * (the working directory of the node and the backends); mode 0700.
 */
#define WIDECOL_SOCKET_DIR		"widecol_socket"

/* Values of widecol.commitlog_sync */
typedef enum WidecolCommitlogSync
{
	WIDECOL_COMMITLOG_SYNC_PERIODIC,
	WIDECOL_COMMITLOG_SYNC_BATCH
} WidecolCommitlogSync;

/* Values of widecol.disk_failure_policy */
typedef enum WidecolDiskFailurePolicy
{
	WIDECOL_DISK_FAILURE_BEST_EFFORT,
	WIDECOL_DISK_FAILURE_STOP
} WidecolDiskFailurePolicy;

/* in widecol.c */
extern char *widecol_data_directory;
extern int	widecol_commitlog_sync;
extern int	widecol_commitlog_sync_period_ms;
extern int	widecol_memtable_size_mb;
extern int	widecol_memtable_total_space_mb;
extern int	widecol_commitlog_total_space_mb;
extern int	widecol_block_cache_size_mb;
extern int	widecol_num_tokens;
extern int	widecol_node_worker_threads;
extern int	widecol_node_ring_slot_kb;
extern int	widecol_node_ring_spin_us;
extern int	widecol_bulk_yield_us;
extern int	widecol_row_cache_size_mb;
extern bool widecol_row_cache;
extern bool widecol_direct_reads;
extern int	widecol_direct_read_file_mb;
extern int	widecol_compaction_throughput;
extern int	widecol_concurrent_compactors;
extern int	widecol_disk_failure_policy;
extern bool widecol_commitlog_ignore_replay_errors;
extern int	widecol_partitioner;
extern bool widecol_preloaded;

extern char *widecol_resolve_data_directory(void);
extern int	widecol_status_sqlstate(wc_status st);

/* in cluster_guc.c */
extern char *widecol_cluster_name;
extern char *widecol_listen_address;
extern int	widecol_port;
extern char *widecol_seeds;
extern char *widecol_replace_address;
extern char *widecol_datacenter;
extern char *widecol_rack;
extern char *widecol_cluster_secret_file;
extern double widecol_phi_convict_threshold;
extern int	widecol_write_request_timeout;
extern int	widecol_read_request_timeout;
extern bool widecol_hinted_handoff_enabled;
extern int	widecol_max_hint_window;
extern void widecol_define_cluster_gucs(bool preloaded);

/* in cluster_views.c */
struct wc_proto_members;
struct wc_ring;
extern bool widecol_cluster_members(struct wc_proto_members *out);
extern struct wc_ring *widecol_cluster_ring(void);

/* in node.c */
extern void widecol_node_init(void);
extern PGDLLEXPORT void widecol_node_main(Datum main_arg)
			pg_attribute_noreturn();
extern bool widecol_node_running(void);
extern void widecol_require_node(void);
extern char *widecol_node_socket_path(void);
extern void *widecol_node_ring(size_t *size);
extern struct wc_rowcache *widecol_row_cache_handle(void);
extern struct wc_directread *widecol_direct_read_handle(void);
extern void widecol_direct_read_budget_changed(void);

/* in cql.c */
typedef struct WidecolCqlPair
{
	char	   *key;
	char	   *value;
	bool		quoted;			/* value was a quoted string */
} WidecolCqlPair;

typedef struct WidecolCqlOrder
{
	char	   *column;
	bool		descending;
} WidecolCqlOrder;

extern List *widecol_parse_cql_map(const char *option, const char *input);
extern const char *widecol_cql_map_get(List *map, const char *key);
extern void widecol_parse_primary_key(const char *input, List **partition,
									  List **clustering);
extern List *widecol_parse_clustering_order(const char *input);

/* in keycodec.c */
extern bool widecol_type_keyable(Oid typid);
extern bool widecol_key_order_agrees(Oid typid, bool ordered);
extern void widecol_encode_key(StringInfo buf, Oid typid, Datum value,
							   bool descending);
extern Datum widecol_decode_key(const uint8 **pp, const uint8 *end, Oid typid,
								bool descending);
extern void widecol_encode_pk(StringInfo buf, Oid typid, Datum value, int npk);
extern Datum widecol_decode_pk(const uint8 **pp, const uint8 *end, Oid typid,
							   int npk);
extern void widecol_encode_pk_map(StringInfo buf, Oid ktyp, Oid vtyp, const Datum *keys,
								  const Datum *vals, int n, int npk);
extern int	widecol_decode_pk_map(const uint8 **pp, const uint8 *end, Oid ktyp, Oid vtyp,
								  int npk, Datum **keys, Datum **vals);
extern void widecol_encode_value(StringInfo buf, Datum value, int16 typlen,
								 bool typbyval);
extern Datum widecol_decode_value(const uint8 *p, size_t len, int16 typlen,
								  bool typbyval);

/* in schema.c */
extern const char *widecol_table_word(Oid relid);
typedef enum WidecolColumnKind
{
	WIDECOL_COL_PARTITION,		/* partition-key column */
	WIDECOL_COL_CLUSTERING,		/* clustering column */
	WIDECOL_COL_STATIC,			/* static column: one value per partition */
	WIDECOL_COL_REGULAR,		/* ordinary cell */
	WIDECOL_COL_WRITETIME,		/* read-only: write time of another column */
	WIDECOL_COL_TTL				/* read-only: remaining TTL of another column */
} WidecolColumnKind;

/* A CQL collection column (cql_type option; collection.c). */
typedef enum WidecolCollKind
{
	WIDECOL_COLL_SET = 1,		/* over an array, sorted and unique */
	WIDECOL_COLL_LIST,			/* over an array */
	WIDECOL_COLL_MAP,			/* over jsonb */
	WIDECOL_COLL_UDT			/* a composite type, one element per field */
} WidecolCollKind;

typedef struct WidecolCollType
{
	WidecolCollKind kind;
	bool		frozen;			/* a single cell with the whole value */
	char	   *cql;			/* the option as given */
	const char *elem_cql;		/* element (map: value) type, CQL name */
	const char *key_cql;		/* map key type, CQL name */
	Oid			elem_typid;		/* element (map: value) PostgreSQL type */
	int16		elem_typlen;
	bool		elem_byval;
	char		elem_align;
	Oid			key_typid;		/* map key PostgreSQL type (keyable) */
} WidecolCollType;

typedef struct WidecolColumn
{
	AttrNumber	attnum;			/* 1-based attribute number */
	char	   *name;
	Oid			typid;
	int32		typmod;
	Oid			collid;
	int16		typlen;
	bool		typbyval;
	bool		dropped;		/* dropped attribute: ignored */
	WidecolColumnKind kind;
	int			key_pos;		/* position within the partition or clustering key */
	bool		descending;		/* clustering order */
	uint32		cell_id;		/* engine column id of a cell-backed column */
	int			meta_of;		/* WRITETIME/TTL: index of the column described */
	bool		is_counter;		/* type widecol.counter (counter.c) */
	WidecolCollType *coll;		/* cql_type collection (collection.c), or NULL */
} WidecolColumn;

typedef struct WidecolTable
{
	Oid			relid;
	Oid			serverid;
	char	   *keyspace;
	char	   *table_name;		/* engine-side name, keyspace excluded */
	uint32		table_id;		/* engine table id */
	int			ncols;			/* = relation natts */
	WidecolColumn *cols;		/* indexed by attnum - 1 */
	int			npk;
	int		   *pk;				/* column indexes of the partition key */
	int			nck;
	int		   *ck;				/* column indexes of the clustering key */
	bool		has_static;
	int		   *cell_order;		/* cell-backed column indexes by ascending cell_id */
	int			ncells;
	int32		default_ttl;
	int32		gc_grace_seconds;
	char	   *compaction;		/* CQL map text, or NULL */
	char	   *replication;	/* keyspace replication map text */
	List	   *options;		/* the table's options (DefElems), as given */
	int			replication_factor;	/* effective factor (one node: 1) */
	bool		counter_table;	/* non-key columns are counters (counter.c) */
	bool		has_collections;	/* a column is a non-frozen collection */
	bool		has_meta;		/* a column shows a write time or TTL */
	bool		is_view;		/* a materialized view (matview.c): not written by users */
	char	   *indexes_text;	/* the "indexes" option, or NULL (index.c) */
	List	   *indexes;		/* its WidecolIndexes */
	bool		cache_rows;		/* option caching: point reads use the row cache */
} WidecolTable;

/* A secondary index of a widecol table (index.c) */
typedef struct WidecolIndex
{
	char	   *name;
	int			col;			/* column index */
	const char *column;			/* its name, when the option is rewritten */
} WidecolIndex;

extern WidecolTable *widecol_build_table(Relation rel);

/* in keyspace.c */
struct wc_replication;
extern bool widecol_is_widecol_server(Oid serverid);
extern const char *widecol_server_keyspace(ForeignServer *server);
extern void widecol_keyspace_replication(WidecolTable *t, struct wc_replication *r);

/* in table_cache.c */
extern void widecol_table_cache_init(void);
extern WidecolTable *widecol_get_table(Oid relid);
extern void widecol_ensure_engine_table(WidecolTable *t);

/* in engine_table.c */

/*
 * Who an engine table belongs to: the database, relation and owner role of
 * the foreign table that created it, kept as the owner record of the
 * typed schema.  present is false for an engine table without one.
 */
typedef struct EngineOwnership
{
	bool		present;
	Oid			dbid;
	Oid			relid;
	Oid			roleid;
	char	   *dbname;
	char	   *relname;		/* schema-qualified */
	char	   *rolename;
	char	   *access_method;	/* "widecol" for a USING widecol table, else NULL */
} EngineOwnership;

struct wc_table_def;
extern void widecol_create_or_check(WidecolTable *t, bool is_alter, bool create);
extern bool widecol_check_engine_owner(WidecolTable *t, struct wc_table_def *existing);
extern bool widecol_may_attach(const struct wc_table_def *def, Oid roleid);
extern wc_status widecol_get_engine_def(uint32 table_id, struct wc_table_def *def);
extern void widecol_cluster_table_def(WidecolTable *t, struct wc_table_def *def);

/* in typed_schema.c */
struct wc_schema;
extern const struct wc_schema *widecol_engine_schema(const struct wc_table_def *def);
extern void widecol_fill_engine_def(WidecolTable *t, struct wc_table_def *def,
									const EngineOwnership *o, uint64 version);
extern char *widecol_key_difference(WidecolTable *t, const struct wc_table_def *existing);
extern char *widecol_import_command(const struct wc_table_def *def, ForeignServer *server,
									const char *keyspace,
									struct ImportForeignSchemaStmt *stmt);
struct wc_schema_column;
extern void widecol_column_definition(const struct wc_schema_column *c, StringInfo out);
extern List *widecol_schema_options(const struct wc_schema *s, uint32 id);
extern List *widecol_tam_schema_options(const struct wc_schema *s, uint32 id);
extern char *widecol_tam_create_command(const struct wc_schema *s, uint32 id, const char *relname,
										ForeignServer *server, List **gaps);

/* in ddl.c */
extern void widecol_ddl_init(void);

/* in schema_apply.c */
extern bool widecol_schema_applying;
extern bool widecol_cluster_schema_enabled(void);
extern void widecol_schema_apply_init(void);
extern void widecol_schema_note_server(Oid serverid, bool created);
extern void widecol_schema_note_server_drop(const char *keyspace);
extern void widecol_schema_note_table(Oid relid, bool created);
extern void widecol_schema_note_table_drop(const char *keyspace, const char *table);
struct wc_cluster;
extern void widecol_schema_launch_appliers(struct wc_cluster *cluster);
extern PGDLLEXPORT void widecol_schema_apply_main(Datum main_arg)
			pg_attribute_noreturn();

/* in functions.c */
extern void widecol_empty_table(WidecolTable *t);
extern WidecolTable *widecol_require_owned_table(Oid relid, const char *function);

/* in index.c */
extern List *widecol_index_parse(WidecolTable *t, const char *text);
extern WidecolIndex *widecol_index_on(WidecolTable *t, int col);
extern bool widecol_index_choose(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t,
								 List *local, WidecolIndex **ix, Expr **value, Expr **clause);
extern bool widecol_index_statement(Oid relid, IndexStmt *stmt);

/* in matview.c */
extern void widecol_matview_refuse_write(WidecolTable *t);
extern void widecol_matview_refuse_drop(Node *parsetree);

/* in owner.c */
extern void widecol_owner_init(void);

/* in conn.c */
struct wc_client;
extern struct wc_client *widecol_connection(void);
extern struct wc_client *widecol_connection_if_open(void);
extern void widecol_report(wc_status st, const char *what)
			pg_attribute_noreturn();
extern void widecol_connection_lost(void);
/* the LWLock tranche (one lock) of the backends' commit-log fsyncs (conn.c) */
#define WIDECOL_CLSYNC_TRANCHE "widecol commit log sync"
extern void widecol_sync_write(wc_clpos need);
extern int	widecol_consistency;
extern int	widecol_ttl;
extern char *widecol_write_timestamp;
extern bool widecol_allow_filtering;
extern int	widecol_per_partition_limit;
extern int	widecol_fetch_size;
extern int	widecol_tombstone_warn_threshold;
extern int	widecol_tombstone_failure_threshold;
extern void widecol_define_query_gucs(void);
extern int64 widecol_new_write_timestamp(void);
extern const char *widecol_consistency_name(int level);
extern int	widecol_request_timeout(void);
extern void widecol_write_pending(bool pending);

/* in fdw.c */
struct FdwRoutine;
extern Datum widecol_fdw_handler(PG_FUNCTION_ARGS);

/* in plan.c */
/* indexes into ForeignScan.fdw_private (made by plan.c, read by scan.c) */
enum FdwScanPrivate
{
	FSP_MODE,					/* Integer: 0 full scan, 1 partitions */
	FSP_PK_IN,					/* List of Integer: per pk column, 1 if IN */
	FSP_NCK_EQ,					/* Integer */
	FSP_BOUNDS,					/* List of Integer: has_lower, lower_incl, has_upper,
								 * upper_incl, values of the lower and upper bound,
								 * 1 for IN on clustering column NCK_EQ */
	FSP_REVERSE,				/* Integer */
	FSP_LIMIT,					/* Integer (-1 none) */
	FSP_ATTRS,					/* List of Integer: attnums needed */
	FSP_DESC,					/* String: description for EXPLAIN */
	FSP_RELID,					/* Oid as Integer */
	FSP_PPL,					/* List of Integer: the query's own per-partition
								 * limit (DISTINCT: 1; 0 none), 1 if
								 * widecol.per_partition_limit may apply, and
								 * 1 for DISTINCT ON, 2 for DISTINCT */
	FSP_DIRECT,					/* present for a direct DELETE */
	FSP_INDEX = FSP_DIRECT		/* mode 2 (index read; never a direct DELETE):
								 * String, the index name */
};
/* A ForeignScan of no scan relation (scanrelid 0) is a pushed-down count(*). */

extern void widecolGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
									 Oid foreigntableid);
extern void widecolGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
extern void widecolGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
									   RelOptInfo *input_rel, RelOptInfo *output_rel,
									   void *extra);
extern ForeignScan *widecolGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										  Oid foreigntableid, ForeignPath *best_path,
										  List *tlist, List *scan_clauses,
										  Plan *outer_plan);

/* A scan path of a widecol table, for either face (foreign or access method) */
typedef struct WidecolPath
{
	double		rows;
	Cost		startup;
	Cost		total;
	List	   *pathkeys;
	Relids		required_outer;
	int			kind;			/* what widecol_plan_scan is given back */
} WidecolPath;

extern void widecol_plan_rel(PlannerInfo *root, RelOptInfo *baserel, Oid relid);
extern List *widecol_plan_paths(PlannerInfo *root, RelOptInfo *baserel);
extern List *widecol_plan_scan(PlannerInfo *root, RelOptInfo *baserel, Oid relid,
							   Path *best_path, int kind, List *scan_clauses,
							   List **local, List **exprs);
extern List *widecol_full_scan_private(WidecolTable *t);
extern bool widecol_count_pushable(PlannerInfo *root, UpperRelationKind stage,
								   RelOptInfo *input_rel, RelOptInfo *output_rel,
								   void *extra);
extern List *widecol_plan_count(PlannerInfo *root, RelOptInfo *scanrel, Path *path,
								List **exprs);

/* in scan.c */

/*
 * The state of one scan (ForeignScanState.fdw_state); also used by the
 * direct DELETE and, filled by hand, by ANALYZE's full read.
 */
typedef struct WidecolScanState
{
	WidecolTable *t;
	bool		partition_mode;
	int			npk;
	bool	   *pk_in;
	int			nck_eq;
	bool		has_lower,
				lower_incl,
				has_upper,
				upper_incl;
	int			lower_n,		/* values of each bound: >1 for (a, b) > (x, y) */
				upper_n;
	bool		ck_in;			/* IN on clustering column nck_eq: slices */
	bool		reverse;
	int64		limit;
	int64		ppl;			/* per-partition limit of this scan, 0 none */
	bool		ppl_from_guc;	/* ... from widecol.per_partition_limit */
	int			ppl_distinct;	/* ... from DISTINCT ON (1) or DISTINCT (2) */
	char	   *index;			/* mode 2: the index read (value: value_states) */
	StringInfoData index_value;	/* its encoded value, once evaluated */
	List	   *value_states;	/* ExprStates in fdw_exprs order */
	uint32	   *columns;		/* cell ids to fetch, ascending */
	int			ncolumns;
	bool		need_static;
	bool		need_meta;		/* writetime/ttl columns wanted */
	bool		serial;			/* read at widecol.serial_consistency (the read
								 * of a conditional UPDATE or DELETE, modify.c) */
	bool		*wanted;		/* per column index */
	char	   *desc;
	bool		count_only;		/* a pushed-down count(*): one row, the count */

	/* runtime */
	MemoryContext batch_cxt;
	bool		started;
	List	   *partitions;		/* encoded partition keys (StringInfo) */
	ListCell   *cur_partition;
	List	   *ck_slices;		/* encoded keys, one slice per IN value */
	ListCell   *cur_slice;
	StringInfoData lower_key,
				upper_key;
	wc_client_page *page;
	int			row;
	uint8	   *paging_state;
	size_t		paging_state_len;
	int64		returned;
	/* static row of the current partition */
	StringInfoData static_pk;
	Datum	   *static_values;
	bool	   *static_nulls;
	bool		have_static;
	bool		static_pending;	/* static row seen, no clustering row emitted yet */
	/* read-your-writes: the transaction's pending writes sent with the read */
	uint32		txn_upto;		/* pending writes made before the scan began */
	bool		overlay_built;
	ListCell   *overlay_for;	/* the partition it holds (NULL: the table) */
	uint8	   *overlay;		/* batch record, in batch_cxt; NULL: none */
	size_t		overlay_len;
	int64		overlay_mutations;	/* pending mutations merged, for EXPLAIN */
	/* EXPLAIN ANALYZE counters */
	wc_read_stats stats;
	int64		requests;
	bool		tombstone_warned;
	/* widecol.per_partition_limit: rows of the current partition, trimming */
	StringInfoData ppl_pk;
	int64		ppl_rows;
	int64		ppl_trimmed;	/* partitions the setting cut short */
	/* EXPLAIN on a cluster: the node's executor state, for constant keys */
	PlanState  *ps;
	bool		explain_only;
	/* EXPLAIN ANALYZE on a cluster: the replicas' part, summed over the reads */
	int			ntrace;
	wc_read_trace trace[WC_PROTO_TRACE_MAX];
} WidecolScanState;

extern void widecolBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *widecolIterateForeignScan(ForeignScanState *node);
extern void widecolReScanForeignScan(ForeignScanState *node);
extern void widecolEndForeignScan(ForeignScanState *node);
extern void widecolExplainForeignScan(ForeignScanState *node,
									  struct ExplainState *es);
extern WidecolScanState *widecol_begin_scan(PlanState *ps, Oid relid, List *priv,
											List *exprs, int eflags);
extern TupleTableSlot *widecol_scan_count(WidecolScanState *ss, TupleTableSlot *slot,
										  ExprContext *econtext);
extern TupleTableSlot *widecol_scan_next(WidecolScanState *ss, TupleTableSlot *slot,
										 ExprContext *econtext);
extern void widecol_rescan(WidecolScanState *ss, List *priv);
extern void widecol_explain_scan(WidecolScanState *ss, struct ExplainState *es);
/* ss->partitions: the encoded partition keys the plan's values select */
extern void widecol_build_partitions(WidecolScanState *ss,
									 ExprContext *econtext);
/* ss->page: the next page of the current partition (or the whole table) */
extern void widecol_fetch_page(WidecolScanState *ss);
/*
 * Store row r in the slot, with the partition's static columns; with
 * static_only, a partition that has only its static row (no clustering).
 */
extern void widecol_fill_row(WidecolScanState *ss, TupleTableSlot *slot,
							 const wc_result_row *r, bool static_only);

/* in direct_delete.c */
extern bool widecolPlanDirectModify(PlannerInfo *root, ModifyTable *plan,
									Index resultRelation, int subplan_index);
extern void widecolBeginDirectModify(ForeignScanState *node, int eflags);
extern TupleTableSlot *widecolIterateDirectModify(ForeignScanState *node);
extern void widecolEndDirectModify(ForeignScanState *node);
extern void widecolExplainDirectModify(ForeignScanState *node,
									   struct ExplainState *es);

/* in lwt.c */
extern int	widecol_serial_consistency;
extern void widecol_lwt_init(void);
struct wc_lwt_cond;
extern void widecol_lwt_refuse_in_block(WidecolTable *t, const char *what);
extern bool widecol_lwt_cas(WidecolTable *t, const char *pk, int pk_len, const char *ck,
							int ck_len, uint8 flags, const struct wc_lwt_cond *conds,
							int nconds, const uint8 *batch, size_t len);

struct wc_rowb;
/* in direct_delete.c: UPDATE without reading (counters, collection elements) */
typedef void (*widecol_row_fill) (struct wc_rowb *rb, StringInfo pk, void *arg);
extern Expr *widecol_strip_coercions(Expr *e);
extern bool widecol_is_column(Expr *e, Index rti, AttrNumber attno);
extern bool widecol_direct_update_names_rows(List *priv, List *qual, WidecolTable *t);
extern void widecol_direct_update_rows(WidecolScanState *ss, PlanState *ps, widecol_row_fill fill,
									   void *arg, const char *what);

/* in counter.c */
extern Oid	widecol_counter_typid(void);
extern void widecol_counter_check_table(WidecolTable *t);
extern void widecol_counter_refuse_write(WidecolTable *t, CmdType op);
struct wc_cell;
extern Datum widecol_counter_datum(WidecolTable *t, const struct wc_cell *c);

extern List *widecol_counter_deltas(List *exprs, List *attnos, Index rti, bool names_rows,
									WidecolTable *t);
extern bool widecol_counter_plan_update(PlannerInfo *root, ModifyTable *plan, Index rti,
										ForeignScan *fscan, WidecolTable *t);
extern void widecol_counter_update(WidecolScanState *ss, PlanState *ps, List *deltas);
extern void widecol_counter_explain(WidecolScanState *ss, struct ExplainState *es);

/* in collection.c */
extern WidecolCollType *widecol_collection_parse(WidecolColumn *c, const char *text);
extern List *widecol_collection_parse_types(const char *text);
extern void widecol_collection_check_table(WidecolTable *t);
struct wc_rowb;
extern void widecol_collection_put_value(struct wc_rowb *rb, WidecolColumn *c, Datum value,
										 int64 ts, int32 ttl, uint32 ldt, uint32 now);
extern Datum widecol_collection_datum(WidecolColumn *c, const struct wc_cell *cell);
extern Datum widecol_collection_frozen_value(WidecolColumn *c, Datum value);
extern List *widecol_collection_ops(List *exprs, List *attnos, Index rti, WidecolTable *t);
extern bool widecol_collection_plan_update(PlannerInfo *root, ModifyTable *plan, Index rti,
										   ForeignScan *fscan, WidecolTable *t);
extern bool widecol_collection_is_update(ForeignScan *fs);
extern bool widecol_collection_keyable(Oid typid);
extern void widecol_collection_encode_key(StringInfo buf, Oid typid, Datum value);
extern void widecol_encode_column_key(StringInfo buf, WidecolColumn *c, Datum value,
									  bool descending);
extern void widecol_encode_column_pk(StringInfo buf, WidecolColumn *c, Datum value, int npk);
extern Datum widecol_collection_decode_key(const uint8 **pp, const uint8 *end, Oid typid,
										   bool descending);
extern Datum widecol_decode_column_key(const uint8 **pp, const uint8 *end, WidecolColumn *c,
									   bool descending);
extern Datum widecol_decode_column_pk(const uint8 **pp, const uint8 *end, WidecolColumn *c,
									  int npk);
extern void widecol_collection_update(WidecolScanState *ss, PlanState *ps, List *ops);
extern void widecol_collection_explain(WidecolScanState *ss, List *ops,
									   struct ExplainState *es);

/* in analyze.c */
extern bool widecolAnalyzeForeignTable(Relation relation,
									   AcquireSampleRowsFunc *func,
									   BlockNumber *totalpages);

/* in validate.c */
extern Datum widecol_fdw_validator(PG_FUNCTION_ARGS);

/* in import.c */
extern List *widecolImportForeignSchema(ImportForeignSchemaStmt *stmt,
										Oid serverOid);

/* in functions.c */
extern WidecolTable *widecol_require_readable_table(Oid relid, const char *function);

/* in modify.c */
extern void widecol_fdw_modify_routine(struct FdwRoutine *routine);

struct WidecolWriter;
typedef struct WidecolWriter WidecolWriter;
extern WidecolWriter *widecol_writer_begin(WidecolTable *t);
extern void widecol_writer_add(WidecolWriter *w, const uint8 *mut, size_t len);
extern void widecol_writer_flush(WidecolWriter *w);
extern void widecol_writer_end(WidecolWriter *w);

typedef struct WidecolModifyState WidecolModifyState;
extern WidecolModifyState *widecol_modify_begin(Relation rel, CmdType op, Bitmapset *cols);
extern void widecol_modify_insert(WidecolModifyState *ms, TupleTableSlot *slot);
extern void widecol_bulk_yield_point(void);
extern void widecol_modify_update(WidecolModifyState *ms, Datum *keys, bool *nulls,
								  TupleTableSlot *slot);
extern void widecol_modify_delete(WidecolModifyState *ms, Datum *keys, bool *nulls);
extern void widecol_modify_end(WidecolModifyState *ms);

/* in tam.c */
extern Datum widecol_tam_handler(PG_FUNCTION_ARGS);
extern bool widecol_is_tam_table(Oid relid);
#define TAM_KEEP_NONE 0
#define TAM_KEEP_ALL 1
#define TAM_KEEP_LATEST 2
extern int	widecol_tam_keeps_rows(Oid relid);
extern void widecol_refuse_cluster_truncate(const char *relname);
extern void widecol_tam_row_returned(Relation rel, TupleTableSlot *slot, int keep, uint64 *kept);
extern void widecol_tam_init(void);

/* in tam_ddl.c */
extern const char *widecol_tam_default_keyspace;
extern void widecol_tam_options(Relation rel, Oid *serverid, List **options);
extern void widecol_tam_follow_options(Oid relid, List *options);
extern void widecol_tam_ddl_init(void);

/* in tam_scan.c */
extern void widecol_tam_scan_init(void);
extern bool widecol_is_tam_scan(Plan *plan);

/* in tam_modify.c */
extern void widecol_tam_modify_init(void);

/* in txn.c */
struct wc_batch_builder;
extern int	widecol_transaction_buffer_mb;
extern void widecol_txn_init(void);
extern struct wc_batch_builder *widecol_txn_batch(void);
extern void widecol_txn_added(uint32 table_id);
extern void widecol_txn_counter_deltas(void);
extern bool widecol_txn_wrote(uint32 table_id);
extern uint32 widecol_txn_position(void);
extern uint8 *widecol_txn_overlay(uint32 table_id, const char *pk, int pk_len,
								  uint32 upto, size_t *len, uint32 *count);
extern int64 widecol_txn_write_timestamp(void);
extern List *widecol_subxact_follow(List *items, size_t subid_offset, SubXactEvent event,
									SubTransactionId mySubid,
									SubTransactionId parentSubid);

/* in timeuuid.c */
extern Oid	widecol_timeuuid_oid(void);
extern void widecol_timeuuid_encode_key(StringInfo buf, Datum value);
extern Datum widecol_timeuuid_decode_key(const uint8 **pp, const uint8 *end,
										 bool descending);

#endif							/* WIDECOL_H */
