/*
 * env_test.c - internode addresses as users write them in widecol.seeds and
 * widecol.listen_address: parsed, refused with a reason, formatted back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "env.h"

static void expect_bad(const char *text, const char *detail)
{
    wc_addr a;

    if (wc_addr_parse(text, &a) != WC_INVALID_ARGUMENT)
        fail_msg("accepted \"%s\"", text);
    if (strstr(wc_last_error(), detail) == NULL)
        fail_msg("\"%s\": detail \"%s\" lacks \"%s\"", text, wc_last_error(), detail);
}

static void test_parse_and_format(void **state)
{
    wc_addr a, b;
    char buf[WC_ADDR_HOST_MAX + 16];

    (void)state;
    assert_int_equal(wc_addr_parse("127.0.0.1:7000", &a), WC_OK);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 7000);
    wc_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "127.0.0.1:7000");

    assert_int_equal(wc_addr_parse("[::1]:65535", &b), WC_OK);
    assert_string_equal(b.host, "::1");
    assert_int_equal(b.port, 65535);
    wc_addr_format(&b, buf, sizeof(buf));
    assert_string_equal(buf, "[::1]:65535");
    assert_false(wc_addr_equal(&a, &b));

    assert_int_equal(wc_addr_parse("node-2.example:7001", &b), WC_OK);
    assert_int_equal(wc_addr_parse("node-2.example:7001", &a), WC_OK);
    assert_true(wc_addr_equal(&a, &b));
    b.port = 7002;
    assert_false(wc_addr_equal(&a, &b));
}

static void test_refused(void **state)
{
    char longhost[WC_ADDR_HOST_MAX + 8];

    (void)state;
    expect_bad("", "empty");
    expect_bad("localhost", "no port");
    expect_bad(":7000", "1 to 63");
    expect_bad("host:", "must be a number");
    expect_bad("host:0", "1 to 65535");
    expect_bad("host:65536", "1 to 65535");
    expect_bad("host:70x", "1 to 65535");
    expect_bad("::1:7000", "brackets");
    expect_bad("[::1]7000", "[addr]:port");
    expect_bad("a b:7000", "invalid character");
    memset(longhost, 'h', WC_ADDR_HOST_MAX);
    strcpy(longhost + WC_ADDR_HOST_MAX, ":1");
    expect_bad(longhost, "1 to 63");
}

/* A fake environment: a settable clock and the last line logged. */
static uint64_t fake_now;
static char fake_line[600];
static int fake_lines;

static uint64_t fake_now_ms(wc_env *env)
{
    (void)env;
    return fake_now;
}

static void fake_log(wc_env *env, wc_env_log_level level, const char *msg)
{
    (void)env;
    assert_int_equal(level, WC_ENV_LOG_WARNING);
    snprintf(fake_line, sizeof(fake_line), "%s", msg);
    fake_lines++;
}

/* A peer's flood of bad messages gives one line per 10 s, with the count dropped. */
static void test_log_limited(void **state)
{
    wc_env_ops ops = {.now_ms = fake_now_ms, .log = fake_log};
    wc_env env = {.ops = &ops};
    wc_env_log_limit lim = {0};

    (void)state;
    fake_now = 1000;
    wc_env_log_limited(&env, &lim, "bad message %d", 1);
    assert_int_equal(fake_lines, 1);
    assert_string_equal(fake_line, "bad message 1 (0 more such messages not logged)");
    for (int i = 2; i <= 50; i++) {
        fake_now += 100;
        wc_env_log_limited(&env, &lim, "bad message %d", i);
    }
    assert_int_equal(fake_lines, 1); /* 4.9 s later: nothing more */
    fake_now = 1000 + WC_ENV_LOG_LIMIT_MS;
    wc_env_log_limited(&env, &lim, "bad message %d", 51);
    assert_int_equal(fake_lines, 2);
    assert_string_equal(fake_line, "bad message 51 (49 more such messages not logged)");
    fake_now += WC_ENV_LOG_LIMIT_MS - 1;
    wc_env_log_limited(&env, &lim, "bad message %d", 52);
    assert_int_equal(fake_lines, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_format),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_log_limited),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
