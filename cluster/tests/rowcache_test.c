/*
 * rowcache_test.c - the shared-memory row cache on its own: hits and
 * misses, entries too large for a slot, the partition and table
 * generations (a write in progress or finished invalidates; a tag taken
 * before a write that finished before the fill never hits), expiry, the
 * epoch of a node restart, eviction in a full set, and a seqlock under
 * threads that rewrite one slot while others read it (no torn answer is
 * ever returned), and the engine's change hook driving the cache: a
 * write, an alter and a drop of a table make its entries stale, a write
 * to another partition does not, and every begin has its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "engine.h"
#include "rowcache.h"
#include "testutil.h"

#define CACHE_BYTES (1u << 20)

typedef struct fx {
    void *mem;
    size_t size;
    wc_rowcache *rc;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    f->size = wc_rowcache_size(CACHE_BYTES);
    if (f->size == 0)
        return -1;
    f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (f->mem == MAP_FAILED || wc_rowcache_format(f->mem, f->size) != WC_OK ||
        wc_rowcache_open(f->mem, f->size, &f->rc) != WC_OK)
        return -1;
    wc_rowcache_serve(f->rc, true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    wc_rowcache_close(f->rc);
    munmap(f->mem, f->size);
    free(f);
    return 0;
}

static const uint8_t PK[] = {0, 4, 'k', 'e', 'y', '1'};

/* Fill key -> val for partition PK of table 7 with a fresh tag. */
static bool fill(wc_rowcache *rc, const char *key, const char *val, int64_t expires)
{
    wc_rowcache_tag tag;

    wc_rowcache_fill_begin(rc, 7, PK, sizeof(PK), &tag);
    return wc_rowcache_fill(rc, &tag, (const uint8_t *)key, strlen(key), (const uint8_t *)val,
                            strlen(val), expires);
}

/* The cached answer of key as a string, or NULL on a miss. */
static const char *lookup(wc_rowcache *rc, const char *key, int64_t now)
{
    static char buf[WC_ROWCACHE_SLOT_BYTES + 1];
    size_t len;

    if (!wc_rowcache_lookup(rc, 7, PK, sizeof(PK), (const uint8_t *)key, strlen(key), now,
                            (uint8_t *)buf, sizeof(buf) - 1, &len))
        return NULL;
    buf[len] = '\0';
    return buf;
}

static void test_format_open(void **state)
{
    fx *f = *state;
    wc_rowcache *rc;
    uint8_t junk[4096] = {1, 2, 3};
    wc_rowcache_stats st;

    assert_int_equal(wc_rowcache_size(1000), 0);
    assert_int_equal(wc_rowcache_format(junk, sizeof(junk)), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_rowcache_open(junk, sizeof(junk), &rc), WC_CORRUPTION);
    assert_null(rc);
    /* a region smaller than the formatted one is refused */
    assert_int_equal(wc_rowcache_open(f->mem, f->size / 2, &rc), WC_CORRUPTION);
    wc_rowcache_get_stats(f->rc, &st);
    assert_true(st.enabled);
    assert_true(st.slots >= 8 && st.slots * WC_ROWCACHE_SLOT_BYTES <= CACHE_BYTES);
}

static void test_hit_miss(void **state)
{
    fx *f = *state;
    wc_rowcache_stats st;
    char big[WC_ROWCACHE_SLOT_BYTES + 1];

    assert_null(lookup(f->rc, "read a", 10));
    assert_true(fill(f->rc, "read a", "answer a", 0));
    assert_string_equal(lookup(f->rc, "read a", 10), "answer a");
    assert_null(lookup(f->rc, "read b", 10));
    assert_null(lookup(f->rc, "read ", 10));
    /* the same key of another partition is another entry */
    {
        static const uint8_t pk2[] = {0, 4, 'k', 'e', 'y', '2'};
        char buf[64];
        size_t len;

        assert_false(wc_rowcache_lookup(f->rc, 7, pk2, sizeof(pk2), (const uint8_t *)"read a", 6,
                                        10, (uint8_t *)buf, sizeof(buf), &len));
    }
    /* refilled: the newer answer */
    assert_true(fill(f->rc, "read a", "answer a2", 0));
    assert_string_equal(lookup(f->rc, "read a", 10), "answer a2");
    /* an entry larger than a slot is not cached */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(fill(f->rc, "read big", big, 0));
    assert_null(lookup(f->rc, "read big", 10));
    wc_rowcache_get_stats(f->rc, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.fills, 2);
    assert_true(st.misses >= 4);
}

