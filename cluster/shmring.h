/*
 * shmring.h - request slots in memory shared between the node and its
 * clients (PostgreSQL backends), the fast path of the client protocol.
 *
 * A ring is one region (PostgreSQL shared memory, or any MAP_SHARED memory
 * in tests) formatted by wc_shmring_format: a header, one state word per
 * slot and one buffer of slot_bytes per slot.  A client claims a slot for
 * as long as it is connected, writes a request frame (the same bytes as on
 * the socket, docs/protocol.md) into the slot's buffer and submits it; a
 * node worker takes the slot, serves it and writes the response frame into
 * the same buffer.  Nobody allocates per request.
 *
 * Wake-ups go through futexes on words of the shared region (process
 * shared, not FUTEX_PRIVATE): the node's workers sleep on a doorbell word
 * that every submit bumps, a client sleeps on its slot's state word.  A
 * waiter is only woken if it announced that it sleeps, and a submit wakes
 * a worker only when none is looking for work, so a request whose peer is
 * awake costs no system call.  Spinning (spin_us > 0) happens only while
 * the threads runnable on the machine (/proc/loadavg, sampled every
 * millisecond) do not outnumber its CPUs, and a worker never spins for the
 * next request on the CPU its last client submitted from (that client
 * needs the CPU to read the answer).  Every wait is bounded: a client
 * looks, at least every wait_ms it passes, whether the node process still
 * lives and is still the one it attached to (else WC_UNAVAILABLE); a
 * worker never waits for a client at all, so a client that dies
 * mid-request cannot hold one (its slot is answered, then reclaimed by the
 * next client that finds its owner's process gone).
 *
 * Slot life: FREE -> (claim) IDLE -> (submit) REQUEST -> (worker) SERVING
 * -> DONE -> (client read it) IDLE ... -> (release) FREE.  A client that
 * gives up while its request is being served leaves it ABANDONED; the
 * worker frees it when done.  A response larger than the slot is not
 * written: the slot keeps the request and wc_shmring_wait reports the size
 * needed, so the client can send the request over the socket instead.
 *
 * Thread-safety: all functions may be called from any thread or process;
 * one slot is used by one client thread at a time.  A wc_shmring handle is
 * private to the process that opened it (it holds pointers into the
 * region); the region itself holds no pointers.
 */
#ifndef WC_SHMRING_H
#define WC_SHMRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commitlog.h"
#include "status.h"

#define WC_SHMRING_MIN_SLOT_BYTES 1024u
#define WC_SHMRING_DIR_MAX 1024u /* longest commit-log directory, with its NUL */

typedef struct wc_shmring wc_shmring;

/* API: the region */

/* Bytes a region of nslots slots of slot_bytes each needs (0 if too large). */
size_t wc_shmring_size(uint32_t nslots, uint32_t slot_bytes);

/*
 * Format mem (size bytes) as a ring of nslots slots with no node attached.
 * REQUIRES: size >= wc_shmring_size(nslots, slot_bytes), mem 64-byte aligned.
 * WC_INVALID_ARGUMENT if the sizes do not fit or slot_bytes is under
 * WC_SHMRING_MIN_SLOT_BYTES.
 */
wc_status wc_shmring_format(void *mem, size_t size, uint32_t nslots, uint32_t slot_bytes);

/*
 * A handle on a formatted region (caller frees it with wc_shmring_close;
 * the region is untouched).  WC_CORRUPTION if mem is not a formatted ring
 * of at most size bytes; WC_NO_MEMORY.
 */
wc_status wc_shmring_open(void *mem, size_t size, wc_shmring **out);
void wc_shmring_close(wc_shmring *r);

uint32_t wc_shmring_slots(const wc_shmring *r);
/* Capacity of every slot's buffer, in bytes. */
uint32_t wc_shmring_slot_bytes(const wc_shmring *r);
/* The buffer of slot i. */
uint8_t *wc_shmring_buffer(wc_shmring *r, uint32_t i);

/* API: the node side */

/*
 * Start serving: every slot becomes FREE (clients of an earlier node are
 * refused from now on: their next submit or wait is WC_UNAVAILABLE) and
 * the calling process is recorded as the node.
 */
void wc_shmring_serve_begin(wc_shmring *r);
/* Stop serving: clients waiting or submitting get WC_UNAVAILABLE; workers in wc_shmring_next return. */
void wc_shmring_serve_end(wc_shmring *r);

/*
 * Take the next submitted request, looking from *cursor on (advanced, so
 * that workers serve slots round-robin), sleeping at most wait_ms for one
 * (and spinning at most spin_us before sleeping, if a CPU is free for it).
 * Returns the slot (state SERVING) and its request length in *len, or -1
 * when none came or the ring stopped serving.
 */
int wc_shmring_next(wc_shmring *r, uint32_t *cursor, int wait_ms, int spin_us, uint32_t *len);

/*
 * Bind the calling worker thread to one CPU of those it may run on (the
 * k-th worker to bind, counted since wc_shmring_serve_begin, to the
 * (k mod n)-th of n), and give it a doorbell of its own.  A client whose
 * submit must wake a worker then picks one by CPU: on another CPU while a
 * core is free (the client spins meanwhile), on its own CPU when every core
 * is busy, or, in batch mode (wc_shmring_set_commitlog), when nothing else
 * runs, so that neither wake-up of the request crosses CPUs.  Returns
 * the CPU, or -1 when the thread stays unbound (one CPU allowed, more than
 * 64 workers bound, or the kernel refused): it then sleeps on the shared
 * doorbell as before.  Call before the first wc_shmring_next, on the thread
 * that will serve.
 */
