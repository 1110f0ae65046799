/*
 * index_sim_test.c - secondary-index reads on a cluster
 * (wc_coord_index_read) in the simulator: five nodes, RF=3, rows whose
 * value changed while replicas were cut off (so replicas' indexes
 * disagree); paged index reads at QUORUM from every node give exactly the
 * rows a filtered full scan gives, in token order, with no duplicates;
 * with a node down QUORUM still does and ALL is unavailable; under message
 * loss a page either fails (timeout) or is exact, and retried pages finish
 * the read; an unknown index is refused by the replicas; pages stay exact
 * when the asked replicas' answers are cut at different keys; malformed
 * index messages are dropped, and an answer that does not parse fails the
 * read.  The model
 * store's index "col1" covers column 1.  Each test prints its seed;
 * WC_SIM_SEED replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "coordsim.h"
#include "row.h"

#define TS(n) (1767225600000000LL + (int64_t)(n))
#define NROWS 90

typedef struct ix_wait {
    bool done;
    wc_coord_result res;
    wc_buf data, resume;
    bool more;
} ix_wait;

static void ix_done(void *arg, const wc_coord_result *res, const uint8_t *data, size_t len,
                    const uint8_t *resume, size_t resume_len, bool more)
{
    ix_wait *w = arg;

    w->res = *res;
    wc_buf_reset(&w->data);
    wc_buf_append(&w->data, data, len);
    wc_buf_reset(&w->resume);
    wc_buf_append(&w->resume, resume, resume_len);
    w->more = more;
    w->done = true;
}

/*
 * The rows of a raw result whose live column 1 is value, as "pk/ck" joined
 * by ',' (appended to out); *bad counts rows out of token order.
 */
static void ix_collect(const uint8_t *raw, size_t len, const char *value, wc_buf *out,
                       int64_t *last_token, int *bad)
{
    const uint8_t *p = raw, *end = raw + len;
    uint64_t n;

    if (raw == NULL || !wc_get_varint(&p, end, &n))
        return;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *pk, *ck, *blob;
        size_t pk_len, ck_len, blen;
        uint8_t kind;
        wc_row_view v;
        wc_cell c;
        int64_t tok;

        if (!wc_get_bytes(&p, end, &pk, &pk_len) || !wc_get_u8(&p, end, &kind) ||
            !wc_get_bytes(&p, end, &ck, &ck_len) || !wc_get_bytes(&p, end, &blob, &blen))
            return;
        if (kind != WC_KIND_ROW || !wc_row_parse(blob, blen, &v))
            continue;
        tok = wc_token(pk, pk_len);
        if (tok < *last_token)
            (*bad)++;
        *last_token = tok;
        while (wc_row_next_cell(&v, &c) == 1)
            if (c.column == 1 && !(c.flags & WC_CELLF_TOMBSTONE) &&
                !((v.flags & WC_ROWF_DELETED) && v.del_ts >= c.ts) && c.len == strlen(value) &&
                memcmp(c.value, value, c.len) == 0) {
                char one[64];

                snprintf(one, sizeof(one), "%s%.*s/%.*s", out->len ? "," : "", (int)pk_len,
                         (const char *)pk, (int)ck_len, (const char *)ck);
                wc_buf_append(out, one, strlen(one));
            }
    }
}

/*
 * Every page of the index read of value on node i at cl, limit keys per
 * page, each page tried up to tries times; the matching rows into out.
 * Returns the status of the last page (WC_OK when every page succeeded).
 */
