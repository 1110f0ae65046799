/*
 * schema_def_test.c - the typed table schema: round trip of every field, a
 * 1000-column table with long names, fields of a newer writer skipped at
 * both levels, and truncated, corrupt or oversized input rejected with
 * WC_CORRUPTION (never a crash or a read past the buffer), allocation
 * failure, and no leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "alloc.h"
#include "engine.h"
#include "schema_def.h"
#include "schema_def_format.h"
#include "testutil.h"

static const wc_schema_column sample_cols[] = {
    {"device_id", "uuid", 2950, WC_COL_PARTITION, 0, false, 0, NULL},
    {"day", "date", 1082, WC_COL_PARTITION, 1, false, 0, NULL},
    {"ts", "timestamp with time zone", 1184, WC_COL_CLUSTERING, 0, true, 0, NULL},
    {"site", "text", 25, WC_COL_STATIC, 0, false, 1, NULL},
    {"Reading \"x\"", "double precision", 701, WC_COL_REGULAR, 0, false, 2, NULL},
    {"reading_wt", "bigint", 20, WC_COL_WRITETIME, 0, false, 0, "Reading \"x\""},
    {"reading_ttl", "integer", 23, WC_COL_TTL, 0, false, 0, "Reading \"x\""},
    {"tags", "text[]", 1009, WC_COL_REGULAR, 0, false, 3, NULL, "set<text>"},
    {"stock", "jsonb", 3802, WC_COL_STATIC, 0, false, 4, NULL, "map<text, int>"},
};
static const wc_schema_replica sample_repl[] = {{"dc1", 3}, {"dc2", 2}};
static const wc_schema_option sample_comp[] = {{"class", "'LeveledCompactionStrategy'"},
                                               {"sstable_size_in_mb", "160"}};
static const wc_schema_option sample_props[] = {{"comment", "'hot table'"},
                                                {"caching", "{'keys': 'ALL'}"}};

static void sample(wc_schema *s)
{
    wc_schema_init(s);
    s->version = 7;
    s->keyspace = "iot";
    s->replication_class = "NetworkTopologyStrategy";
    s->nreplicas = 2;
    s->replicas = sample_repl;
    s->table = "readings";
    s->table_id = 0xdeadbeef;
    s->default_ttl = 3600;
    s->gc_grace_seconds = 600;
    s->ncompaction = 2;
    s->compaction = sample_comp;
    s->nproperties = 2;
    s->properties = sample_props;
    s->owner = (wc_schema_owner){true, 16384, 24576, 10, "app", "public.readings", "alice", "widecol"};
    s->ncolumns = sizeof(sample_cols) / sizeof(sample_cols[0]);
    s->columns = sample_cols;
}

static void assert_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_same(const wc_schema *a, const wc_schema *b)
{
    assert_int_equal(a->version, b->version);
    assert_str(a->keyspace, b->keyspace);
    assert_str(a->replication_class, b->replication_class);
    assert_int_equal(a->nreplicas, b->nreplicas);
    for (size_t i = 0; i < a->nreplicas; i++) {
        assert_str(a->replicas[i].dc, b->replicas[i].dc);
        assert_int_equal(a->replicas[i].factor, b->replicas[i].factor);
    }
    assert_str(a->table, b->table);
    assert_int_equal(a->table_id, b->table_id);
    assert_int_equal(a->default_ttl, b->default_ttl);
    assert_int_equal(a->gc_grace_seconds, b->gc_grace_seconds);
    assert_int_equal(a->ncompaction, b->ncompaction);
    for (size_t i = 0; i < a->ncompaction; i++) {
        assert_str(a->compaction[i].name, b->compaction[i].name);
        assert_str(a->compaction[i].value, b->compaction[i].value);
    }
    assert_int_equal(a->nproperties, b->nproperties);
    for (size_t i = 0; i < a->nproperties; i++) {
        assert_str(a->properties[i].name, b->properties[i].name);
        assert_str(a->properties[i].value, b->properties[i].value);
    }
    assert_int_equal(a->owner.present, b->owner.present);
    assert_int_equal(a->owner.db_id, b->owner.db_id);
    assert_int_equal(a->owner.rel_id, b->owner.rel_id);
    assert_int_equal(a->owner.role_id, b->owner.role_id);
    assert_str(a->owner.db_name, b->owner.db_name);
    assert_str(a->owner.rel_name, b->owner.rel_name);
    assert_str(a->owner.role_name, b->owner.role_name);
    assert_str(a->owner.access_method, b->owner.access_method);
    assert_int_equal(a->ncolumns, b->ncolumns);
    for (size_t i = 0; i < a->ncolumns; i++) {
        const wc_schema_column *x = &a->columns[i], *y = &b->columns[i];
        assert_str(x->name, y->name);
        assert_str(x->type, y->type);
        assert_int_equal(x->type_id, y->type_id);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->position, y->position);
        assert_int_equal(x->descending, y->descending);
        assert_int_equal(x->cell_id, y->cell_id);
        assert_str(x->meta_of, y->meta_of);
        assert_str(x->cql_type, y->cql_type);
    }
}

static void encode(const wc_schema *s, wc_buf *b)
{
    wc_buf_init(b);
    assert_int_equal(wc_schema_encode(s, b), WC_OK);
}

static void test_round_trip(void **state)
{
    wc_schema s, d;
    wc_buf b;
    uint64_t live = wc_alloc_live_count();

    sample(&s);
    encode(&s, &b);
    assert_int_equal(wc_schema_decode(b.data, b.len, &d), WC_OK);
    assert_same(&s, &d);
    assert_non_null(wc_schema_find_column(&d, "ts"));
    assert_true(wc_schema_find_column(&d, "ts")->descending);
    assert_null(wc_schema_find_column(&d, "nope"));
    wc_schema_free(&d);
    /* the smallest schema: a name and nothing else, defaults kept */
    wc_schema_init(&s);
    s.table = "t";
    wc_buf_reset(&b);
    assert_int_equal(wc_schema_encode(&s, &b), WC_OK);
    assert_int_equal(wc_schema_decode(b.data, b.len, &d), WC_OK);
    assert_same(&s, &d);
    assert_int_equal(d.gc_grace_seconds, 864000);
    wc_schema_free(&d);
    wc_buf_free(&b);
    assert_int_equal(wc_alloc_live_count(), live);
}

