/*-------------------------------------------------------------------------
 *
 * txn.c
 *		  The pending widecol writes of a transaction: collected while it
 *		  runs, rolled back with its savepoints, spilled to a temporary file
 *		  beyond widecol.transaction_buffer_mb, and applied by the node as
 *		  one batch when it commits.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/txn.c
 *
 * NOTES
 *	  Every write of a statement (modify.c, direct_delete.c) is encoded
 *	  straight into one batch builder (engine/mutation.h) that belongs to
 *	  the backend's current transaction; nothing reaches the node before
 *	  the transaction commits.  A statement outside a transaction block is
 *	  its own transaction, so a statement that fails leaves nothing behind.
 *
 *	  Savepoints: each subtransaction start records a mark (mutations and
 *	  bytes written so far); its abort cuts the pending writes back to that
 *	  mark, its commit forgets the mark.  The transaction's abort forgets
 *	  everything.
 *
 *	  Beyond widecol.transaction_buffer_mb the mutations move, in the
 *	  batch layout (varint length, mutation), to a temporary file owned by
 *	  the top transaction's resource owner, written a whole piece per call
 *	  (no 8 kB blocks: a staged statement moves each chunk there); a
 *	  rollback to a mark inside the file moves its end back and overwrites.
 *
 *	  Staging: on a node that serves alone, each WIDECOL_TXN_CHUNK of
 *	  pending writes is also handed to the node as it is made (STAGE,
 *	  pipelined: the node logs it and builds its memtables while the backend
 *	  encodes the next chunk), invisible to every read until the commit
 *	  PUBLISHes the staged transaction at once.  The backend keeps every
 *	  write all the same (the read overlay and savepoints need them), so
 *	  whatever stops staging - a rollback to a savepoint taken before the
 *	  last chunk staged, counter updates, a failure - only sends an abort
 *	  and leaves the commit to the single APPLY below.  Writes staged are
 *	  always a prefix of the pending writes, and the ones not yet staged are
 *	  all in memory (the rest is staged before memory spills; what is staged
 *	  spills at once, so that memory holds one chunk).  A cluster
 *	  node takes the writes as one logged batch instead (APPLY).
 *
 *	  Commit (XACT_EVENT_PRE_COMMIT, so that a failure aborts the whole
 *	  transaction, heap writes included): the writes go to the node as one
 *	  APPLY, which the node writes as one commit-log record, or, staged, the
 *	  last chunk and a PUBLISH.  A transaction
 *	  whose writes pass WIDECOL_TXN_MAX_RECORD, the largest such record,
 *	  cannot be atomic: it is told so by a NOTICE and from then on streams,
 *	  i.e. sends what it holds and each later WIDECOL_TXN_CHUNK as it is
 *	  made, pipelined, as bulk loads always did; what was sent stays.
 *	  PREPARE TRANSACTION with pending writes is refused: the node has
 *	  nothing that could hold a prepared batch.
 *
 *	  From the moment the commit's writes go out until PostgreSQL's
 *	  CommitTransaction holds interrupts itself, every interrupt is held
 *	  off: a cancel is ignored (WARNING), a terminate ends the session only
 *	  after the commit (WARNING), so neither can roll back the heap part of
 *	  a transaction whose widecol part the node applied.  An ERROR raised by
 *	  PostgreSQL after PRE_COMMIT (serialization failure, NOTIFY queue full)
 *	  still does; docs/user-guide.md ("Transactions") says so.
 *
 *	  Read your writes: widecol_txn_overlay collects the pending mutations
 *	  of one table (or partition) made before a scan began into a batch
 *	  record that scan.c sends with the READ; the node merges it with the
 *	  stored data as the newest source (engine's wc_engine_read_overlay).
 *
 *	  Write timestamps: the first write of a transaction takes the time,
 *	  every later statement of the same transaction that time plus one
 *	  microsecond per statement, so that the transaction's writes carry
 *	  (nearly) one timestamp while a later statement of it still wins over
 *	  an earlier one (a DELETE then an INSERT of the same row).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/wait_event.h"

#include "client.h"
#include "coding.h"
#include "consistency.h"
#include "mutation.h"

#include "widecol.h"

/*
 * Largest batch the node applies as one commit-log record (the engine's
 * default max_record_size, engine/commitlog.h).
 */
#define WIDECOL_TXN_MAX_RECORD	((size_t) 64 << 20)

/* Size of the batches a streaming transaction sends (and of spill reads). */
#define WIDECOL_TXN_CHUNK		((size_t) 1 << 20)

/* A subtransaction's start: how much was pending then. */
typedef struct TxnMark
{
	SubTransactionId subid;
	uint64		bytes;			/* mutation bytes (sent + spilled + in memory) */
	uint32		count;			/* mutations */
} TxnMark;