int wc_shmring_bind_worker(wc_shmring *r);

/*
 * For tests: what this handle assumes of the machine instead of sampling
 * the threads runnable on it (/proc/loadavg): busy 1, every core is busy;
 * 0, a core is free; 2, nothing runs but the caller; -1 (the default),
 * sample.
 */
void wc_shmring_assume_busy(wc_shmring *r, int busy);

/*
 * Answer slot i (taken by wc_shmring_next) with len bytes now in its
 * buffer, or, len > slot_bytes, tell its client that a response of len
 * bytes did not fit (the buffer must still hold the request).  Wakes the
 * client if it sleeps; frees the slot if its client gave up on it.
 */
void wc_shmring_answer(wc_shmring *r, uint32_t i, size_t len);

/*
 * wc_shmring_answer, then wc_shmring_next, as one step of a worker's loop:
 * the worker counts as looking for work from before its answer is
 * visible, so that the request its client submits next wakes no other
 * worker (that one would find the request taken and sleep again).  Use it
 * whenever the worker goes on serving after an answer.
 */
int wc_shmring_answer_next(wc_shmring *r, uint32_t i, size_t rlen, uint32_t *cursor, int wait_ms,
                           int spin_us, uint32_t *len);

/* API: the client side */

/*
 * Claim a slot for this client (a FREE one, or one whose owner process
 * died).  WC_UNAVAILABLE if no node serves the ring; WC_OVERLOADED if
 * every slot is taken.
 */
wc_status wc_shmring_claim(wc_shmring *r, uint32_t *slot);

/*
 * Submit the len request bytes in slot's buffer and wake a worker unless
 * one is looking for work.  With workers bound to CPUs and every core
 * busy, the request is for the workers bound to the client's CPU alone
 * when one of them is not serving a request and no worker spins for
 * requests: a sleeping one is woken, an
 * awake one finds it before it sleeps, and those of other CPUs leave it.
 * WC_UNAVAILABLE (nothing submitted) if the node that served the ring
 * when the slot was claimed is gone.  REQUIRES: the slot is IDLE.
 */
wc_status wc_shmring_submit(wc_shmring *r, uint32_t slot, size_t len);

/*
 * Wait at most wait_ms (spinning at most spin_us first, if a CPU is free
 * for it) for the answer to the submitted request.  WC_OK: *len response
 * bytes are in the buffer, or
 * *len > slot_bytes when the response did not fit (the buffer still holds
 * the request); the slot is IDLE again either way.  WC_TIMEOUT: no answer
 * yet (call again, or give up with wc_shmring_release).  WC_UNAVAILABLE:
 * the node process is gone or restarted.
 */
wc_status wc_shmring_wait(wc_shmring *r, uint32_t slot, int wait_ms, int spin_us, size_t *len);

/*
 * Give the slot up, also in the middle of a request (the worker serving
 * it frees it when done).  A slot of an earlier node is left alone.
 */
void wc_shmring_release(wc_shmring *r, uint32_t slot);

/*
 * API: commit-log fsyncs left to clients (batch mode).  A node that
 * publishes its commit log's directory may answer a write before the
 * record's fsync; the client then makes the record durable itself
 * (clsync.h), and the clients share their fsyncs through two words of the
 * region: the latest record start the node saw appended, and how far the
 * clients' fsyncs reached.  Positions are kept as one word each, so a
 * segment id or offset past 32 bits is never published (the node then
 * syncs the record itself).  A node that starts forgets the positions of
 * the one before it (wc_shmring_set_commitlog) before it serves; a client
 * trusts them only for the node that answered its write
 * (wc_shmring_slot_current before and after reading them, clsync.h).
 */

/* Node: publish dir (NULL or "": no client syncs) and forget earlier positions; before serving. */
wc_status wc_shmring_set_commitlog(wc_shmring *r, const char *dir);
/* Node: the record at pos is appended (before it answers the write); false: not published. */
bool wc_shmring_note_appended(wc_shmring *r, wc_clpos pos);
/* The published commit-log directory, "" when none. */
const char *wc_shmring_commitlog_dir(const wc_shmring *r);
/* The latest record start noted appended ({0, 0}: none). */
wc_clpos wc_shmring_appended(const wc_shmring *r);
/* Is the record at pos known durable (a client's fsync covered it, or the log rolled past it)? */
bool wc_shmring_durable(const wc_shmring *r, wc_clpos pos);
/* Client: every record of upto.segment that starts before upto.offset is durable. */
void wc_shmring_note_synced(wc_shmring *r, wc_clpos upto);

/* How a write the node left to its client became durable (counted since the region was formatted). */
typedef enum wc_clsync_kind {
    WC_CLSYNC_FSYNC = 0, /* the client fsynced */
    WC_CLSYNC_COVERED,   /* another client's fsync, or a roll of the log, covered it */
    WC_CLSYNC_NODE,      /* the client could not fsync and had the node sync (SYNC) */
    WC_CLSYNC_KINDS
} wc_clsync_kind;
void wc_shmring_clsync_count(wc_shmring *r, wc_clsync_kind kind);
uint64_t wc_shmring_clsync_counted(const wc_shmring *r, wc_clsync_kind kind);

/* Is the node that served the ring when slot was claimed still serving it? */
bool wc_shmring_slot_current(wc_shmring *r, uint32_t slot);

/* Clients inside a request right now (submitted, not yet read). */
uint32_t wc_shmring_busy(const wc_shmring *r);

#endif /* WC_SHMRING_H */