/* 1000 columns with 200-byte names: far beyond the 8 KiB text of old. */
static void test_thousand_columns(void **state)
{
    enum { N = 1000 };
    wc_schema_column *cols = calloc(N, sizeof(*cols));
    char (*names)[201] = calloc(N, sizeof(*names));
    wc_schema s, d;
    wc_buf b;

    for (int i = 0; i < N; i++) {
        memset(names[i], 'a' + i % 26, 200);
        char prefix[16];
        int n = snprintf(prefix, sizeof(prefix), "col%05d_", i);
        memcpy(names[i], prefix, (size_t)n);
        names[i][200] = '\0';
        cols[i] = (wc_schema_column){names[i], "text", 25, i == 0 ? WC_COL_PARTITION : WC_COL_REGULAR,
                                     0, false, (uint32_t)i, NULL};
    }
    sample(&s);
    s.ncolumns = N;
    s.columns = cols;
    encode(&s, &b);
    assert_true(b.len > 200 * N);
    assert_int_equal(wc_schema_decode(b.data, b.len, &d), WC_OK);
    assert_same(&s, &d);
    assert_string_equal(d.columns[999].name, names[999]);
    wc_schema_free(&d);
    wc_buf_free(&b);
    free(cols);
    free(names);
}

static void put_field(wc_buf *b, uint64_t tag, const void *p, size_t n)
{
    wc_buf_put_varint(b, tag);
    wc_buf_put_bytes(b, p, n);
}

