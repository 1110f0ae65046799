/*
 * gossip_format.h - the gossip messages of the internode protocol (message
 * types 1..15 of msg_types.h).  The byte layouts are described in
 * docs/protocol.md, "Internode protocol", "Gossip messages"; the codec is
 * wc_gossip_decode / wc_gossip_encode in gossip_codec.c.  Constants only.
 *
 * Integers are varints (unsigned LEB128) unless noted; an address is
 * bytes(host) then varint(port); a value is u8 key, varint version,
 * bytes(value).
 *
 *   SYN       cluster name (bytes), digests (varint count, each: address,
 *             generation, max version)
 *   ACK       digests the sender wants (address, generation, the version it
 *             has), then endpoint states the receiver lacks (varint count,
 *             each: address, generation, heartbeat version, varint count of
 *             values, the values in increasing key order)
 *   ACK2      endpoint states (as in ACK)
 *   SHUTDOWN  the sender's generation and final heartbeat version
 */
#ifndef WC_GOSSIP_FORMAT_H
#define WC_GOSSIP_FORMAT_H

#include "msg_types.h"

#define WC_GOSSIP_MSG_SYN (WC_MSG_RANGE_GOSSIP + 0)      /* 1 */
#define WC_GOSSIP_MSG_ACK (WC_MSG_RANGE_GOSSIP + 1)      /* 2 */
#define WC_GOSSIP_MSG_ACK2 (WC_MSG_RANGE_GOSSIP + 2)     /* 3 */
#define WC_GOSSIP_MSG_SHUTDOWN (WC_MSG_RANGE_GOSSIP + 3) /* 4 */
#define WC_GOSSIP_MSG_LAST (WC_MSG_RANGE_GOSSIP + 14)    /* 15: end of the gossip range */

/* Bounds checked on decode (a message past any of them is malformed). */
#define WC_GOSSIP_MAX_CLUSTER_NAME 255 /* bytes of the cluster name */
#define WC_GOSSIP_MAX_KEYS 32          /* application state keys are 0..31 */
#define WC_GOSSIP_MAX_VALUE 65536      /* bytes of one application state value */
#define WC_GOSSIP_MAX_ENDPOINTS 4096   /* digests or states in one message */
#define WC_GOSSIP_MAX_GENERATION 0x7fffffffu
#define WC_GOSSIP_MAX_VERSION 0x7fffffffffffffffull

/* A node stops adding endpoint states to one ACK or ACK2 past this size. */
#define WC_GOSSIP_SOFT_MESSAGE_LIMIT (4u << 20)

#endif /* WC_GOSSIP_FORMAT_H */