/* GUC */
int			widecol_transaction_buffer_mb = 16;

/* the pending writes of the current transaction */
static wc_batch_builder pending;	/* in memory, after the spilled ones */
static bool pending_init = false;
static File spill = -1;			/* temporary file, owned by
								 * TopTransactionResourceOwner */
static uint64 spill_bytes = 0;	/* logical end of the spill file */
static uint64 spill_pos = 0;	/* where read_spill reads next */
static uint32 spill_count = 0;
static bool streaming = false;	/* beyond one atomic batch: sent as made */
static uint64 sent_bytes = 0;	/* streamed: mutation bytes sent already */
static uint32 sent_count = 0;

static bool staging = false;	/* a staged transaction is open on the node */
static bool stage_off = false;	/* this transaction stages no more */
static uint64 staged_bytes = 0; /* mutation bytes staged (a prefix) */
static uint32 staged_count = 0;
static wc_buf stage_buf;		/* the tail sent as streaming starts; malloc */
static bool pending_deltas = false; /* counter deltas were written (never
									 * staged) */

static TxnMark *marks = NULL;	/* in TopMemoryContext */
static int	nmarks = 0;
static int	maxmarks = 0;

static uint32 *tables = NULL;	/* ids of the tables written, in TopMemoryContext */
static int	ntables = 0;
static int	maxtables = 0;

static bool commit_holds = false;	/* the commit holds off interrupts until
									 * PostgreSQL's own holdoff (see
									 * txn_xact_callback) */

static int64 txn_ts = 0;		/* timestamp of the transaction's first write */
static int64 txn_seq = 0;		/* statements of the transaction after it */
static int64 last_ts = 0;		/* last timestamp handed out by this backend */

/* callbacks */
static void txn_xact_callback(XactEvent event, void *arg);
static void txn_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								 SubTransactionId parentSubid, void *arg);

/* helpers */
static uint64 pending_bytes(void);
static uint32 pending_count(void);
static void spill_pending(void);
static void truncate_to(uint64 bytes, uint32 count);
static void forget_pending(void);
static void commit_pending(void);
static void send_one_record(void);
static void stream_pending(void);
static void start_streaming(void);
static void send_chunk(wc_batch_builder *b);
static bool stage_possible(void);
static bool stage_tail(void);
static const uint8_t *tail_record(size_t *len);
static void stage_cancel(void);
static void ignore_cancel(void);
static void release_commit_hold(void);
static bool publish_staged(void);
typedef void (*pending_fn) (const uint8 *mut, size_t len, void *arg);
static void for_each_spilled(pending_fn fn, void *arg);
static void for_each_in_memory(pending_fn fn, void *arg);
static void add_to_batch(const uint8 *mut, size_t len, void *arg);
static void add_to_chunk(const uint8 *mut, size_t len, void *arg);
static void add_to_overlay(const uint8 *mut, size_t len, void *arg);
static void read_spill(uint8 *dst, size_t len);

void
widecol_txn_init(void)
{
	DefineCustomIntVariable("widecol.transaction_buffer_mb",
							"Memory for a transaction's pending widecol writes before they spill to a temporary file.",
							"Writes are applied when the transaction commits; beyond this much they wait on disk.",
							&widecol_transaction_buffer_mb, 16, 1, 1024,
							PGC_USERSET, GUC_UNIT_MB, NULL, NULL, NULL);
	RegisterXactCallback(txn_xact_callback, NULL);
	RegisterSubXactCallback(txn_subxact_callback, NULL);
}

/* ---------------------------------------------------------------- writes */

/*
 * The builder that collects the current transaction's writes: begin a
 * mutation in it (wc_batch_builder_begin) or add an encoded one, then call
 * widecol_txn_added.
 */
struct wc_batch_builder *
widecol_txn_batch(void)
{
	if (!pending_init)
	{
		wc_batch_builder_init(&pending);
		pending_init = true;
	}
	return &pending;
}

/*
 * The transaction is about to write counter deltas (counter.c, the only
 * writer of delta cells): the node resolves them under its counter lock,
 * so they go in one batch at commit, never staged.  Known here, the chunks
 * need no walk over every cell to find them.
 */
void
widecol_txn_counter_deltas(void)
{
	pending_deltas = true;
}

/*
 * A mutation of table_id was added to widecol_txn_batch(): spill once
 * memory is full.
 */