static wc_status ix_read_all(csim *cs, uint32_t i, const char *index, const char *value,
                             wc_consistency cl, uint32_t limit, int tries, wc_buf *out,
                             int *failures, wc_coord_result *last)
{
    wc_buf after;
    int64_t last_token = INT64_MIN;
    int bad = 0, pages = 0;
    wc_status st = WC_OK;

    wc_buf_init(&after);
    wc_buf_reset(out);
    for (;;) {
        wc_coord_index_query q;
        ix_wait w;
        int t;

        memset(&w, 0, sizeof(w));
        wc_buf_init(&w.data);
        wc_buf_init(&w.resume);
        for (t = 0; t < tries; t++) {
            memset(&q, 0, sizeof(q));
            q.table_id = CS_TABLE;
            q.index = index;
            q.value = (const uint8_t *)value;
            q.value_len = strlen(value);
            q.after = after.len ? after.data : NULL;
            q.after_len = after.len;
            q.limit = limit;
            q.now_sec = 1767225600;
            w.done = false;
            wc_coord_index_read(cs->nodes[i].coord, &q, cl, 500, ix_done, &w);
            for (uint64_t end = wc_sim_now(cs->sim) + 20000; !w.done && wc_sim_now(cs->sim) < end;)
                wc_sim_run_for(cs->sim, 1);
            SIM_CHECK(cs->seed, w.done, "index read never ended");
            if (w.res.status == WC_OK)
                break;
            (*failures)++;
        }
        st = w.res.status;
        *last = w.res;
        if (st == WC_OK)
            ix_collect(w.data.data, w.data.len, value, out, &last_token, &bad);
        wc_buf_reset(&after);
        wc_buf_append(&after, w.resume.data, w.resume.len);
        pages++;
        wc_buf_free(&w.data);
        wc_buf_free(&w.resume);
        if (st != WC_OK || !w.more)
            break;
        SIM_CHECK(cs->seed, after.len > 0 && pages < 1000, "more without a resume key");
    }
    SIM_CHECK(cs->seed, bad == 0, "%d rows out of token order", bad);
    wc_buf_free(&after);
    return st;
}

static void scan_done(void *arg, const wc_coord_result *res, const uint8_t *data, size_t len)
{
    cs_read_done(arg, res, data, len);
}

/* The rows holding value by a full scan at ALL (every replica reconciled) into out. */
static void ix_by_scan(csim *cs, const char *value, wc_buf *out)
{
    wc_store_read r;
    cs_wait w;
    int64_t last = INT64_MIN;
    int bad = 0;

    memset(&r, 0, sizeof(r));
    r.table_id = CS_TABLE;
    r.start.unbounded = r.end.unbounded = true;
    r.now_sec = 1767225600;
    memset(&w, 0, sizeof(w));
    wc_buf_init(&w.data);
    wc_coord_scan(cs->nodes[0].coord, &r, WC_CL_ALL, 2000, scan_done, &w);
    cs_wait_for(cs, &w, 20000);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_OK, "scan: %s", w.res.detail);
    wc_buf_reset(out);
    ix_collect(w.data.data, w.data.len, value, out, &last, &bad);
    wc_buf_free(&w.data);
}

/* The rows as the test wrote them: state[k] is row k's value, "" if deleted. */
static void ix_expected(csim *cs, char state[][8], const char *value, wc_buf *out)
{
    /* the scan's order is token order: build the expected set as a sorted check instead */
    (void)cs;
    wc_buf_reset(out);
    for (int k = 0; k < NROWS; k++)
        if (strcmp(state[k], value) == 0) {
            char one[32];

            snprintf(one, sizeof(one), "|p%d/c%d|", k / 3, k % 3);
            wc_buf_append(out, one, strlen(one));
        }
}

/* Whether every row of the ","-joined list is in the expected set, and the counts agree. */
static bool ix_same_set(const wc_buf *got, const wc_buf *want)
{
    size_t n = 0, m = 0;
    char *copy = calloc(1, got->len + 1), *save = NULL;
    bool ok = true;

    memcpy(copy, got->data, got->len);
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char one[40];

        snprintf(one, sizeof(one), "|%s|", tok);
        if (memmem(want->data, want->len, one, strlen(one)) == NULL)
            ok = false;
        n++;
    }
    for (size_t i = 0; i + 1 < want->len; i++)
        if (want->data[i] == '|' && want->data[i + 1] == '|')
            m++;
    m += want->len > 0;
    free(copy);
    return ok && n == m;
}

