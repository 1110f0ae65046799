/*
 * stage_format.h - byte layout of the commit-log records of staged
 * transactions (stage.c), described for humans in docs/file-formats.md
 * (section "Staged transactions"); keep both in step.
 *
 * Next to plain batch records (magic "WCMB", mutation.h) the commit log
 * holds three record kinds of staged transactions, little-endian:
 *
 *   chunk   u32 magic "WCMS", u64 txn segment, u64 txn offset, batch record
 *   publish u32 magic "WCMP", u64 txn segment, u64 txn offset
 *   abort   u32 magic "WCMA", u64 txn segment, u64 txn offset
 *
 * A transaction is named by the log position (segment, offset) of its
 * first chunk, which carries 0, 0 instead.  Replay applies a transaction's
 * chunks, in log order, as one record at the position of its publish
 * marker and drops a transaction that has an abort marker or none.
 * Constants only: thread-safe by construction.
 */
#ifndef WC_STAGE_FORMAT_H
#define WC_STAGE_FORMAT_H

#define WC_STAGE_CHUNK_MAGIC 0x534d4357u   /* "WCMS" little-endian */
#define WC_STAGE_PUBLISH_MAGIC 0x504d4357u /* "WCMP" */
#define WC_STAGE_ABORT_MAGIC 0x414d4357u   /* "WCMA" */
#define WC_STAGE_HEADER_SIZE 20u           /* magic and the transaction's position */

#endif /* WC_STAGE_FORMAT_H */
