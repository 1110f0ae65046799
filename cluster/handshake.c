/*
 * handshake.c - HELLO encoding and checks, and the HMAC-SHA256 proofs of
 * the internode handshake (handshake.h).
 */
#include "handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "frame_format.h"

wc_status wc_cluster_name_check(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= WC_CLUSTER_NAME_MAX)
        return wc_error(WC_INVALID_ARGUMENT, "the cluster name must have 1 to %d characters",
                        WC_CLUSTER_NAME_MAX - 1);
    for (size_t i = 0; i < n; i++)
        if (name[i] < ' ' || name[i] > '~' || name[i] == '"' || name[i] == '\\')
            return wc_error(WC_INVALID_ARGUMENT,
                            "the cluster name may hold only printable ASCII without '\"' or '\\'");
    return WC_OK;
}

void wc_hello_encode(const wc_hello *h, wc_buf *out)
{
    char addr[WC_ADDR_HOST_MAX + 16];

    wc_addr_format(&h->addr, addr, sizeof(addr));
    wc_buf_put_bytes(out, h->cluster, strlen(h->cluster));
    wc_buf_put_bytes(out, addr, strlen(addr));
    wc_buf_append(out, h->host_id, WC_HOST_ID_LEN);
    wc_buf_append(out, h->nonce, WC_NONCE_LEN);
}

wc_status wc_hello_decode(const uint8_t *p, size_t len, uint8_t version, wc_hello *h)
{
    const uint8_t *end = p + len, *name, *addr;
    size_t nlen, alen;
    char text[WC_ADDR_HOST_MAX + 16];

    memset(h, 0, sizeof(*h));
    h->version = version;
    if (!wc_get_bytes(&p, end, &name, &nlen) || !wc_get_bytes(&p, end, &addr, &alen))
        return wc_error(WC_CORRUPTION, "malformed hello: truncated");
    if (nlen == 0 || nlen >= WC_CLUSTER_NAME_MAX || memchr(name, '\0', nlen) != NULL)
        return wc_error(WC_CORRUPTION, "malformed hello: cluster name of %zu bytes", nlen);
    memcpy(h->cluster, name, nlen);
    if (wc_cluster_name_check(h->cluster) != WC_OK)
        return wc_error(WC_CORRUPTION, "malformed hello: invalid cluster name");
    if (alen == 0 || alen >= sizeof(text))
        return wc_error(WC_CORRUPTION, "malformed hello: listen address of %zu bytes", alen);
    memcpy(text, addr, alen);
    text[alen] = '\0';
    if (memchr(text, '\0', alen) != NULL || wc_addr_parse(text, &h->addr) != WC_OK)
        return wc_error(WC_CORRUPTION, "malformed hello: invalid listen address");
    if ((size_t)(end - p) != WC_HOST_ID_LEN + WC_NONCE_LEN)
        return wc_error(WC_CORRUPTION, "malformed hello: %zu bytes after the addresses, want %d",
                        (size_t)(end - p), WC_HOST_ID_LEN + WC_NONCE_LEN);
    memcpy(h->host_id, p, WC_HOST_ID_LEN);
    memcpy(h->nonce, p + WC_HOST_ID_LEN, WC_NONCE_LEN);
    return WC_OK;
}

wc_status wc_hello_check(const wc_hello *ours, const wc_hello *theirs, char *why, size_t cap)
{
    if (theirs->version != ours->version) {
        snprintf(why, cap, "protocol version %u, we speak %u", (unsigned)theirs->version,
                 (unsigned)ours->version);
        return WC_INVALID_ARGUMENT;
    }
    if (strcmp(theirs->cluster, ours->cluster) != 0) {
        snprintf(why, cap, "cluster name \"%s\" differs from ours \"%s\"", theirs->cluster,
                 ours->cluster);
        return WC_INVALID_ARGUMENT;
    }
    if (why != NULL && cap > 0)
        why[0] = '\0';
    return WC_OK;
}

wc_status wc_handshake_proof(const uint8_t *secret, size_t secret_len, wc_handshake_role role,
                             const wc_hello *initiator, const wc_hello *acceptor,
                             uint8_t proof[WC_PROOF_LEN])
{
    static const uint8_t no_key[1];
    char addr[WC_ADDR_HOST_MAX + 16];
    unsigned int mdlen = 0;
    wc_buf in;
    wc_status st = WC_OK;

    wc_buf_init(&in);
    wc_buf_put_u8(&in, (uint8_t)role);
    wc_buf_append(&in, initiator->nonce, WC_NONCE_LEN);
    wc_buf_append(&in, acceptor->nonce, WC_NONCE_LEN);
    wc_buf_put_bytes(&in, initiator->cluster, strlen(initiator->cluster));
    wc_addr_format(&initiator->addr, addr, sizeof(addr));
    wc_buf_put_bytes(&in, addr, strlen(addr));
    wc_addr_format(&acceptor->addr, addr, sizeof(addr));
    wc_buf_put_bytes(&in, addr, strlen(addr));
    wc_buf_append(&in, initiator->host_id, WC_HOST_ID_LEN);
    wc_buf_append(&in, acceptor->host_id, WC_HOST_ID_LEN);
    if ((st = wc_buf_status(&in)) != WC_OK)
        goto fail;
    if (HMAC(EVP_sha256(), secret_len > 0 ? secret : no_key, (int)secret_len, in.data, in.len,
             proof, &mdlen) == NULL ||
        mdlen != WC_PROOF_LEN) {
        st = wc_error(WC_NO_MEMORY, "HMAC-SHA256 failed in libcrypto");
        goto fail;
    }
fail:
    wc_buf_free(&in);
    return st;
}

bool wc_handshake_verify(const uint8_t *secret, size_t secret_len, wc_handshake_role role,
                         const wc_hello *initiator, const wc_hello *acceptor,
                         const uint8_t *proof, size_t len)
{
    uint8_t want[WC_PROOF_LEN];

    if (len != WC_PROOF_LEN)
        return false;
    if (wc_handshake_proof(secret, secret_len, role, initiator, acceptor, want) != WC_OK)
        return false;
    return CRYPTO_memcmp(want, proof, WC_PROOF_LEN) == 0;
}