void
widecol_txn_added(uint32 table_id)
{
	uint64		total;

	if (ntables == 0 || tables[ntables - 1] != table_id)
	{
		if (!widecol_txn_wrote(table_id))
		{
			if (ntables == maxtables)
			{
				maxtables = Max(8, maxtables * 2);
				tables = tables == NULL
					? MemoryContextAlloc(TopMemoryContext, sizeof(uint32) * maxtables)
					: repalloc(tables, sizeof(uint32) * maxtables);
			}
			tables[ntables++] = table_id;
		}
		else
		{
			/* keep the last one written at the end: the common case is one table */
			for (int i = 0; i < ntables - 1; i++)
				if (tables[i] == table_id)
				{
					tables[i] = tables[ntables - 1];
					tables[ntables - 1] = table_id;
					break;
				}
		}
	}

	if (streaming)
	{
		if (wc_batch_builder_size(&pending) >= WIDECOL_TXN_CHUNK)
			stream_pending();
		return;
	}
	total = pending_bytes();
	if (total + WC_BATCH_HEADER_MAX > WIDECOL_TXN_MAX_RECORD)
	{
		ereport(NOTICE,
				(errmsg("the widecol writes of this transaction exceed %zu MB, the largest batch the node applies atomically",
						WIDECOL_TXN_MAX_RECORD >> 20),
				 errdetail("From now on they are applied as they are made, in batches of %zu MB: ROLLBACK, ROLLBACK TO SAVEPOINT "
						   "or an error no longer undoes the widecol writes made so far, and a crash leaves them applied.",
						   WIDECOL_TXN_CHUNK >> 20),
				 errhint("To load all or nothing, commit in transactions of less than %zu MB of widecol writes each.",
						 WIDECOL_TXN_MAX_RECORD >> 20)));
		start_streaming();
	}
	else if (wc_batch_builder_size(&pending) >= (size_t) widecol_transaction_buffer_mb * 1024 * 1024)
	{
		/* what spills is staged first: the writes not staged stay in memory */
		if (stage_possible())
			(void) stage_tail();
		spill_pending();
	}
	else if (total - staged_bytes >= WIDECOL_TXN_CHUNK && stage_possible() && stage_tail())
	{
		/*
		 * What the node holds moves to the file at once: memory stays one
		 * warm chunk, as before staging, instead of growing page by page
		 */
		spill_pending();
	}
}

/*
 * The write timestamp of a statement: widecol.write_timestamp if set, else
 * the time of the transaction's first write plus one microsecond per
 * statement since, never below one already handed out.
 */
int64
widecol_txn_write_timestamp(void)
{
	int64		ts;

	if (widecol_write_timestamp && widecol_write_timestamp[0] != '\0')
		return widecol_new_write_timestamp();
	if (txn_ts == 0)
	{
		txn_ts = widecol_new_write_timestamp();
		if (txn_ts <= last_ts)
			txn_ts = last_ts + 1;
		txn_seq = 0;
		ts = txn_ts;
	}
	else
		ts = txn_ts + ++txn_seq;
	if (ts > last_ts)
		last_ts = ts;
	return ts;
}

/* Position of the end of the transaction's writes: bytes (sent, spilled, in memory). */
static uint64
pending_bytes(void)
{
	return sent_bytes + spill_bytes + (pending_init ? wc_batch_builder_size(&pending) : 0);
}

/* The same in mutations. */
static uint32
pending_count(void)
{
	return sent_count + spill_count + (pending_init ? wc_batch_builder_count(&pending) : 0);
}

/* Send the mutations in memory, without waiting for the answer. */
static void
stream_pending(void)
{
	sent_bytes += wc_batch_builder_size(&pending);
	sent_count += wc_batch_builder_count(&pending);
	send_chunk(&pending);
	wc_batch_builder_reset(&pending);
}

/*
 * The transaction passed one atomic batch: send what is spilled and in
 * memory, in order, and every later write as it is made (stream_pending).
 */
static void
start_streaming(void)
{
	wc_batch_builder out;

	if (staging && publish_staged())
	{
		/* what was staged is applied; the writes in memory after it follow */
		size_t		len;
		const uint8_t *rec = tail_record(&len);
		wc_status	st = WC_OK;

		if (rec != NULL)
			st = wc_client_apply_send(widecol_connection(), rec, len,
									  (wc_consistency) widecol_consistency);
		if (st != WC_OK)
			widecol_report(st, "write");
		if (rec != NULL)
			widecol_write_pending(true);
		sent_bytes = pending_bytes();
		sent_count = pending_count();
		if (spill >= 0)
			FileClose(spill);
		spill = -1;
		spill_bytes = 0;
		spill_count = 0;
		wc_batch_builder_reset(&pending);
		streaming = true;
		return;
	}
	wc_batch_builder_init(&out);
	PG_TRY();
	{
		for_each_spilled(add_to_chunk, &out);
		send_chunk(&out);
	}
	PG_FINALLY();
	{
		wc_batch_builder_free(&out);
	}
	PG_END_TRY();
	sent_bytes += spill_bytes;
	sent_count += spill_count;
	if (spill >= 0)
		FileClose(spill);
	spill = -1;
	spill_bytes = 0;
	spill_count = 0;
	stream_pending();
	streaming = true;
}

