/*
 * schema_def.h - the typed, versioned description of one table: its
 * keyspace and replication, name and id, columns, options and owner, and
 * the schema version.  One encoder and one decoder serve every layer: the
 * client protocol carries the encoding in table definitions and the engine
 * catalog stores it (byte layout in schema_def_format.h and
 * docs/file-formats.md, "Table schema").
 *
 * The encoding is a list of tagged, length-prefixed fields; a reader skips
 * the tags it does not know, so a newer writer may add fields that older
 * readers ignore.  No field has a fixed size ceiling: names, columns and
 * options are bounded only by the buffer that holds them.
 *
 * Memory: wc_schema_encode reads a caller-built structure and never frees
 * it (its strings and arrays may come from any allocator).  A structure
 * filled by wc_schema_decode owns its memory (wc_malloc) and is released
 * with wc_schema_free.  Pure functions on caller-owned data: thread-safe.
 */
#ifndef WC_SCHEMA_DEF_H
#define WC_SCHEMA_DEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "status.h"

/* What a column is to the table. */
typedef enum wc_column_kind {
    WC_COL_PARTITION = 1,  /* partition-key column; position = place in the key */
    WC_COL_CLUSTERING = 2, /* clustering column; position = place, descending = order */
    WC_COL_STATIC = 3,     /* one value per partition */
    WC_COL_REGULAR = 4,    /* ordinary cell */
    WC_COL_WRITETIME = 5,  /* read-only write time of column meta_of */
    WC_COL_TTL = 6         /* read-only remaining TTL of column meta_of */
} wc_column_kind;

typedef struct wc_schema_column {
    const char *name;    /* as declared (not quoted) */
    const char *type;    /* type name as the extension spells it, e.g. "bigint" */
    uint32_t type_id;    /* type id of the extension (a PostgreSQL type OID); 0 = unknown */
    uint32_t kind;       /* wc_column_kind */
    uint32_t position;   /* place in the partition or clustering key, from 0 */
    bool descending;     /* clustering order */
    uint32_t cell_id;    /* engine column id of a cell-backed column */
    const char *meta_of; /* WRITETIME/TTL: the column described; else NULL */
    const char *cql_type; /* CQL collection type ("set<text>"), as given; else NULL */
} wc_schema_column;

/* One name/value pair: a CQL map entry or a table property. */
typedef struct wc_schema_option {
    const char *name;
    const char *value; /* the CQL text of the value */
} wc_schema_option;

/* Replication of the keyspace: SimpleStrategy has one entry with dc NULL. */
typedef struct wc_schema_replica {
    const char *dc;
    uint32_t factor;
} wc_schema_replica;

/*
 * The relation that created the table and its owner role (ids and names).
 * access_method is NULL for a foreign table, else the table access method
 * of the relation ("widecol"): such a table's data goes with it when the
 * table is dropped.
 */
typedef struct wc_schema_owner {
    bool present;
    uint32_t db_id, rel_id, role_id;
    const char *db_name, *rel_name, *role_name;
    const char *access_method;
} wc_schema_owner;

typedef struct wc_schema {
    uint64_t version;         /* grows with every change of the definition */
    const char *keyspace;
    const char *replication_class; /* "SimpleStrategy", "NetworkTopologyStrategy" */
    size_t nreplicas;
    const wc_schema_replica *replicas;
    const char *table;        /* keyspace excluded */
    uint32_t table_id;
    uint32_t default_ttl;     /* seconds; 0 = none */
    uint32_t gc_grace_seconds;
    size_t ncompaction;       /* the compaction map */
    const wc_schema_option *compaction;
    size_t nproperties;       /* accepted CQL table properties the engine does not use */
    const wc_schema_option *properties;
    wc_schema_owner owner;
    size_t ncolumns;          /* in declaration order */
    const wc_schema_column *columns;
    void *mem__;              /* decoder's allocations; NULL for caller-built structures */
} wc_schema;

/* Upper bound of an encoded schema, checked by the decoder (and by the catalog). */
#define WC_SCHEMA_MAX_BYTES (64u << 20)

/* API */

/* An empty schema (no columns, version 0, gc_grace_seconds 864000). */
void wc_schema_init(wc_schema *s);

/*
 * Append the encoding of s to out.  NULL strings are left out.
 * WC_INVALID_ARGUMENT if a column kind is out of range or a name is NULL;
 * WC_NO_MEMORY if out could not grow.
 */
wc_status wc_schema_encode(const wc_schema *s, wc_buf *out);

/*
 * Decode len bytes at p into *out (caller frees with wc_schema_free, also on
 * failure).  Unknown fields are skipped.  WC_CORRUPTION if the bytes are not
 * a schema (bad magic, a length beyond the buffer, a string holding NUL, a
 * missing table name, a column without name or with an unknown kind);
 * WC_NO_MEMORY.
 */
wc_status wc_schema_decode(const uint8_t *p, size_t len, wc_schema *out);

/* Release what wc_schema_decode allocated; leaves *s empty.  NULL-safe. */
void wc_schema_free(wc_schema *s);

/*
 * Convert the options text that catalogs of format 2 kept per table
 * ("replication=<compact form>\nschema=<key=value lines>", as the node
 * wrote it) into a schema encoding appended to out.  An empty text, or one
 * not in that form (a table not made through the node), appends nothing:
 * the table has no schema.  WC_CORRUPTION if the text is in that form but
 * its lines do not parse; WC_NO_MEMORY.
 */
wc_status wc_schema_from_text(const uint8_t *text, size_t len, uint32_t table_id, wc_buf *out);

/* The column called name, or NULL. */
const wc_schema_column *wc_schema_find_column(const wc_schema *s, const char *name);

#endif /* WC_SCHEMA_DEF_H */