static void test_partition_generation(void **state)
{
    fx *f = *state;
    wc_rowcache_tag tag;

    assert_true(fill(f->rc, "read a", "old", 0));
    /* a write in progress: a miss, and no fill */
    wc_rowcache_change(f->rc, 7, PK, sizeof(PK), false);
    assert_null(lookup(f->rc, "read a", 10));
    assert_false(fill(f->rc, "read a", "during", 0));
    wc_rowcache_change(f->rc, 7, PK, sizeof(PK), true);
    /* finished: still a miss until refilled */
    assert_null(lookup(f->rc, "read a", 10));
    assert_true(fill(f->rc, "read a", "new", 0));
    assert_string_equal(lookup(f->rc, "read a", 10), "new");

    /* a tag taken before a write that finished before the fill: the entry never hits */
    wc_rowcache_fill_begin(f->rc, 7, PK, sizeof(PK), &tag);
    assert_true(tag.ok);
    wc_rowcache_change(f->rc, 7, PK, sizeof(PK), false);
    wc_rowcache_change(f->rc, 7, PK, sizeof(PK), true);
    assert_true(wc_rowcache_fill(f->rc, &tag, (const uint8_t *)"read a", 6,
                                 (const uint8_t *)"stale", 5, 0));
    assert_null(lookup(f->rc, "read a", 10));

    /* two writers at once: a miss until both are done */
    assert_true(fill(f->rc, "read a", "two", 0));
    wc_rowcache_change(f->rc, 7, PK, sizeof(PK), false);
    wc_rowcache_change(f->rc, 7, PK, sizeof(PK), false);
    wc_rowcache_change(f->rc, 7, PK, sizeof(PK), true);
    assert_false(fill(f->rc, "read a", "one left", 0));
    assert_null(lookup(f->rc, "read a", 10));
    wc_rowcache_change(f->rc, 7, PK, sizeof(PK), true);
    assert_true(fill(f->rc, "read a", "none left", 0));
    assert_string_equal(lookup(f->rc, "read a", 10), "none left");

    /* a write to another table leaves the entry alone (unless its stripe collides) */
    {
        static const uint8_t other[] = {0, 1, 'z'};

        wc_rowcache_change(f->rc, 8, other, sizeof(other), false);
        wc_rowcache_change(f->rc, 8, other, sizeof(other), true);
    }
    assert_string_equal(lookup(f->rc, "read a", 10), "none left");
}

static void test_table_generation(void **state)
{
    fx *f = *state;

    assert_true(fill(f->rc, "read a", "before drop", 0));
    wc_rowcache_change(f->rc, 7, NULL, 0, false);
    assert_null(lookup(f->rc, "read a", 10));
    assert_false(fill(f->rc, "read a", "during", 0));
    wc_rowcache_change(f->rc, 7, NULL, 0, true);
    assert_null(lookup(f->rc, "read a", 10));
    assert_true(fill(f->rc, "read a", "after", 0));
    assert_string_equal(lookup(f->rc, "read a", 10), "after");
}

static void test_expiry(void **state)
{
    fx *f = *state;

    assert_true(fill(f->rc, "read ttl", "expiring", 100));
    assert_string_equal(lookup(f->rc, "read ttl", 99), "expiring");
    assert_null(lookup(f->rc, "read ttl", 100));
    assert_null(lookup(f->rc, "read ttl", 101));
}