/* Move the mutations held in memory to the end of the spill file. */
static void
spill_pending(void)
{
	const uint8_t *rec;
	size_t		len;
	size_t		size = wc_batch_builder_size(&pending);
	wc_status	st;

	if (size == 0)
		return;
	if (spill < 0)
	{
		ResourceOwner oldowner = CurrentResourceOwner;

		CurrentResourceOwner = TopTransactionResourceOwner;
		spill = OpenTemporaryFile(false);
		CurrentResourceOwner = oldowner;
		spill_bytes = 0;
	}
	st = wc_batch_builder_finish(&pending, &rec, &len);
	if (st != WC_OK)
		widecol_report(st, "encoding a write");
	/* the mutations follow the batch header: they end the record */
	rec += len - size;
	for (size_t done = 0; done < size;)
	{
		int			piece = (int) Min(size - done, WIDECOL_TXN_MAX_RECORD);

		errno = 0;
		if (FileWrite(spill, (char *) rec + done, piece, (off_t) (spill_bytes + done),
					  WAIT_EVENT_BUFFILE_WRITE) != piece)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write the temporary file of pending widecol writes: %m"),
					 errhint("Free space in the temporary files' directory, or raise temp_file_limit.")));
		done += piece;
	}
	spill_bytes += size;
	spill_count += wc_batch_builder_count(&pending);
	wc_batch_builder_reset(&pending);
}

/*
 * Cut the pending writes back to the first count mutations (bytes long);
 * writes already sent (streaming) stay.
 */
static void
truncate_to(uint64 bytes, uint32 count)
{
	/* the node holds writes that are being rolled back: it drops them all */
	if (staging && bytes < staged_bytes)
		stage_cancel();
	if (bytes <= sent_bytes)
	{
		bytes = sent_bytes;
		count = sent_count;
	}
	bytes -= sent_bytes;
	count -= sent_count;
	if (bytes >= spill_bytes)
	{
		if (pending_init)
			wc_batch_builder_truncate(&pending, count - spill_count,
									  (size_t) (bytes - spill_bytes));
		return;
	}
	if (pending_init)
		wc_batch_builder_reset(&pending);
	/* the next spill overwrites from there */
	spill_bytes = bytes;
	spill_count = count;
}

/* Forget every pending write and mark (end of the transaction). */
static void
forget_pending(void)
{
	if (staging)
		stage_cancel();
	stage_off = false;
	staged_bytes = 0;
	staged_count = 0;
	pending_deltas = false;
	if (pending_init)
	{
		wc_batch_builder_truncate(&pending, 0, 0);
		/* a big transaction's memory goes back; a small one's is reused */
		if (pending.body.cap > ((size_t) 4 << 20))
		{
			wc_batch_builder_free(&pending);
			pending_init = false;
		}
	}
	if (spill >= 0)
		FileClose(spill);
	spill = -1;
	spill_bytes = 0;
	spill_count = 0;
	streaming = false;
	sent_bytes = 0;
	sent_count = 0;
	nmarks = 0;
	ntables = 0;
	txn_ts = 0;
	txn_seq = 0;
}

/* ---------------------------------------------------------------- commit */

/* Read len bytes of the spill file at spill_pos, and move past them. */
static void
read_spill(uint8 *dst, size_t len)
{
	for (size_t done = 0; done < len;)
	{
		int			piece = (int) Min(len - done, WIDECOL_TXN_MAX_RECORD);

		errno = 0;
		if (FileRead(spill, (char *) dst + done, piece, (off_t) spill_pos,
					 WAIT_EVENT_BUFFILE_READ) != piece)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the temporary file of pending widecol writes: %m")));
		done += piece;
		spill_pos += piece;
	}
}

/* Apply every pending write; an ERROR here aborts the transaction. */
static void
commit_pending(void)
{
	wc_status	st;

	if (pending_count() == 0)
		return;
	if (!streaming)
	{
		/* staged: the rest, then PUBLISH; else (or staging stopped) one APPLY */
		if (!(staging && stage_tail() && publish_staged()))
			send_one_record();
		return;
	}
	stream_pending();
	widecol_write_pending(false);
	st = wc_client_apply_wait(widecol_connection());
	if (st != WC_OK)
		widecol_report(st, "write");
}