/* Write row k = value (or delete its cell when value is "") at ts through node i at QUORUM. */
static void ix_write(csim *cs, uint32_t i, char state[][8], int k, const char *value, int64_t ts)
{
    char pk[16], ck[16];
    wc_buf rec;
    cs_wait w;

    snprintf(pk, sizeof(pk), "p%d", k / 3);
    snprintf(ck, sizeof(ck), "c%d", k % 3);
    wc_buf_init(&rec);
    if (value[0])
        model_batch_one(&rec, CS_TABLE, pk, ck, value, ts);
    else
        model_batch_delete(&rec, CS_TABLE, pk, ck, ts);
    memset(&w, 0, sizeof(w));
    wc_coord_write(cs->nodes[i].coord, CS_TABLE, rec.data, rec.len, WC_CL_QUORUM, 2000,
                   cs_write_done, &w);
    cs_wait_for(cs, &w, 5000);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_OK, "write %s/%s: %s", pk, ck, w.res.detail);
    snprintf(state[k], 8, "%s", value);
    wc_buf_free(&rec);
}

/*
 * Five nodes, RF=3, no hints: NROWS rows "open" or "closed"; then, with
 * node 4 and later node 3 cut off, a third of them change value or lose
 * it, so the cut-off replicas' own indexes still list rows that no longer
 * hold the value, and miss rows that now do.
 */
static csim *ix_setup(uint64_t seed, char state[][8])
{
    csim *cs = cs_small(seed, 5, 3);
    int cut4[5] = {0, 0, 0, 0, 1}, cut3[5] = {0, 0, 0, 1, 0};

    cs->hints_on = false;
    for (int k = 0; k < NROWS; k++)
        ix_write(cs, (uint32_t)k % 5, state, k, k % 2 ? "open" : "closed", TS(k));
    wc_sim_partition(cs->sim, cut4, 5);
    for (int k = 0; k < NROWS; k += 3)
        ix_write(cs, (uint32_t)k % 4, state, k, k % 2 ? "closed" : "open", TS(1000 + k));
    wc_sim_heal(cs->sim);
    wc_sim_partition(cs->sim, cut3, 5);
    for (int k = 1; k < NROWS; k += 5)
        ix_write(cs, k % 2 ? 0 : 4, state, k, k % 4 == 1 ? "" : "open", TS(2000 + k));
    wc_sim_heal(cs->sim);
    wc_sim_run_for(cs->sim, 3000);
    return cs;
}

static void test_index_read_equals_scan(void **state_)
{
    char state[NROWS][8];
    csim *cs = ix_setup(41, state);
    wc_buf got, want, scanned;
    wc_coord_result res;
    int failures = 0;

    (void)state_;
    wc_buf_init(&got);
    wc_buf_init(&want);
    wc_buf_init(&scanned);
    ix_expected(cs, state, "open", &want);
    SIM_CHECK(cs->seed, want.len > 0, "no open row");
    /* from every node (the stale ones too), pages of several sizes */
    for (uint32_t i = 0; i < 5; i++)
        for (uint32_t limit = 1; limit <= 64; limit += limit < 16 ? 1 : 16) {
            SIM_CHECK(cs->seed,
                      ix_read_all(cs, i, "col1", "open", WC_CL_QUORUM, limit, 1, &got, &failures,
                                  &res) == WC_OK,
                      "index read on node %u, limit %u: %s", i, limit, res.detail);
            SIM_CHECK(cs->seed, ix_same_set(&got, &want), "node %u limit %u: got %.*s", i, limit,
                      (int)got.len, (const char *)got.data);
        }
    /* the same rows, in the same order, as a filtered scan */
    ix_by_scan(cs, "open", &scanned);
    (void)ix_read_all(cs, 3, "col1", "open", WC_CL_QUORUM, 5, 1, &got, &failures, &res);
    SIM_CHECK(cs->seed, got.len == scanned.len && memcmp(got.data, scanned.data, got.len) == 0,
              "index %.*s\nscan  %.*s", (int)got.len, (const char *)got.data, (int)scanned.len,
              (const char *)scanned.data);
    /* a node down: QUORUM still exact, ALL unavailable */
    wc_sim_crash(cs->sim, cs->nodes[2].env);
    SIM_CHECK(cs->seed,
              ix_read_all(cs, 0, "col1", "open", WC_CL_QUORUM, 16, 1, &got, &failures, &res) ==
                      WC_OK &&
                  ix_same_set(&got, &want),
              "QUORUM with a node down: %s", res.detail);
    SIM_CHECK(cs->seed,
              ix_read_all(cs, 0, "col1", "open", WC_CL_ALL, 16, 1, &got, &failures, &res) ==
                  WC_UNAVAILABLE,
              "ALL with a node down: %s", wc_status_name(res.status));
    /* an index the replicas do not have */
    SIM_CHECK(cs->seed,
              ix_read_all(cs, 1, "nope", "open", WC_CL_ONE, 16, 1, &got, &failures, &res) ==
                  WC_NOT_FOUND,
              "unknown index: %s", wc_status_name(res.status));
    wc_buf_free(&got);
    wc_buf_free(&want);
    wc_buf_free(&scanned);
    cs_free(cs);
}

