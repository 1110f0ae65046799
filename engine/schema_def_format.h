/*
 * schema_def_format.h - byte layout of an encoded table schema
 * (schema_def.h); described for users in docs/file-formats.md
 * ("Table schema").
 *
 *   u32 magic WC_SCHEMA_MAGIC, u8 format WC_SCHEMA_FORMAT
 *   field*    varint tag, varint length, length bytes of payload
 *
 * A payload is a varint (numbers, booleans), raw bytes (strings, no NUL)
 * or a nested field list (records: replica, option, owner, column).  A
 * reader skips fields whose tag it does not know, at any level, so fields
 * may be added without a format change; WC_SCHEMA_FORMAT changes only if
 * an existing field changes meaning.  Repeated tags (replica, compaction,
 * property, column) keep their order.
 */
#ifndef WC_SCHEMA_DEF_FORMAT_H
#define WC_SCHEMA_DEF_FORMAT_H

#define WC_SCHEMA_MAGIC 0x44534357u /* "WCSD" little-endian */
#define WC_SCHEMA_FORMAT 1u

/* top level */
enum {
    WC_SF_VERSION = 1,     /* varint */
    WC_SF_KEYSPACE = 2,    /* string */
    WC_SF_REPL_CLASS = 3,  /* string */
    WC_SF_REPLICA = 4,     /* record: WC_SR_* */
    WC_SF_TABLE = 5,       /* string */
    WC_SF_TABLE_ID = 6,    /* varint */
    WC_SF_DEFAULT_TTL = 7, /* varint */
    WC_SF_GC_GRACE = 8,    /* varint */
    WC_SF_COMPACTION = 9,  /* record: WC_SO_* */
    WC_SF_PROPERTY = 10,   /* record: WC_SO_* */
    WC_SF_OWNER = 11,      /* record: WC_SW_* */
    WC_SF_COLUMN = 12      /* record: WC_SC_* */
};

/* replica */
enum { WC_SR_DC = 1, WC_SR_FACTOR = 2 };
/* compaction entry, property */
enum { WC_SO_NAME = 1, WC_SO_VALUE = 2 };
/* owner */
enum {
    WC_SW_DB_ID = 1,
    WC_SW_REL_ID = 2,
    WC_SW_ROLE_ID = 3,
    WC_SW_DB_NAME = 4,
    WC_SW_REL_NAME = 5,
    WC_SW_ROLE_NAME = 6,
    WC_SW_ACCESS_METHOD = 7
};
/* column */
enum {
    WC_SC_NAME = 1,
    WC_SC_TYPE = 2,
    WC_SC_TYPE_ID = 3,
    WC_SC_KIND = 4,
    WC_SC_POSITION = 5,
    WC_SC_DESCENDING = 6,
    WC_SC_CELL_ID = 7,
    WC_SC_META_OF = 8,
    WC_SC_CQL_TYPE = 9 /* string: the column's CQL collection type */
};

#endif /* WC_SCHEMA_DEF_FORMAT_H */