static void test_epoch(void **state)
{
    fx *f = *state;
    wc_rowcache_tag tag;

    assert_true(fill(f->rc, "read a", "first node", 0));
    /* a writer left counted by a node that died */
    wc_rowcache_change(f->rc, 7, PK, sizeof(PK), false);
    wc_rowcache_fill_begin(f->rc, 7, PK, sizeof(PK), &tag);
    assert_false(tag.ok);
    wc_rowcache_serve(f->rc, false);
    assert_null(lookup(f->rc, "read a", 10));
    assert_false(fill(f->rc, "read a", "stopped", 0));
    wc_rowcache_serve(f->rc, true);
    /* the restart forgot the writer, and the old entry is stale */
    assert_null(lookup(f->rc, "read a", 10));
    wc_rowcache_fill_begin(f->rc, 7, PK, sizeof(PK), &tag);
    assert_true(tag.ok);
    assert_true(fill(f->rc, "read a", "second node", 0));
    assert_string_equal(lookup(f->rc, "read a", 10), "second node");
}

static void test_eviction(void **state)
{
    fx *f = *state;
    wc_rowcache_stats st;
    char key[32], val[32];
    uint64_t n;
    int hits = 0;

    wc_rowcache_get_stats(f->rc, &st);
    n = st.slots * 3;
    for (uint64_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "key %llu", (unsigned long long)i);
        snprintf(val, sizeof(val), "val %llu", (unsigned long long)i);
        assert_true(fill(f->rc, key, val, 0));
    }
    wc_rowcache_get_stats(f->rc, &st);
    assert_true(st.evictions >= n - st.slots);
    /* whatever is still there answers with its own value */
    for (uint64_t i = 0; i < n; i++) {
        const char *got;

        snprintf(key, sizeof(key), "key %llu", (unsigned long long)i);
        snprintf(val, sizeof(val), "val %llu", (unsigned long long)i);
        if ((got = lookup(f->rc, key, 10)) != NULL) {
            assert_string_equal(got, val);
            hits++;
        }
    }
    assert_true(hits > 0);
    assert_true((uint64_t)hits <= st.slots);
    /* a referenced entry survives the clock's next pass over its set */
    assert_true(fill(f->rc, "hot", "hot value", 0));
    assert_non_null(lookup(f->rc, "hot", 10));
}

/* ---------------------------------------------------------------- engine hook */

typedef struct counted {
    wc_rowcache *rc;
    int begins, ends;
} counted;

static void counting_hook(void *arg, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                          bool done)
{
    counted *k = arg;

    if (done)
        k->ends++;
    else
        k->begins++;
    wc_rowcache_change(k->rc, table_id, pk, pk_len, done);
}

/* Fill key -> val for partition pk of table 7. */
static bool fill_pk(wc_rowcache *rc, const char *pk, const char *val)
{
    wc_rowcache_tag tag;

    wc_rowcache_fill_begin(rc, 7, (const uint8_t *)pk, strlen(pk), &tag);
    return wc_rowcache_fill(rc, &tag, (const uint8_t *)"read", 4, (const uint8_t *)val,
                            strlen(val), 0);
}

static bool hit_pk(wc_rowcache *rc, const char *pk)
{
    uint8_t buf[64];
    size_t len;

    return wc_rowcache_lookup(rc, 7, (const uint8_t *)pk, strlen(pk), (const uint8_t *)"read", 4,
                              10, buf, sizeof(buf), &len);
}

