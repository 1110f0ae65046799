/*
 * model.h - the brute-force model behind the model-based engine tests
 * (engine_model_test.c, compaction_model_test.c).
 *
 * This module owns the operation record (cell writes and deletes, row
 * liveness, row, range and partition deletes, with TTLs), the model that
 * answers a read by recomputing each cell from every operation ever made
 * (latest timestamp wins; timestamps are unique so ties do not arise here:
 * row_test.c covers the tie rules), turning an operation into a mutation
 * applied to the engine, drawing random operations, and checking a random
 * read against the model.  Everything a run needs - the random generator,
 * the operations and the test clock - lives in a wc_model the test owns, so
 * nothing is carried from one run to the next.  The tests keep what differs
 * between them: how many partitions, how long TTLs, how fresh timestamps are
 * made and what deletions record as their local deletion time.
 */
#ifndef WC_MODEL_H
#define WC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define WC_MODEL_NCK 24 /* clustering keys 0..23 in every partition */
#define WC_MODEL_NCOL 4 /* regular columns 0..3 */

typedef enum wc_model_op_kind {
    WC_MODEL_CELL,
    WC_MODEL_CELL_DEL,
    WC_MODEL_ROW_LIVE,
    WC_MODEL_ROW_DEL,
    WC_MODEL_RANGE_DEL,
    WC_MODEL_PART_DEL,
} wc_model_op_kind;

typedef struct wc_model_op {
    wc_model_op_kind kind;
    int pk, ck, col;
    int lo, hi; /* range: [lo, hi] inclusive, -1 = unbounded */
    int64_t ts;
    uint32_t ttl, ldt; /* ttl: expires at ldt; deletions: local deletion time */
    char val[16];
} wc_model_op;

typedef struct wc_model wc_model;

/* What a test chooses; wc_model_init copies it. */
typedef struct wc_model_config {
    uint32_t table_id;
    int npk;          /* partitions "pk0" .. "pk<npk-1>" */
    uint32_t max_ttl; /* TTLs are drawn from 1..max_ttl seconds */
    /* Local deletion time given to deletions; 0 = the model clock at the time. */
    uint32_t deletion_ldt;
    /* Timestamp for a new operation; must be unique within the run. */
    int64_t (*fresh_ts)(wc_model *m);
} wc_model_config;

struct wc_model {
    wc_model_config cfg;
    uint64_t rng;        /* xorshift state */
    int64_t now;         /* test clock in seconds; moves forward only, like real time */
    uint64_t ts_counter; /* for fresh_ts: makes timestamps unique */
    wc_model_op *ops;    /* every operation of the run, in order */
    size_t nops, capops;
};

/* Start a run: seed 0 picks a fixed non-zero seed; the clock starts at now. */
void wc_model_init(wc_model *m, const wc_model_config *cfg, uint64_t seed, int64_t now);

/* Move the clock forward; only the test's own thread calls this (engine threads only read). */
void wc_model_advance(wc_model *m, int64_t secs);
void wc_model_free(wc_model *m);

/* Next number of the run's random sequence. */
uint64_t wc_model_rnd(wc_model *m);
/* Engine clock callback: pass the wc_model as its argument. */
int64_t wc_model_clock(void *arg);

/* Draw a random operation, record it in the model and apply it to e. */
void wc_model_write(wc_model *m, wc_engine *e);
/* Same, but return the apply status (the operation is recorded either way). */
wc_status wc_model_try_write(wc_model *m, wc_engine *e);
/* Does every partition of the table in e hold exactly what the first nops
 * operations made?  If not, say why in why[whylen].  Never fails the test. */
bool wc_model_matches(wc_model *m, wc_engine *e, size_t nops, char *why, size_t whylen);
/* Read a random slice of a random partition from e (random direction, bounds,
 * limit and column filter) and fail the test unless it matches the model. */
void wc_model_check_read(wc_model *m, wc_engine *e);

/* Run a test's model four times, seeded from WC_MODEL_SEED (or the clock)
 * plus 7919 per round, for WC_MODEL_STEPS steps (or default_steps); each
 * seed is printed so a failing round can be replayed on its own. */
void wc_model_rounds(int default_steps, void (*run)(uint64_t seed, int steps));

#endif