/* A newer writer's fields, at the top level and inside a column, are skipped. */
static void test_unknown_fields_skipped(void **state)
{
    wc_schema d;
    wc_buf b, col;
    const char junk[] = "\x01\x02\x03 whatever a newer node says";

    wc_buf_init(&b);
    wc_buf_init(&col);
    wc_buf_put_u32(&b, WC_SCHEMA_MAGIC);
    wc_buf_put_u8(&b, WC_SCHEMA_FORMAT);
    put_field(&b, 999, junk, sizeof(junk)); /* unknown, before everything */
    put_field(&b, WC_SF_TABLE, "t", 1);
    put_field(&col, WC_SC_NAME, "k", 1);
    put_field(&col, 77, junk, sizeof(junk)); /* unknown inside a record */
    put_field(&col, WC_SC_KIND, "\x01", 1);
    put_field(&b, WC_SF_COLUMN, col.data, col.len);
    put_field(&b, 1u << 20, "", 0); /* unknown, empty, large tag */
    assert_int_equal(wc_schema_decode(b.data, b.len, &d), WC_OK);
    assert_string_equal(d.table, "t");
    assert_int_equal(d.ncolumns, 1);
    assert_string_equal(d.columns[0].name, "k");
    assert_int_equal(d.columns[0].kind, WC_COL_PARTITION);
    wc_schema_free(&d);
    wc_buf_free(&col);
    wc_buf_free(&b);
}

static void expect_corrupt(const uint8_t *p, size_t len)
{
    wc_schema d;
    uint64_t live = wc_alloc_live_count();

    assert_int_equal(wc_schema_decode(p, len, &d), WC_CORRUPTION);
    wc_schema_free(&d);
    assert_int_equal(wc_alloc_live_count(), live);
}

static void test_truncated_and_corrupt(void **state)
{
    wc_schema s, d;
    wc_buf b, x;

    sample(&s);
    encode(&s, &b);
    /* every proper prefix: ends mid-field or lacks the table name */
    for (size_t n = 0; n < b.len; n++) {
        wc_status st = wc_schema_decode(b.data, n, &d);
        /* a cut exactly between fields after the table name still decodes */
        assert_true(st == WC_CORRUPTION || (st == WC_OK && d.table != NULL));
        wc_schema_free(&d);
    }
    expect_corrupt(b.data, 0);
    expect_corrupt(b.data, 4);
    /* bad magic, unknown format */
    b.data[0] ^= 1;
    expect_corrupt(b.data, b.len);
    b.data[0] ^= 1;
    b.data[4] = 2;
    expect_corrupt(b.data, b.len);
    b.data[4] = WC_SCHEMA_FORMAT;
    /* every single-byte flip: a status, never a crash */
    for (size_t i = 0; i < b.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1u << bit);
            wc_status st = wc_schema_decode(b.data, b.len, &d);
            assert_true(st == WC_OK || st == WC_CORRUPTION);
            wc_schema_free(&d);
            b.data[i] ^= (uint8_t)(1u << bit);
        }
    /* a length far beyond the buffer */
    wc_buf_init(&x);
    wc_buf_put_u32(&x, WC_SCHEMA_MAGIC);
    wc_buf_put_u8(&x, WC_SCHEMA_FORMAT);
    wc_buf_put_varint(&x, WC_SF_TABLE);
    wc_buf_put_varint(&x, UINT64_MAX / 2);
    wc_buf_append(&x, "t", 1);
    expect_corrupt(x.data, x.len);
    /* a NUL inside a string, a number too big, a column without a kind, tag 0 */
    wc_buf_reset(&x);
    wc_buf_put_u32(&x, WC_SCHEMA_MAGIC);
    wc_buf_put_u8(&x, WC_SCHEMA_FORMAT);
    put_field(&x, WC_SF_TABLE, "a\0b", 3);
    expect_corrupt(x.data, x.len);
    wc_buf_reset(&x);
    wc_buf_put_u32(&x, WC_SCHEMA_MAGIC);
    wc_buf_put_u8(&x, WC_SCHEMA_FORMAT);
    put_field(&x, WC_SF_TABLE, "t", 1);
    put_field(&x, WC_SF_TABLE_ID, "\xff\xff\xff\xff\x7f", 5); /* 2^35 - 1 */
    expect_corrupt(x.data, x.len);
    wc_buf_reset(&x);
    wc_buf_put_u32(&x, WC_SCHEMA_MAGIC);
    wc_buf_put_u8(&x, WC_SCHEMA_FORMAT);
    put_field(&x, WC_SF_TABLE, "t", 1);
    put_field(&x, WC_SF_COLUMN, "\x01\x01k", 3);
    expect_corrupt(x.data, x.len);
    wc_buf_reset(&x);
    wc_buf_put_u32(&x, WC_SCHEMA_MAGIC);
    wc_buf_put_u8(&x, WC_SCHEMA_FORMAT);
    put_field(&x, WC_SF_TABLE, "t", 1);
    put_field(&x, 0, "", 0);
    expect_corrupt(x.data, x.len);
    wc_buf_free(&x);
    wc_buf_free(&b);
}