/* One APPLY: one commit-log record on the node. */
static void
send_one_record(void)
{
	const uint8_t *rec;
	size_t		len;
	wc_status	st;
	wc_buf		whole;
	wc_clpos	need;

	if (spill_bytes == 0)
	{
		st = wc_batch_builder_finish(&pending, &rec, &len);
		if (st != WC_OK)
			widecol_report(st, "encoding a write");
		st = wc_client_apply_unsynced(widecol_connection(), rec, len,
									  (wc_consistency) widecol_consistency, &need);
		if (st != WC_OK)
			widecol_report(st, "write");
		widecol_sync_write(need);
		return;
	}
	/* spilled: the file's mutations, then the ones in memory, in one record */
	wc_buf_init(&whole);
	wc_batch_begin(&whole, pending_count());
	if (!wc_buf_reserve(&whole, pending_bytes()))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory assembling the widecol writes of the transaction (%llu bytes)",
						(unsigned long long) pending_bytes()),
				 errhint("Free memory, or commit in smaller transactions.")));
	PG_TRY();
	{
		spill_pos = 0;
		read_spill(whole.data + whole.len, spill_bytes);
		whole.len += spill_bytes;
		if (wc_batch_builder_count(&pending) > 0)
		{
			size_t		size = wc_batch_builder_size(&pending);

			st = wc_batch_builder_finish(&pending, &rec, &len);
			if (st != WC_OK)
				widecol_report(st, "encoding a write");
			wc_buf_append(&whole, rec + len - size, size);
		}
		st = wc_client_apply_unsynced(widecol_connection(), whole.data, whole.len,
									  (wc_consistency) widecol_consistency, &need);
		if (st != WC_OK)
			widecol_report(st, "write");
		widecol_sync_write(need);
	}
	PG_FINALLY();
	{
		wc_buf_free(&whole);
	}
	PG_END_TRY();
}

/* ---------------------------------------------------------------- staging */

/*
 * May this transaction stage its writes?  Not on a cluster (the writes go
 * to the coordinator as one logged batch), nor once staging stopped.
 */
static bool
stage_possible(void)
{
	if (stage_off)
		return false;
	if (widecol_listen_address != NULL && widecol_listen_address[0] != '\0')
	{
		stage_off = true;
		return false;
	}
	return true;
}

/*
 * The pending writes not yet staged (all in memory, at the end of the
 * builder): *count mutations, *size bytes from the result on; NULL when
 * there are none.
 */
static const uint8_t *
tail_mutations(size_t *size, uint32 *count)
{
	*size = (size_t) (pending_bytes() - Max(staged_bytes, sent_bytes));
	*count = pending_count() - Max(staged_count, sent_count);
	if (*count == 0)
		return NULL;
	Assert(pending_init && *size <= wc_batch_builder_size(&pending));
	return pending.body.data + pending.body.len - *size;
}

/*
 * The pending writes not yet staged as one batch record in stage_buf; NULL
 * when there are none.
 */
static const uint8_t *
tail_record(size_t *len)
{
	size_t		size;
	uint32		count;
	const uint8_t *muts = tail_mutations(&size, &count);
	wc_status	st;

	*len = 0;
	if (muts == NULL)
		return NULL;
	wc_buf_reset(&stage_buf);
	wc_batch_begin(&stage_buf, count);
	wc_buf_append(&stage_buf, muts, size);
	if ((st = wc_buf_status(&stage_buf)) != WC_OK)
		widecol_report(st, "collecting the transaction's writes");
	*len = stage_buf.len;
	return stage_buf.data;
}

/*
 * Hand the writes not yet staged to the node (STAGE, pipelined).  False
 * when staging stopped instead (counter updates are applied as one batch);
 * an ERROR when the node refused an earlier chunk or the connection failed.
 */
static bool
stage_tail(void)
{
	size_t		len;
	uint32		count;
	const uint8_t *muts = tail_mutations(&len, &count);
	wc_status	st;

	if (muts == NULL)
		return true;
	if (pending_deltas)
	{
		if (staging)
			stage_cancel();
		stage_off = true;
		return false;
	}
	/* sent from where the writes are, behind the batch header */
	st = wc_client_stage_send_mutations(widecol_connection(), count, muts, len,
										(wc_consistency) widecol_consistency, !staging);
	if (st == WC_OVERLOADED)
	{
		/*
		 * The node holds as many staged writes as it may: it dropped this
		 * transaction's; they are all still here, and go as one batch
		 */
		stage_cancel();
		return false;
	}
	if (st != WC_OK)
	{
		struct wc_client *c = widecol_connection_if_open();
		char		why[512];

		/*
		 * The node has dropped or failed the staged transaction: drop it for
		 * sure (a broken connection drops it by closing, and is reported so)
		 */
		strlcpy(why, wc_last_error(), sizeof(why));
		if (c != NULL && !wc_client_broken(c))
			stage_cancel();
		staging = false;
		stage_off = true;
		(void) wc_error(st, "%s", why);
		widecol_report(st, "write");
	}
	widecol_write_pending(true);
	staging = true;
	staged_bytes = pending_bytes();
	staged_count = pending_count();
	return true;
}

