/*
 * counter_leader_format.h - the counter messages of the internode protocol
 * (message types 32..35 of the coordinator range, msg_types.h).  The byte
 * layouts are described in docs/protocol.md, "Internode protocol",
 * "Counter writes"; the codec is in counter_leader.c.  Constants only.
 *
 * Integers are varints (unsigned LEB128); bytes are a varint length then
 * the bytes.
 *
 *   COUNTER_WRITE      varint request id, u8 consistency level, varint
 *                      timeout in ms, bytes batch (a batch record of
 *                      engine/mutation.h: counter deltas of one table, of
 *                      partitions the receiver is to lead)
 *   COUNTER_RESULT     varint request id, u8 status (a wc_status), u8
 *                      flags (WC_COUNTER_RESULT_APPLIED), varint replicas
 *                      required, varint replicas acknowledged, varint hints
 *                      stored, bytes detail (at most WC_COUNTER_DETAIL_MAX)
 *
 * Types 34 and 35 are reserved for counter messages.
 */
#ifndef WC_COUNTER_LEADER_FORMAT_H
#define WC_COUNTER_LEADER_FORMAT_H

#include "msg_types.h"

#define WC_COUNTER_MSG_WRITE (WC_MSG_RANGE_COORDINATOR + 16)  /* 32 */
#define WC_COUNTER_MSG_RESULT (WC_MSG_RANGE_COORDINATOR + 17) /* 33 */
#define WC_COUNTER_MSG_LAST (WC_MSG_RANGE_COORDINATOR + 19)   /* 35: end of the counter types */

/* COUNTER_RESULT flags */
#define WC_COUNTER_RESULT_APPLIED 0x01 /* the leader applied the deltas to its own shards */

#define WC_COUNTER_DETAIL_MAX 255

#endif /* WC_COUNTER_LEADER_FORMAT_H */