static void test_encode_refuses_bad_input(void **state)
{
    wc_schema s;
    wc_buf b;
    wc_schema_column c = {"k", "int", 23, 9, 0, false, 0, NULL};

    wc_buf_init(&b);
    wc_schema_init(&s);
    assert_int_equal(wc_schema_encode(&s, &b), WC_INVALID_ARGUMENT); /* no table name */
    s.table = "t";
    s.ncolumns = 1;
    s.columns = &c;
    assert_int_equal(wc_schema_encode(&s, &b), WC_INVALID_ARGUMENT); /* kind 9 */
    c.kind = WC_COL_PARTITION;
    c.name = NULL;
    assert_int_equal(wc_schema_encode(&s, &b), WC_INVALID_ARGUMENT); /* no column name */
    wc_buf_free(&b);
}

/* Every allocation of the decoder failing in turn: WC_NO_MEMORY, no leak. */
static void test_alloc_failure(void **state)
{
    wc_schema s, d;
    wc_buf b;
    uint64_t live;
    bool done = false;

    sample(&s);
    encode(&s, &b);
    live = wc_alloc_live_count();
    for (uint64_t n = 1; !done && n < 1000; n++) {
        wc_alloc_fail_after(n, 1);
        wc_status st = wc_schema_decode(b.data, b.len, &d);
        wc_alloc_fail_after(0, 0);
        assert_true(st == WC_OK || st == WC_NO_MEMORY);
        done = st == WC_OK;
        wc_schema_free(&d);
        assert_int_equal(wc_alloc_live_count(), live);
    }
    assert_true(done);
    wc_buf_free(&b);
}

/* What the extension kept in the 8 KiB options text of catalog format 2. */
static const char old_text[] =
    "replication=NetworkTopologyStrategy:dc1=3,dc2=2\n"
    "schema=keyspace=iot\n"
    "table=readings\n"
    "replication={'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}\n"
    "compaction={'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS', "
    "'compaction_window_size': 6}\n"
    "default_time_to_live=86400\n"
    "gc_grace_seconds=3600\n"
    "primary_key=((device, \"Day\"), ts, seq)\n"
    "clustering_order=ts DESC, seq ASC\n"
    "column=device 0 text\n"
    "column=\"Day\" 0 date\n"
    "column=ts 0 timestamp with time zone\n"
    "column=seq 0 integer\n"
    "column=site 1 text static\n"
    "column=\"Temp \"\"C\"\"\" 2 numeric(10,2)\n"
    "column=temp_written 0 bigint writetime=\"Temp \"\"C\"\"\"\n"
    "owner_database=16384 app\n"
    "owner_relation=24576 public.readings\n"
    "owner_role=10 alice\n";