static void test_index_read_under_message_loss(void **state_)
{
    char state[NROWS][8];
    csim *cs = ix_setup(43, state);
    wc_buf got, want;
    wc_coord_result res;
    int failures = 0;

    (void)state_;
    wc_buf_init(&got);
    wc_buf_init(&want);
    ix_expected(cs, state, "open", &want);
    wc_sim_set_loss(cs->sim, 0.02);
    for (uint32_t i = 0; i < 5; i += 2) {
        SIM_CHECK(cs->seed,
                  ix_read_all(cs, i, "col1", "open", WC_CL_QUORUM, 8, 100, &got, &failures,
                              &res) == WC_OK,
                  "node %u under loss: %s", i, res.detail);
        SIM_CHECK(cs->seed, ix_same_set(&got, &want), "node %u under loss: got %.*s", i,
                  (int)got.len, (const char *)got.data);
    }
    SIM_CHECK(cs->seed, failures > 0, "no page failed under loss (the test would not see one)");
    printf("pages retried under 2%% loss: %d\n", failures);
    wc_buf_free(&got);
    wc_buf_free(&want);
    cs_free(cs);
}

/*
 * Three nodes, RF=3: node 0 missed half the open rows, node 2 the other
 * half, so in every range two asked replicas list different keys and
 * small pages cut their answers at different places: the union must stop
 * at the smaller cut (else the keys between the two cuts are skipped).
 */
static void test_index_pages_over_disagreeing_replicas(void **state_)
{
    char state[NROWS][8];
    csim *cs = cs_small(47, 3, 3);
    int cut0[3] = {1, 0, 0}, cut2[3] = {0, 0, 1};
    wc_buf got, want;
    wc_coord_result res;
    int failures = 0;

    (void)state_;
    cs->hints_on = false;
    wc_buf_init(&got);
    wc_buf_init(&want);
    wc_sim_partition(cs->sim, cut2, 3);
    for (int k = 0; k < NROWS; k += 2)
        ix_write(cs, 0, state, k, "open", TS(k));
    wc_sim_heal(cs->sim);
    wc_sim_partition(cs->sim, cut0, 3);
    for (int k = 1; k < NROWS; k += 2)
        ix_write(cs, 1, state, k, "open", TS(k));
    wc_sim_heal(cs->sim);
    wc_sim_run_for(cs->sim, 3000);
    ix_expected(cs, state, "open", &want);
    for (uint32_t limit = 2; limit <= 8; limit += 3) {
        SIM_CHECK(cs->seed,
                  ix_read_all(cs, limit % 2 ? 0 : 2, "col1", "open", WC_CL_QUORUM, limit, 1, &got,
                              &failures, &res) == WC_OK,
                  "limit %u: %s", limit, res.detail);
        SIM_CHECK(cs->seed, ix_same_set(&got, &want), "limit %u: got %.*s", limit, (int)got.len,
                  (const char *)got.data);
    }
    wc_buf_free(&got);
    wc_buf_free(&want);
    cs_free(cs);
}

