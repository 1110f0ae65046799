/*
 * handshake_test.c - the internode HELLO round-trips and every malformed
 * one is refused; a peer of another version or cluster is refused with the
 * reason the log will show; a proof verifies only with the same secret, the
 * same role, the same nonces and the same addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "alloc.h"
#include "handshake.h"

static void make_hello(wc_hello *h, const char *cluster, const char *addr, uint8_t seed)
{
    memset(h, 0, sizeof(*h));
    h->version = 1;
    strcpy(h->cluster, cluster);
    assert_int_equal(wc_addr_parse(addr, &h->addr), WC_OK);
    for (int i = 0; i < WC_HOST_ID_LEN; i++)
        h->host_id[i] = (uint8_t)(seed + i);
    for (int i = 0; i < WC_NONCE_LEN; i++)
        h->nonce[i] = (uint8_t)(seed * 3 + i);
}

/* A hello of these name and address bytes (and a's ids) is refused, naming what. */
static void expect_malformed(const char *name, size_t nlen, const char *addr, const wc_hello *a,
                             const char *detail)
{
    wc_buf buf;
    wc_hello b;

    wc_buf_init(&buf);
    wc_buf_put_bytes(&buf, name, nlen);
    wc_buf_put_bytes(&buf, addr, strlen(addr));
    wc_buf_append(&buf, a->host_id, WC_HOST_ID_LEN);
    wc_buf_append(&buf, a->nonce, WC_NONCE_LEN);
    assert_int_equal(wc_hello_decode(buf.data, buf.len, 1, &b), WC_CORRUPTION);
    if (strstr(wc_last_error(), detail) == NULL)
        fail_msg("detail \"%s\" lacks \"%s\"", wc_last_error(), detail);
    wc_buf_free(&buf);
}

static void test_hello_roundtrip_and_truncation(void **state)
{
    wc_hello a, b;
    wc_buf buf;

    (void)state;
    make_hello(&a, "prod-eu", "10.0.0.7:7000", 5);
    wc_buf_init(&buf);
    wc_hello_encode(&a, &buf);
    assert_int_equal(wc_hello_decode(buf.data, buf.len, 1, &b), WC_OK);
    assert_memory_equal(&a, &b, sizeof(a));

    /* every truncation and one trailing byte are malformed */
    for (size_t n = 0; n < buf.len; n++)
        assert_int_equal(wc_hello_decode(buf.data, n, 1, &b), WC_CORRUPTION);
    wc_buf_put_u8(&buf, 0);
    assert_int_equal(wc_hello_decode(buf.data, buf.len, 1, &b), WC_CORRUPTION);
    wc_buf_free(&buf);

    /* a name with a quote, a NUL inside the name ("b\0x" must not pass as "b"), no port */
    expect_malformed("a\"b", 3, "h:1", &a, "cluster name");
    expect_malformed("b\0x", 3, "h:1", &a, "cluster name");
    expect_malformed("ab", 2, "host", &a, "listen address");
    assert_int_equal(wc_alloc_live_count(), 0);
}

static void test_check_reasons(void **state)
{
    wc_hello ours, theirs;
    char why[200];

    (void)state;
    make_hello(&ours, "b", "127.0.0.1:7001", 1);
    make_hello(&theirs, "b", "127.0.0.1:7002", 2);
    assert_int_equal(wc_hello_check(&ours, &theirs, why, sizeof(why)), WC_OK);
    strcpy(theirs.cluster, "a");
    assert_int_equal(wc_hello_check(&ours, &theirs, why, sizeof(why)), WC_INVALID_ARGUMENT);
    assert_string_equal(why, "cluster name \"a\" differs from ours \"b\"");
    theirs.version = 2;
    assert_int_equal(wc_hello_check(&ours, &theirs, why, sizeof(why)), WC_INVALID_ARGUMENT);
    assert_string_equal(why, "protocol version 2, we speak 1");

    assert_int_equal(wc_cluster_name_check(""), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_cluster_name_check("new\nline"), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_cluster_name_check("Test Cluster"), WC_OK);
}

static void test_proofs(void **state)
{
    const uint8_t secret[] = "s3cret", other[] = "s3cres";
    wc_hello ini, acc, ini2;
    uint8_t p[WC_PROOF_LEN], q[WC_PROOF_LEN];

    (void)state;
    make_hello(&ini, "c", "127.0.0.1:7001", 1);
    make_hello(&acc, "c", "127.0.0.1:7002", 2);
    assert_int_equal(wc_handshake_proof(secret, 6, WC_ROLE_INITIATOR, &ini, &acc, p), WC_OK);
    assert_true(wc_handshake_verify(secret, 6, WC_ROLE_INITIATOR, &ini, &acc, p, sizeof(p)));
    /* another secret, the other role (a reflected proof), a short proof */
    assert_false(wc_handshake_verify(other, 6, WC_ROLE_INITIATOR, &ini, &acc, p, sizeof(p)));
    assert_false(wc_handshake_verify(secret, 6, WC_ROLE_ACCEPTOR, &ini, &acc, p, sizeof(p)));
    assert_false(wc_handshake_verify(secret, 6, WC_ROLE_INITIATOR, &ini, &acc, p, sizeof(p) - 1));
    /* another nonce (a replay on a new connection), another claimed address */
    ini2 = ini;
    ini2.nonce[0] ^= 1;
    assert_false(wc_handshake_verify(secret, 6, WC_ROLE_INITIATOR, &ini2, &acc, p, sizeof(p)));
    ini2 = ini;
    ini2.addr.port = 7003;
    assert_false(wc_handshake_verify(secret, 6, WC_ROLE_INITIATOR, &ini2, &acc, p, sizeof(p)));
    /* no secret at all still gives a proof, different from a keyed one */
    assert_int_equal(wc_handshake_proof(NULL, 0, WC_ROLE_INITIATOR, &ini, &acc, q), WC_OK);
    assert_memory_not_equal(p, q, sizeof(p));
    assert_true(wc_handshake_verify(NULL, 0, WC_ROLE_INITIATOR, &ini, &acc, q, sizeof(q)));
    assert_int_equal(wc_alloc_live_count(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_roundtrip_and_truncation),
        cmocka_unit_test(test_check_reasons),
        cmocka_unit_test(test_proofs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
