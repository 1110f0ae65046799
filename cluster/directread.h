/*
 * directread.h - direct reads: a backend answers a read of one partition by
 * reading the table's SSTable files itself, without a round trip to the
 * node, whenever none of the node's memtables can hold that partition
 * (docs/architecture.md "Direct reads").
 *
 * The node publishes, in one region of memory shared with its clients
 * (PostgreSQL shared memory, or any MAP_SHARED memory in tests):
 *
 *  - per table, its SSTable files and its "flushed-below" serial F: every
 *    write to a memtable whose serial is below F is in those files (the
 *    engine's publish_hook, wc_engine_table_files; above every serial while
 *    no memtable holds a write of the table), whether the table may
 *    be read at all (not offline, not dropped), and a table-wide serial
 *    for changes of the whole table (a publish of staged writes);
 *  - per stripe, the highest serial of a memtable a write to the stripe
 *    went into (the engine's resident_hook, before the memtable holds the
 *    write), in three families with an array each: any write to a
 *    partition (a hash of table id and partition key), writes to one row
 *    (two stripes per row, from a hash of those and the clustering key),
 *    and partition-level writes (partition deletion, range tombstones,
 *    static row).  A row write marks a partition stripe and both its row
 *    stripes, never a partition-level one, so a read of one row (the
 *    lower of its row stripes, and the partition-level stripe) collides
 *    only with other rows' writes, and only where they raised both.
 *
 * A client reads directly only if the stripe's serial and the table-wide
 * serial are both below F; otherwise it asks the node.  A read of one row
 * by its whole clustering key checks the row's stripes and the partition-
 * level stripe (what can change that row); any other read of the
 * partition, the partition's stripe.  Why that read
 * holds every write acknowledged before it began: the write stored its
 * memtable's serial S in the stripe before its memtable held it, so a
 * stripe load after the acknowledgement sees a value >= S; F > S is
 * published only after the memtable S was flushed and its SSTable listed,
 * in the same seqlocked update that the client copies after its stripe
 * load, so the list it reads holds the write (or a compaction's output
 * that holds it).  Writes the stripe load does not see are concurrent with
 * the read.  Stripes are shared by partitions and tables (a collision only
 * costs direct reads, and another table's write counts only if its
 * memtable is newer than the table's oldest); serials grow across node restarts (the region
 * hands each node start a larger base).
 *
 * The files are immutable.  A client opens them itself (its own file
 * descriptors and readers, kept between reads) and reads them with the
 * engine's own read (wc_engine_read_files); a file compaction removed is
 * either still open (Linux keeps it readable) or fails to open, and then
 * the client asks the node.  A damaged block is never served: the client
 * asks the node, which takes the table offline and says why.
 *
 * Thread-safety: the node side may be called from any thread (it
 * serializes its writers); a wc_directread handle with its open files is
 * used by one thread at a time (a backend).  The region holds no pointers.
 */
#ifndef WC_DIRECTREAD_H
#define WC_DIRECTREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "status.h"

/* Tables the region can publish (more are read through the node). */
#define WC_DR_TABLES 1024u
/* SSTables of one table it can list (a table with more is read through the node). */
#define WC_DR_MAX_FILES 48u
/* Stripes of each family (powers of two): any write to a partition, writes
 * to one row, partition-level writes.  8 bytes each: 42 MiB in all. */
#define WC_DR_PART_STRIPES (1u << 20)
#define WC_DR_ROW_STRIPES (1u << 22)
#define WC_DR_LEVEL_STRIPES (1u << 18)
/* Files one client keeps open (least recently used closed first). */
#define WC_DR_OPEN_FILES 64u
/* Bytes of SSTables one client keeps open by default (wc_directread_set_budget): each
 * open file holds its index and bloom filter in the client's memory, about 1 % of it. */
#define WC_DR_DEFAULT_BUDGET ((uint64_t)1 << 30)

typedef struct wc_directread wc_directread;

typedef struct wc_directread_stats {
    bool enabled;        /* a node serves and publishes */
    uint64_t reads;      /* reads answered directly */
    uint64_t resident;   /* reads asked of the node: a memtable may hold the partition */
    uint64_t other;      /* reads asked of the node for another reason (table not
                          * published, a file gone, a damaged block, node restarting) */
    uint64_t tables;     /* tables published and readable */
    bool given_up;       /* this client: a mapped file faulted in a read (it shrank), so
                          * every read of this client goes to the node */
} wc_directread_stats;

/* API: the region */

/* Bytes of a region. */
size_t wc_directread_size(void);
/* Format mem (wc_directread_size() bytes, 64-byte aligned) as a region no node serves. */
wc_status wc_directread_format(void *mem, size_t size);
/* A handle on a formatted region (WC_CORRUPTION if it is not one; WC_NO_MEMORY). */
wc_status wc_directread_open(void *mem, size_t size, wc_directread **out);
/* Close the handle and the files it opened. */
void wc_directread_close(wc_directread *dr);

/* API: the node side */

/*
 * Stop serving (enable false: clients ask the node from now on, every table
 * is forgotten), or start (enable true) with the engine's directory dir.
 * Before the engine opens, call it with enable false and take the serial
 * base for wc_engine_options.memtable_serial_base from
 * wc_directread_serial_base; enable it once the engine is open.
 */
void wc_directread_serve(wc_directread *dr, const char *dir, bool enable);
/* A memtable serial base larger than every serial an earlier node of this region used. */
uint64_t wc_directread_serial_base(wc_directread *dr);
/* The engine's hooks (arg: the wc_directread). */
void wc_directread_publish(void *dr, const wc_engine_table_files *f);
void wc_directread_resident(void *dr, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                            bool row, const uint8_t *ck, size_t ck_len, uint64_t serial);

/* API: the client side */

/*
 * Answer req (a read of one partition: req->pk set) from the table's files
 * if no memtable can hold the partition (row true: the request names the
 * whole clustering key of one row, in both bounds; then only writes to
 * that row and partition-level writes count, not writes to other rows of
 * the partition): WC_OK with *out (free it with
 * wc_page_free), or WC_NOT_FOUND when the read must go to the node.  Any
 * failure of the read itself (a file gone, a damaged block, the tombstone
 * failure threshold, out of memory) is WC_NOT_FOUND too: the node then
 * gives its own answer or error.  Leaves no last error set.
 */
wc_status wc_directread_read(wc_directread *dr, const wc_read_request *req, bool row,
                             wc_page **out);

void wc_directread_get_stats(wc_directread *dr, wc_directread_stats *out);

/*
 * The bytes of SSTable files this client keeps open (their indexes and
 * bloom filters stay in its memory): a table whose files are larger in
 * total is read through the node.  Default WC_DR_DEFAULT_BUDGET.
 */
void wc_directread_set_budget(wc_directread *dr, uint64_t bytes);

/*
 * Account for the descriptors this client's files take: each file opened
 * for a direct read calls acquire(arg) first and is not opened when it
 * returns false; each such file calls release(arg) once it is closed (a
 * PostgreSQL backend passes AcquireExternalFD and ReleaseExternalFD, so its
 * own files and these stay within max_files_per_process together).  When
 * acquire refuses, the client closes the files it used least recently,
 * those the read in progress does not hold, and asks again; with none left
 * the read goes to the node.  Without hooks (the default) files open
 * freely, up to WC_DR_OPEN_FILES.  Set them before the first read.
 */
void wc_directread_set_fd_hooks(wc_directread *dr, bool (*acquire)(void *arg),
                                void (*release)(void *arg), void *arg);

#endif /* WC_DIRECTREAD_H */
