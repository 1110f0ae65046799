/*
 * msg_types.h - the message types of the internode protocol: the first
 * byte of every message a node sends another (env.h).  Each component owns
 * a range and numbers its messages inside it; the body layouts are in
 * docs/protocol.md, "Internode protocol".  A node that receives a type it
 * does not know logs it once and drops the message.  Constants only.
 *
 *   0          never valid
 *   1 .. 15    membership: gossip digests and states (gossip.h)
 *   16 .. 47   coordinator: mutations, reads, digests, repair writes
 *              (16 .. 39, coordinator_format.h; counter writes 32 .. 35,
 *              counter_leader_format.h; batchlog 24 .. 26,
 *              batchlog_format.h; paired view updates 27 .. 31,
 *              view_pair_format.h), hints (40 .. 47, hint_delivery.h)
 *   48 .. 63   schema: pull and push of keyspace and table definitions
 *              (schema_sync_format.h)
 *   64 .. 95   streaming and repair: ranges (64 .. 79, stream_format.h;
 *              range transfers 66 .. 67, transfer_format.h; replacing a
 *              dead node 68 .. 71, replace_format.h; 72: hints a leaving
 *              node hands over, hint_delivery.h), Merkle trees, SSTable
 *              streams
 *   96 .. 127  lightweight transactions (Paxos)
 *   128 .. 255 reserved
 */
#ifndef WC_MSG_TYPES_H
#define WC_MSG_TYPES_H

#define WC_MSG_RANGE_GOSSIP 1
#define WC_MSG_RANGE_COORDINATOR 16
#define WC_MSG_RANGE_SCHEMA 48
#define WC_MSG_RANGE_STREAM 64
#define WC_MSG_RANGE_PAXOS 96

/* hinted handoff (hint_delivery.h; layouts in hints_format.h) */
#define WC_MSG_RANGE_HINTS 40
#define WC_MSG_HINT 40     /* a stored hint for the receiving host */
#define WC_MSG_HINT_ACK 41 /* hints of a session applied up to a sequence number */
/* a leaving node hands its hints for other hosts over (in the streaming range; hints_format.h) */
#define WC_MSG_HINT_HANDOFF 72

#endif /* WC_MSG_TYPES_H */