static void test_engine_hook(void **state)
{
    fx *f = *state;
    char *dir = wc_test_tmpdir("rowcache");
    counted k = {.rc = f->rc};
    wc_engine_options o;
    wc_table_def def;
    wc_engine *e;
    uint32_t col = 1;
    const char *val = "v";

    wc_engine_options_default(&o);
    o.dir = dir;
    o.compaction_threads = 0;
    o.change_hook = counting_hook;
    o.change_hook_arg = &k;
    assert_int_equal(wc_engine_open(&o, &e), WC_OK);
    memset(&def, 0, sizeof(def));
    def.id = 7;
    snprintf(def.name, sizeof(def.name), "ks.t");
    def.gc_grace_seconds = 10;
    assert_int_equal(wc_engine_create_table(e, &def), WC_OK);

    /* a write to the partition: stale; to another one: still a hit */
    assert_true(fill_pk(f->rc, "p1", "before"));
    assert_true(hit_pk(f->rc, "p1"));
    assert_int_equal(wc_test_put(e, 7, "p2", 1, 100, 0, 10, 1, &col, &val), WC_OK);
    assert_true(hit_pk(f->rc, "p1"));
    assert_int_equal(wc_test_put(e, 7, "p1", 1, 101, 0, 10, 1, &col, &val), WC_OK);
    assert_false(hit_pk(f->rc, "p1"));
    assert_int_equal(k.begins, 2);
    assert_int_equal(k.ends, 2);

    /* alter and drop: the whole table */
    assert_true(fill_pk(f->rc, "p1", "after write"));
    assert_true(hit_pk(f->rc, "p1"));
    def.gc_grace_seconds = 20;
    assert_int_equal(wc_engine_alter_table(e, &def), WC_OK);
    assert_false(hit_pk(f->rc, "p1"));
    assert_true(fill_pk(f->rc, "p1", "after alter"));
    assert_int_equal(wc_engine_drop_table(e, 7), WC_OK);
    assert_false(hit_pk(f->rc, "p1"));
    assert_int_equal(k.begins, k.ends);
    /* nothing left counted as in progress */
    assert_true(fill_pk(f->rc, "p1", "after drop"));
    assert_true(hit_pk(f->rc, "p1"));
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

/* ---------------------------------------------------------------- seqlock */

typedef struct hammer {
    wc_rowcache *rc;
    atomic_bool stop;
    atomic_ulong fills, hits, torn;
} hammer;

/* Fill "slot" with answers of n bytes all equal to n (n = 1..250). */
static void *writer_main(void *arg)
{
    hammer *h = arg;
    uint8_t val[256];
    unsigned n = 1;

    while (!atomic_load(&h->stop)) {
        wc_rowcache_tag tag;

        memset(val, (int)n, n);
        wc_rowcache_fill_begin(h->rc, 7, PK, sizeof(PK), &tag);
        if (wc_rowcache_fill(h->rc, &tag, (const uint8_t *)"slot", 4, val, n, 0))
            atomic_fetch_add(&h->fills, 1);
        n = n % 250 + 1;
    }
    return NULL;
}

static void *reader_main(void *arg)
{
    hammer *h = arg;
    uint8_t buf[WC_ROWCACHE_SLOT_BYTES];

    while (!atomic_load(&h->stop)) {
        size_t len;

        if (!wc_rowcache_lookup(h->rc, 7, PK, sizeof(PK), (const uint8_t *)"slot", 4, 10, buf,
                                sizeof(buf), &len))
            continue;
        atomic_fetch_add(&h->hits, 1);
        for (size_t i = 0; i < len; i++)
            if (buf[i] != len) {
                atomic_fetch_add(&h->torn, 1);
                break;
            }
    }
    return NULL;
}

static void test_seqlock(void **state)
{
    fx *f = *state;
    hammer h = {.rc = f->rc};
    pthread_t w[2], r[2];
    struct timespec d = {0, 300 * 1000 * 1000};

    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&w[i], NULL, writer_main, &h), 0);
        assert_int_equal(pthread_create(&r[i], NULL, reader_main, &h), 0);
    }
    nanosleep(&d, NULL);
    atomic_store(&h.stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(w[i], NULL);
        pthread_join(r[i], NULL);
    }
    print_message("seqlock: %lu fills, %lu hits, %lu torn\n", atomic_load(&h.fills),
                  atomic_load(&h.hits), atomic_load(&h.torn));
    assert_true(atomic_load(&h.fills) > 0);
    assert_true(atomic_load(&h.hits) > 0);
    assert_int_equal(atomic_load(&h.torn), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_format_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hit_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seqlock, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