static void check_converted(const wc_schema *d)
{
    const wc_schema_column *c;

    assert_int_equal(d->version, 1);
    assert_string_equal(d->keyspace, "iot");
    assert_string_equal(d->table, "readings");
    assert_int_equal(d->table_id, 77);
    assert_string_equal(d->replication_class, "NetworkTopologyStrategy");
    assert_int_equal(d->nreplicas, 2);
    assert_string_equal(d->replicas[1].dc, "dc2");
    assert_int_equal(d->replicas[1].factor, 2);
    assert_int_equal(d->default_ttl, 86400);
    assert_int_equal(d->gc_grace_seconds, 3600);
    assert_int_equal(d->ncompaction, 3);
    assert_string_equal(d->compaction[0].name, "class");
    assert_string_equal(d->compaction[0].value, "'TimeWindowCompactionStrategy'");
    assert_string_equal(d->compaction[2].value, "6");
    assert_true(d->owner.present);
    assert_int_equal(d->owner.rel_id, 24576);
    assert_string_equal(d->owner.rel_name, "public.readings");
    assert_string_equal(d->owner.role_name, "alice");
    assert_int_equal(d->ncolumns, 7);
    c = wc_schema_find_column(d, "Day");
    assert_non_null(c);
    assert_int_equal(c->kind, WC_COL_PARTITION);
    assert_int_equal(c->position, 1);
    c = wc_schema_find_column(d, "ts");
    assert_int_equal(c->kind, WC_COL_CLUSTERING);
    assert_int_equal(c->position, 0);
    assert_true(c->descending);
    assert_string_equal(c->type, "timestamp with time zone");
    c = wc_schema_find_column(d, "seq");
    assert_int_equal(c->kind, WC_COL_CLUSTERING);
    assert_int_equal(c->position, 1);
    assert_false(c->descending);
    assert_int_equal(wc_schema_find_column(d, "site")->kind, WC_COL_STATIC);
    c = wc_schema_find_column(d, "Temp \"C\"");
    assert_non_null(c);
    assert_int_equal(c->kind, WC_COL_REGULAR);
    assert_string_equal(c->type, "numeric(10,2)");
    assert_int_equal(c->cell_id, 2);
    c = wc_schema_find_column(d, "temp_written");
    assert_int_equal(c->kind, WC_COL_WRITETIME);
    assert_string_equal(c->meta_of, "Temp \"C\"");
}

