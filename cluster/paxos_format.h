/*
 * paxos_format.h - the byte layouts of lightweight transactions (paxos.h):
 * the Paxos messages of the internode protocol (types 96..101 of
 * msg_types.h) and the records of a replica's durable Paxos state.
 * Described in docs/protocol.md ("Internode protocol", Paxos) and
 * docs/file-formats.md (Paxos state).  Constants only.
 *
 * Integers are little-endian; `bytes` is a varint length then the bytes;
 * a ballot is i64 timestamp (microseconds) then u64 node (the first eight
 * bytes of the proposer's host id, big-endian), the zero ballot meaning
 * "none".
 *
 *   PREPARE      u8 96 | u64 req_id | u32 table id | bytes pk | ballot
 *   PROMISE      u8 97 | u64 req_id | u8 status | u8 promised (1/0) |
 *                ballot promised | ballot accepted | bytes accepted value |
 *                ballot committed | bytes committed value
 *   PROPOSE      u8 98 | u64 req_id | u32 table id | bytes pk | ballot |
 *                bytes value
 *   ACCEPTED     u8 99 | u64 req_id | u8 status | u8 accepted (1/0) |
 *                ballot promised
 *   COMMIT       u8 100 | u64 req_id | u32 table id | bytes pk | ballot |
 *                bytes value
 *   COMMIT_ACK   u8 101 | u64 req_id | u8 status
 *
 * A value is
 *
 *   u8 0xC1 | u8 n | u8 truncated (1/0) | n x ballot origin | batch
 *
 * where the batch (the rest) is a batch record (engine/mutation.h) of the
 * partition's mutations, stamped with the timestamp of the value's origin,
 * the ballot of the round that first proposed it (a later round that
 * completes it keeps the value as it is); an empty batch is a round that
 * wrote nothing.  The origins are the value's chain: those of the values
 * committed before it, oldest first, at most 32 in all, its own last
 * (truncated: older ones existed).  Its proposer chains it after the most
 * recent commit its promises showed, so the chain of the most recent
 * commit tells a coordinator whether an earlier proposal of its own was
 * committed since.  A value that does not start with 0xC1 (the earlier
 * format, or empty) is a bare batch without a chain.
 *
 * State file: <data dir>/paxos/state, a sequence of records
 *
 *   u32 payload length L | L bytes payload | u32 checksum (low 32 bits of
 *   XXH3_64 over the length and the payload)
 *
 * payload: u32 table id | bytes pk | ballot promised | ballot accepted |
 * bytes accepted value | ballot committed | bytes committed value |
 * i64 changed (wall clock, microseconds).  The last record of a partition
 * is its state.  The file starts with the 8-byte magic "WCPAXOS1"; a
 * damaged or truncated tail ends the replay (a record is acknowledged only
 * once it is fsynced, so only an unacknowledged change can be lost).
 */
#ifndef WC_PAXOS_FORMAT_H
#define WC_PAXOS_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#include "msg_types.h"

#define WC_MSG_PAXOS_PREPARE (WC_MSG_RANGE_PAXOS + 0)    /* 96 */
#define WC_MSG_PAXOS_PROMISE (WC_MSG_RANGE_PAXOS + 1)    /* 97 */
#define WC_MSG_PAXOS_PROPOSE (WC_MSG_RANGE_PAXOS + 2)    /* 98 */
#define WC_MSG_PAXOS_ACCEPTED (WC_MSG_RANGE_PAXOS + 3)   /* 99 */
#define WC_MSG_PAXOS_COMMIT (WC_MSG_RANGE_PAXOS + 4)     /* 100 */
#define WC_MSG_PAXOS_COMMIT_ACK (WC_MSG_RANGE_PAXOS + 5) /* 101 */
#define WC_MSG_PAXOS_FIRST WC_MSG_PAXOS_PREPARE
#define WC_MSG_PAXOS_LAST (WC_MSG_RANGE_PAXOS + 15) /* 111: end of the range owned here */

#define WC_PAXOS_MAX_PK 65535          /* bytes of a partition key (WC_MAX_PK_LEN) */
#define WC_PAXOS_MAX_VALUE (8u << 20)  /* bytes of a proposed batch */
#define WC_PAXOS_MAX_STATUS 10         /* largest wc_status on the wire (WC_NO_SPACE) */
#define WC_PAXOS_VALUE_TAG 0xC1        /* first byte of a value with its chain */
#define WC_PAXOS_CHAIN_MAX 32          /* origins a value's chain lists */

#define WC_PAXOS_FILE_MAGIC "WCPAXOS1"
#define WC_PAXOS_FILE_MAGIC_LEN 8
#define WC_PAXOS_STATE_FILE "state"

static inline uint32_t wc__paxos_checksum(const uint8_t *p, size_t n)
{
    return (uint32_t)XXH3_64bits(p, n);
}

#endif /* WC_PAXOS_FORMAT_H */
