/*
 * view_pair_format.h - the internode messages of paired view updates
 * (view_pair.h); layouts in docs/protocol.md, "Paired view updates".
 * Integers little-endian (coding.h).
 *
 *   VIEW_MUTATION  u8 type 27, u64 id, rest: a batch record
 *                  (engine/mutation.h) of view mutations for the receiver,
 *                  which applies it to its own store
 *   VIEW_ACK       u8 type 28, u64 id, u8 status (wc_status of the apply)
 *
 * Types 29 .. 31 are reserved for views.
 */
#ifndef WC_VIEW_PAIR_FORMAT_H
#define WC_VIEW_PAIR_FORMAT_H

#define WC_MSG_VIEW_MUTATION 27
#define WC_MSG_VIEW_ACK 28
#define WC_MSG_VIEW_FIRST 27
#define WC_MSG_VIEW_LAST 31 /* types 27 .. 31 belong to views */

#define WC_VIEW_MSG_HEAD 9 /* type and id */

#endif /* WC_VIEW_PAIR_FORMAT_H */