static void test_from_old_text(void **state)
{
    wc_buf b;
    wc_schema d;
    uint64_t live = wc_alloc_live_count();

    wc_buf_init(&b);
    assert_int_equal(wc_schema_from_text((const uint8_t *)old_text, strlen(old_text), 77, &b),
                     WC_OK);
    assert_int_equal(wc_schema_decode(b.data, b.len, &d), WC_OK);
    check_converted(&d);
    wc_schema_free(&d);
    /* not the node's form, or empty: no schema */
    wc_buf_reset(&b);
    assert_int_equal(wc_schema_from_text((const uint8_t *)"{\"gc\": 5}", 9, 77, &b), WC_OK);
    assert_int_equal(wc_schema_from_text((const uint8_t *)"", 0, 77, &b), WC_OK);
    assert_int_equal(b.len, 0);
    /* the node's form, damaged: an error */
    {
        static const char *const bad[] = {
            "replication=SimpleStrategy:1\nschema=x",
            "replication=Simple\nschema=table=t\nprimary_key=(a)",
            "replication=SimpleStrategy:1\nschema=table=t\nprimary_key=(a, (b))",
            "replication=SimpleStrategy:1\nschema=table=t\nprimary_key=(a)\ncolumn=a x text",
            "replication=SimpleStrategy:1\nschema=table=t\nprimary_key=(a)\ncolumn=\"a 0 text",
            "replication=SimpleStrategy:1\nschema=table=t\ncolumn=a 0 text",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            if (wc_schema_from_text((const uint8_t *)bad[i], strlen(bad[i]), 77, &b) !=
                WC_CORRUPTION)
                fail_msg("accepted \"%s\"", bad[i]);
    }
    /* every prefix of the text: a status, never a crash or a leak */
    for (size_t n = 0; n < strlen(old_text); n++) {
        wc_status st;
        wc_buf_reset(&b);
        st = wc_schema_from_text((const uint8_t *)old_text, n, 77, &b);
        assert_true(st == WC_OK || st == WC_CORRUPTION);
    }
    /* allocation failure */
    for (uint64_t n = 1; n < 400; n++) {
        wc_status st;
        wc_buf_reset(&b);
        wc_alloc_fail_after(n, 1);
        st = wc_schema_from_text((const uint8_t *)old_text, strlen(old_text), 77, &b);
        wc_alloc_fail_after(0, 0);
        assert_true(st == WC_OK || st == WC_NO_MEMORY);
    }
    wc_buf_free(&b);
    assert_int_equal(wc_alloc_live_count(), live);
}

/* A data directory whose catalog has format 2 opens; the table gets the typed schema. */
static void test_open_old_catalog(void **state)
{
    char *dir = wc_test_tmpdir("schemacat");
    char path[4200];
    wc_buf b;
    wc_engine *e;
    wc_table_def def;
    wc_schema d;
    FILE *f;

    assert_non_null(dir);
    wc_buf_init(&b);
    wc_buf_put_u32(&b, 0x54434357u); /* "WCCT" */
    wc_buf_put_u32(&b, 2);
    wc_buf_put_u32(&b, 2);
    /* a table made through the node */
    wc_buf_put_u32(&b, 77);
    wc_buf_put_bytes(&b, "iot.readings", 12);
    wc_buf_put_u32(&b, 3600);
    wc_buf_put_u32(&b, 86400);
    wc_buf_put_bytes(&b, old_text, strlen(old_text));
    wc_buf_put_bytes(&b, "", 0);
    /* and one made without it */
    wc_buf_put_u32(&b, 78);
    wc_buf_put_bytes(&b, "ks.raw", 6);
    wc_buf_put_u32(&b, 10);
    wc_buf_put_u32(&b, 0);
    wc_buf_put_bytes(&b, "opaque", 6);
    wc_buf_put_bytes(&b, "", 0);
    wc_buf_put_u64(&b, XXH64(b.data, b.len, 0));
    snprintf(path, sizeof(path), "%s/catalog", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    fclose(f);
    wc_buf_free(&b);

    for (int round = 0; round < 2; round++) { /* the second open reads format 3 */
        assert_int_equal(wc_test_open(dir, WC_SYNC_PERIODIC, 1u << 20, &e), WC_OK);
        assert_int_equal(wc_engine_get_table(e, 77, &def), WC_OK);
        assert_int_equal(def.gc_grace_seconds, 3600);
        assert_int_equal(wc_schema_decode(def.schema, def.schema_len, &d), WC_OK);
        check_converted(&d);
        wc_schema_free(&d);
        wc_table_def_clear(&def);
        assert_int_equal(wc_engine_get_table(e, 78, &def), WC_OK);
        assert_int_equal(def.schema_len, 0);
        wc_engine_close(e);
    }
    wc_test_rmrf(dir);
    free(dir);
}

/* The engine keeps schema bytes of any size through create, alter, get and reopen. */
static void test_engine_keeps_schema(void **state)
{
    char *dir = wc_test_tmpdir("schemakeep");
    size_t big = 200000; /* far over the 8 KiB of old */
    uint8_t *a = malloc(big), *b = malloc(big / 2);
    wc_engine *e;
    wc_table_def d, g;

    assert_non_null(dir);
    for (size_t i = 0; i < big; i++)
        a[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < big / 2; i++)
        b[i] = (uint8_t)(i * 13 + 1);
    assert_int_equal(wc_test_open(dir, WC_SYNC_PERIODIC, 1u << 20, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = 5;
    snprintf(d.name, sizeof(d.name), "ks.big");
    d.schema = a;
    d.schema_len = big;
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    a[0] ^= 1; /* the engine took a copy */
    assert_int_equal(wc_engine_get_table(e, 5, &g), WC_OK);
    assert_int_equal(g.schema_len, big);
    assert_int_equal(g.schema[0], (uint8_t)(a[0] ^ 1));
    assert_memory_equal(g.schema + 1, a + 1, big - 1);
    wc_table_def_clear(&g);
    d.schema = b;
    d.schema_len = big / 2;
    assert_int_equal(wc_engine_alter_table(e, &d), WC_OK);
    wc_engine_close(e);
    assert_int_equal(wc_test_open(dir, WC_SYNC_PERIODIC, 1u << 20, &e), WC_OK);
    assert_int_equal(wc_engine_get_table(e, 5, &g), WC_OK);
    assert_int_equal(g.schema_len, big / 2);
    assert_memory_equal(g.schema, b, big / 2);
    wc_table_def_clear(&g);
    /* no schema at all */
    d.schema = NULL;
    d.schema_len = 0;
    assert_int_equal(wc_engine_alter_table(e, &d), WC_OK);
    assert_int_equal(wc_engine_get_table(e, 5, &g), WC_OK);
    assert_int_equal(g.schema_len, 0);
    assert_null(g.schema);
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_thousand_columns),
        cmocka_unit_test(test_unknown_fields_skipped),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_encode_refuses_bad_input),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_from_old_text),
        cmocka_unit_test(test_open_old_catalog),
        cmocka_unit_test(test_engine_keeps_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