/*
 * Make what is staged visible (PUBLISH); an ERROR if the node refuses it
 * (then nothing of it is applied).  True once published; false when the
 * node refused a chunk for its bound on staged writes (nothing of them is
 * applied, the caller sends the writes as before staging).
 */
static bool
publish_staged(void)
{
	wc_status	st;

	staging = false;
	stage_off = true;
	st = wc_client_publish(widecol_connection(), true);
	widecol_write_pending(false);
	if (st == WC_OVERLOADED)
	{
		/* a late chunk was refused for the node's bound: all go as one batch */
		stage_cancel();
		return false;
	}
	if (st != WC_OK)
		widecol_report(st, "write");
	return true;
}

/*
 * Stop staging for the rest of the transaction and have the node drop what
 * it staged; never an ERROR (called while aborting): a connection that
 * fails here is closed, and the node drops the writes with it.
 */
static void
stage_cancel(void)
{
	struct wc_client *c = widecol_connection_if_open();

	staging = false;
	stage_off = true;
	staged_bytes = 0;
	staged_count = 0;
	if (c == NULL)
		return;
	/* an unread STAGE answer first: its failure changes nothing here */
	(void) wc_client_apply_wait(c);
	widecol_write_pending(false);
	if (wc_client_publish(c, false) != WC_OK && wc_client_broken(c))
		widecol_connection_lost();
}

/* Send the batch in b, if any, without waiting for its answer. */
static void
send_chunk(wc_batch_builder *b)
{
	const uint8_t *rec;
	size_t		len;
	wc_status	st;

	if (wc_batch_builder_count(b) == 0)
		return;
	st = wc_batch_builder_finish(b, &rec, &len);
	if (st == WC_OK)
		st = wc_client_apply_send(widecol_connection(), rec, len,
								  (wc_consistency) widecol_consistency);
	if (st != WC_OK)
		widecol_report(st, "write");
	widecol_write_pending(true);
}

/* Append one mutation to the batch builder arg. */
static void
add_to_batch(const uint8 *mut, size_t len, void *arg)
{
	wc_status	st = wc_batch_builder_add_encoded((wc_batch_builder *) arg, mut, len);

	if (st != WC_OK)
		widecol_report(st, "collecting the transaction's writes");
}

/*
 * Call fn for each mutation of the spill file, in the order they were
 * written.
 */
static void
for_each_spilled(pending_fn fn, void *arg)
{
	wc_buf		in;				/* bytes read from the file, not yet passed on */
	size_t		off = 0;
	uint64		left = spill_bytes;

	if (spill < 0 || spill_bytes == 0)
		return;
	wc_buf_init(&in);
	PG_TRY();
	{
		spill_pos = 0;
		for (;;)
		{
			const uint8_t *p = in.data + off,
					   *end = in.data + in.len,
					   *mut;
			size_t		mlen;
			bool		whole = wc_get_bytes(&p, end, &mut, &mlen);

			/* pass on whole mutations while a piece is buffered or the file is read */
			if (whole && (left == 0 || in.len - off >= WIDECOL_TXN_CHUNK))
			{
				off = p - in.data;
				fn(mut, mlen, arg);
				continue;
			}
			if (left == 0)
			{
				if (off == in.len)
					break;
				elog(ERROR, "widecol: the spilled writes end inside a mutation");
			}
			/* keep the unparsed tail, read the next piece after it */
			if (off > 0)
			{
				memmove(in.data, in.data + off, in.len - off);
				in.len -= off;
				off = 0;
			}
			{
				size_t		piece = (size_t) Min(left, (uint64) WIDECOL_TXN_CHUNK);

				if (!wc_buf_reserve(&in, piece))
					widecol_report(WC_NO_MEMORY, "reading the transaction's writes");
				read_spill(in.data + in.len, piece);
				in.len += piece;
				left -= piece;
			}
		}
	}
	PG_FINALLY();
	{
		wc_buf_free(&in);
	}
	PG_END_TRY();
}

/* Call fn for each mutation held in memory, in the order they were added. */
static void
for_each_in_memory(pending_fn fn, void *arg)
{
	const uint8_t *p,
			   *end,
			   *mut;
	size_t		mlen;

	if (!pending_init || wc_batch_builder_count(&pending) == 0)
		return;
	end = pending.body.data + pending.body.len;
	p = end - wc_batch_builder_size(&pending);
	while (p < end)
	{
		if (!wc_get_bytes(&p, end, &mut, &mlen))
			elog(ERROR, "widecol: malformed pending writes");
		fn(mut, mlen, arg);
	}
}