/* Node 0 receives every INDEX_KEYS with a keys field that does not parse (u8 more = 2). */
static bool ix_corrupt_keys(cnode *n, const wc_addr *from, const uint8_t *msg, size_t len)
{
    const uint8_t *p = msg + 1, *end = msg + len;
    uint64_t id;
    uint8_t status;
    wc_buf b;

    if (n->idx != 0 || len == 0 || msg[0] != 21 || !wc_get_varint(&p, end, &id) ||
        !wc_get_u8(&p, end, &status))
        return false;
    wc_buf_init(&b);
    wc_buf_put_u8(&b, 21);
    wc_buf_put_varint(&b, id);
    wc_buf_put_u8(&b, 0);
    wc_buf_put_bytes(&b, "\x02", 1);
    wc_coord_on_message(n->coord, from, b.data, b.len);
    wc_buf_free(&b);
    return true;
}

/*
 * Malformed index messages are counted and dropped (never a crash), and a
 * replica's answer that does not parse fails the read with corruption.
 */
static void test_malformed_index_messages(void **state_)
{
    char state[NROWS][8];
    csim *cs = cs_small(53, 3, 3);
    static const uint8_t bad[][12] = {
        {20},                          /* INDEX_QUERY without a body */
        {20, 1, 7, 0, 0, 0, 0},        /* no index name */
        {20, 1, 7, 0, 0, 0, 1, 0},     /* a name with a NUL */
        {21, 1},                       /* INDEX_KEYS without a status */
        {21, 1, 200, 0},               /* a status out of range */
        {21, 1, 0, 5, 1},              /* keys longer than the message */
    };
    static const size_t bad_len[] = {1, 7, 8, 2, 4, 5};
    wc_addr from = {.host = "10.2.0.2", .port = 7000};
    wc_coord_stats st0, st1;
    wc_buf got;
    wc_coord_result res;
    int failures = 0;

    (void)state_;
    wc_buf_init(&got);
    for (int k = 0; k < 9; k++)
        ix_write(cs, 1, state, k, "open", TS(k));
    wc_coord_get_stats(cs->nodes[0].coord, &st0);
    for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++)
        assert_true(wc_coord_on_message(cs->nodes[0].coord, &from, bad[i], bad_len[i]));
    wc_coord_get_stats(cs->nodes[0].coord, &st1);
    SIM_CHECK(cs->seed, st1.malformed - st0.malformed == 6, "%" PRIu64 " malformed counted",
              st1.malformed - st0.malformed);
    cs->msg_hook = ix_corrupt_keys;
    SIM_CHECK(cs->seed,
              ix_read_all(cs, 0, "col1", "open", WC_CL_ALL, 16, 1, &got, &failures, &res) ==
                  WC_CORRUPTION,
              "a malformed answer: %s (%s)", wc_status_name(res.status), res.detail);
    cs->msg_hook = NULL;
    SIM_CHECK(cs->seed,
              ix_read_all(cs, 0, "col1", "open", WC_CL_ALL, 16, 1, &got, &failures, &res) ==
                  WC_OK,
              "after: %s", res.detail);
    wc_buf_free(&got);
    cs_free(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_read_equals_scan),
        cmocka_unit_test(test_index_read_under_message_loss),
        cmocka_unit_test(test_index_pages_over_disagreeing_replicas),
        cmocka_unit_test(test_malformed_index_messages),
    };

    /* helpers of coordsim.h this test has no use for */
    (void)cs_holds;
    (void)cs_read;
    (void)cs_write;
    (void)cs_replicas;

    return cmocka_run_group_tests(tests, NULL, NULL);
}
