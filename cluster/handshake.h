/*
 * handshake.h - the handshake that opens every internode connection
 * (docs/protocol.md, "Internode protocol").
 *
 * Both ends send a HELLO (protocol version, cluster name, the sender's
 * listen address, host id, a fresh random nonce).  Each end checks the
 * other's hello against its own (same version, same cluster name), then
 * sends a PROOF: HMAC-SHA256 keyed with the cluster secret over its own
 * role, both nonces, the cluster name, both addresses and both host ids.
 * A proof that does not verify means the peer does not hold our secret.
 * The role makes a proof useless when reflected back to its sender; the
 * nonces make it useless on any other connection.
 *
 * This module only encodes, decodes, checks and computes; the transport
 * (transport.c) moves the bytes.  Pure functions: thread-safe.
 */
#ifndef WC_HANDSHAKE_H
#define WC_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "env.h"
#include "status.h"

#define WC_HOST_ID_LEN 16
#define WC_NONCE_LEN 16
#define WC_PROOF_LEN 32          /* HMAC-SHA256 */
#define WC_CLUSTER_NAME_MAX 128  /* including the NUL */

/* Which end of the connection: the one that connected, or the one that accepted. */
typedef enum wc_handshake_role {
    WC_ROLE_INITIATOR = 1,
    WC_ROLE_ACCEPTOR = 2,
} wc_handshake_role;

typedef struct wc_hello {
    uint8_t version;                   /* from the frame header */
    char cluster[WC_CLUSTER_NAME_MAX]; /* 1..127 printable characters */
    wc_addr addr;                      /* the sender's listen address */
    uint8_t host_id[WC_HOST_ID_LEN];
    uint8_t nonce[WC_NONCE_LEN];
} wc_hello;

/* API */

/*
 * A cluster name is 1..127 characters, printable ASCII without '"' or '\\'.
 * WC_INVALID_ARGUMENT saying what is wrong.
 */
wc_status wc_cluster_name_check(const char *name);

/* Append the HELLO payload of h to out (h->version goes in the frame header, not here). */
void wc_hello_encode(const wc_hello *h, wc_buf *out);

/*
 * Decode a HELLO payload into *h (version is set to the given one).
 * WC_CORRUPTION with a detail if it is short, has trailing bytes, or a
 * field is out of range.
 */
wc_status wc_hello_decode(const uint8_t *p, size_t len, uint8_t version, wc_hello *h);

/*
 * Whether the peer's hello is acceptable to us: same protocol version and
 * cluster name.  WC_OK, or WC_INVALID_ARGUMENT with the reason in why (a
 * phrase for "refused connection from X: <why>").
 */
wc_status wc_hello_check(const wc_hello *ours, const wc_hello *theirs, char *why, size_t cap);

/*
 * The proof that the end in role sends: HMAC-SHA256(secret, role ||
 * initiator nonce || acceptor nonce || cluster || initiator address ||
 * acceptor address || initiator host id || acceptor host id).  An empty
 * secret (secret_len 0) is allowed: the proof then proves nothing.
 * WC_NO_MEMORY if libcrypto fails.
 */
wc_status wc_handshake_proof(const uint8_t *secret, size_t secret_len, wc_handshake_role role,
                             const wc_hello *initiator, const wc_hello *acceptor,
                             uint8_t proof[WC_PROOF_LEN]);

/*
 * Whether proof[0..len) is the proof the end in role must send (constant-time
 * comparison).  False on any length other than WC_PROOF_LEN.
 */
bool wc_handshake_verify(const uint8_t *secret, size_t secret_len, wc_handshake_role role,
                         const wc_hello *initiator, const wc_hello *acceptor,
                         const uint8_t *proof, size_t len);

#endif /* WC_HANDSHAKE_H */