/* Add one mutation to the chunk being sent; send it once it is full. */
static void
add_to_chunk(const uint8 *mut, size_t len, void *arg)
{
	wc_batch_builder *out = arg;

	add_to_batch(mut, len, out);
	if (wc_batch_builder_size(out) >= WIDECOL_TXN_CHUNK)
	{
		CHECK_FOR_INTERRUPTS();
		send_chunk(out);
		wc_batch_builder_reset(out);
	}
}

/* ---------------------------------------------------------------- overlay */

typedef struct OverlayFilter
{
	uint32		upto;			/* mutations before this position only */
	uint32		seen;
	uint32		table_id;
	const char *pk;				/* NULL: every partition */
	int			pk_len;
	wc_batch_builder *out;
} OverlayFilter;

/* Add the mutation to the overlay if it is of the table (and partition). */
static void
add_to_overlay(const uint8 *mut, size_t len, void *arg)
{
	OverlayFilter *f = arg;
	wc_mutation_view v;

	if (f->seen++ >= f->upto)
		return;
	if (wc_mutation_parse(mut, len, &v) != WC_OK)
		elog(ERROR, "widecol: malformed pending write");
	if (v.table_id != f->table_id)
		return;
	if (f->pk != NULL &&
		(v.pk_len != (size_t) f->pk_len || memcmp(v.pk, f->pk, v.pk_len) != 0))
		return;
	add_to_batch(mut, len, f->out);
}

/* Has the current transaction written table_id (perhaps since rolled back)? */
bool
widecol_txn_wrote(uint32 table_id)
{
	for (int i = 0; i < ntables; i++)
		if (tables[i] == table_id)
			return true;
	return false;
}

/*
 * How many writes are pending: a scan that begins now sees these and not
 * the ones its own statement adds later (widecol_txn_overlay's upto).
 */
uint32
widecol_txn_position(void)
{
	return pending_count();
}

/*
 * The current transaction's pending writes of table_id (of partition pk
 * alone unless pk is NULL) among the first upto, as a batch record for a
 * read's overlay, palloc'd in the current memory context; NULL with *len 0
 * when there are none.  *count is the number of mutations.
 */
uint8 *
widecol_txn_overlay(uint32 table_id, const char *pk, int pk_len, uint32 upto,
					size_t *len, uint32 *count)
{
	wc_batch_builder out;
	OverlayFilter f;
	uint8	   *result = NULL;

	*len = 0;
	*count = 0;
	if (pending_count() == 0 || !widecol_txn_wrote(table_id))
		return NULL;
	f.upto = upto;
	f.seen = sent_count;		/* the ones sent are stored already */
	f.table_id = table_id;
	f.pk = pk;
	f.pk_len = pk_len;
	f.out = &out;
	wc_batch_builder_init(&out);
	PG_TRY();
	{
		const uint8_t *rec;
		size_t		rlen;
		wc_status	st;

		for_each_spilled(add_to_overlay, &f);
		for_each_in_memory(add_to_overlay, &f);
		if (wc_batch_builder_count(&out) > 0)
		{
			if (wc_batch_builder_size(&out) + WC_BATCH_HEADER_MAX > WIDECOL_TXN_MAX_RECORD)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("cannot read a widecol table after writing more than %zu MB to it in the same transaction",
								WIDECOL_TXN_MAX_RECORD >> 20),
						 errdetail("A read inside the transaction merges its pending writes of the table, or of the partition read, with the stored data."),
						 errhint("Commit the writes before reading, or read single partitions.")));
			st = wc_batch_builder_finish(&out, &rec, &rlen);
			if (st != WC_OK)
				widecol_report(st, "collecting the transaction's writes");
			result = palloc(rlen);
			memcpy(result, rec, rlen);
			*len = rlen;
			*count = wc_batch_builder_count(&out);
		}
	}
	PG_FINALLY();
	{
		wc_batch_builder_free(&out);
	}
	PG_END_TRY();
	return result;
}

/* ---------------------------------------------------------------- subtransactions */

/*
 * Make the work items a module keeps until commit (each a struct holding, at
 * subid_offset, the SubTransactionId that made it) follow the end of
 * subtransaction mySubid: when it commits, its items pass to parentSubid;
 * when it aborts, they are marked InvalidSubTransactionId (rolled back: the
 * commit skips them) and returned as a new list, for the caller to release
 * what they hold.  Other events change nothing.
 */
