/*
 * replace_format.h - the internode messages of replacing a dead node
 * (cluster.h, widecol.replace_address): before it gossips, a fresh node
 * asks its seeds what they know of the node at the address it replaces.
 * Layouts in docs/protocol.md, "Replace messages"; integers little-endian,
 * bytes = varint length and data.  Constants only.
 *
 *   REPLACE_ASK   u8 68, bytes host, varint port
 *       what does the receiver know of the node at host:port
 *
 *   REPLACE_INFO  u8 69, bytes host, varint port, u8 known, u8 alive,
 *                 u8 status, 16 bytes host id, bytes dc, bytes rack,
 *                 u32 n, n x i64 token
 *       the receiver's view of that node: known 0 (nothing else
 *       meaningful), alive as its failure detector says, status a
 *       wc_gossip_status (LEFT also for a removed or replaced node),
 *       and its host id, data centre, rack and tokens as gossiped
 *
 * Types 70 .. 71 are reserved for replacing.
 */
#ifndef WC_REPLACE_FORMAT_H
#define WC_REPLACE_FORMAT_H

#define WC_MSG_REPLACE_ASK 68
#define WC_MSG_REPLACE_INFO 69
#define WC_MSG_REPLACE_FIRST 68
#define WC_MSG_REPLACE_LAST 71 /* types 68 .. 71 belong to replacing */

#endif /* WC_REPLACE_FORMAT_H */