List *
widecol_subxact_follow(List *items, size_t subid_offset, SubXactEvent event,
					   SubTransactionId mySubid, SubTransactionId parentSubid)
{
	List	   *aborted = NIL;
	ListCell   *lc;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return NIL;
	foreach(lc, items)
	{
		SubTransactionId *subid = (SubTransactionId *) ((char *) lfirst(lc) + subid_offset);

		if (*subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			*subid = parentSubid;
		else
		{
			*subid = InvalidSubTransactionId;
			aborted = lappend(aborted, lfirst(lc));
		}
	}
	return aborted;
}

/* ---------------------------------------------------------------- callbacks */

static void
txn_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (pending_count() == 0)
			{
				forget_pending();
				break;
			}

			/*
			 * Once the writes go out, the node's answer decides the commit,
			 * and once the node applied them PostgreSQL must commit too: a
			 * cancel or terminate that ended the backend before
			 * CommitTransaction's own HOLD_INTERRUPTS (at a
			 * CHECK_FOR_INTERRUPTS in the rest of the pre-commit work: other
			 * PRE_COMMIT callbacks, PreCommit_Notify's lock wait, ...) would
			 * roll back the heap writes while the widecol writes stay.  So
			 * every interrupt is held from here; XACT_EVENT_COMMIT, inside
			 * CommitTransaction's holdoff, releases ours, and a terminate
			 * ends the session right after the commit.  An ERROR on the way
			 * resets the holdoff count (errfinish), so the abort only forgets
			 * the hold.  The cancel holdoff also tells the wait for the node
			 * (conn.c, wait_hook) not to give up.
			 */
			HOLD_INTERRUPTS();
			commit_holds = true;
			HOLD_CANCEL_INTERRUPTS();
			commit_pending();
			RESUME_CANCEL_INTERRUPTS();
			ignore_cancel();
			forget_pending();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (pending_count() > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that wrote to widecol tables"),
						 errdetail("widecol applies a transaction's writes when it commits and cannot hold them prepared."),
						 errhint("Use COMMIT instead of PREPARE TRANSACTION, or write widecol tables outside two-phase transactions.")));
			break;
		case XACT_EVENT_COMMIT:
			if (commit_holds)
				release_commit_hold();
			forget_pending();
			break;
		case XACT_EVENT_ABORT:
			/* errfinish reset the holdoff (ERROR), or the backend exits (FATAL) */
			commit_holds = false;
			forget_pending();
			break;
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			forget_pending();
			break;
		default:
			break;
	}
}

/*
 * A cancel that arrived while the commit held interrupts off: the commit
 * goes on all the same, and the client is told so instead of an error.
 */
static void
ignore_cancel(void)
{
	if (!QueryCancelPending)
		return;
	QueryCancelPending = false;
	ereport(WARNING,
			(errmsg("cancel request ignored: the widecol node had the transaction's writes"),
			 errdetail("The node applied them, so the transaction commits.")));
}

/*
 * XACT_EVENT_COMMIT of a transaction whose commit held interrupts off: the
 * commit record is written and CommitTransaction holds interrupts itself,
 * so ours goes; a pending terminate ends the session once the commit is
 * done.
 */
static void
release_commit_hold(void)
{
	commit_holds = false;
	ignore_cancel();
	if (ProcDiePending)
		ereport(WARNING,
				(errmsg("terminate request delayed until the commit: the widecol node had the transaction's writes"),
				 errdetail("The transaction committed; the session ends now.")));

	/*
	 * CommitTransaction's holdoff is one count, ours the other; an ERROR
	 * caught on the way (PG_TRY without a re-throw) would have reset ours,
	 * and resuming it then would unbalance CommitTransaction's
	 */
	if (InterruptHoldoffCount > 1)
		RESUME_INTERRUPTS();
}

static void
txn_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			if (nmarks == maxmarks)
			{
				maxmarks = Max(16, maxmarks * 2);
				marks = marks == NULL
					? MemoryContextAlloc(TopMemoryContext, sizeof(TxnMark) * maxmarks)
					: repalloc(marks, sizeof(TxnMark) * maxmarks);
			}
			marks[nmarks].subid = mySubid;
			marks[nmarks].bytes = pending_bytes();
			marks[nmarks].count = pending_count();
			nmarks++;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			while (nmarks > 0 && marks[nmarks - 1].subid >= mySubid)
				nmarks--;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			while (nmarks > 0 && marks[nmarks - 1].subid >= mySubid)
			{
				nmarks--;
				if (marks[nmarks].subid == mySubid)
					truncate_to(marks[nmarks].bytes, marks[nmarks].count);
			}
			break;
		default:
			break;
	}
}
