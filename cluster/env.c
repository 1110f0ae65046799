/*
 * env.c - internode addresses: parsing and formatting "host:port".
 *
 * The environments themselves live in their own files (the simulator in
 * sim.c, the real event loop and TCP transport in theirs); this file holds
 * only what every environment and its users share: addresses (pure
 * functions, thread-safe) and formatted, rate-limited logging through an
 * environment's log op (on its loop).
 */
#include "env.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wc_status wc_addr_parse(const char *text, wc_addr *out)
{
    const char *host, *colon, *p;
    size_t hlen;
    unsigned long port;
    char *end;

    if (text == NULL || *text == '\0')
        return wc_error(WC_INVALID_ARGUMENT, "empty address: expected host:port");
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return wc_error(WC_INVALID_ARGUMENT,
                            "address \"%s\": an IPv6 literal is written [addr]:port", text);
        host = text + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return wc_error(WC_INVALID_ARGUMENT, "address \"%s\" has no port: expected host:port",
                            text);
        host = text;
        hlen = (size_t)(colon - text);
        if (memchr(host, ':', hlen) != NULL)
            return wc_error(WC_INVALID_ARGUMENT,
                            "address \"%s\": write an IPv6 literal in brackets, [addr]:port", text);
    }
    if (hlen == 0 || hlen >= WC_ADDR_HOST_MAX)
        return wc_error(WC_INVALID_ARGUMENT, "address \"%s\": the host must have 1 to %d characters",
                        text, WC_ADDR_HOST_MAX - 1);
    for (p = host; p < host + hlen; p++)
        if (*p <= ' ' || *p == ',' || *p == '/' || (unsigned char)*p >= 0x7f)
            return wc_error(WC_INVALID_ARGUMENT, "address \"%s\": invalid character in host", text);
    p = colon + 1;
    if (*p < '0' || *p > '9')
        return wc_error(WC_INVALID_ARGUMENT, "address \"%s\": the port must be a number", text);
    port = strtoul(p, &end, 10);
    if (*end != '\0' || port == 0 || port > 65535)
        return wc_error(WC_INVALID_ARGUMENT, "address \"%s\": the port must be 1 to 65535", text);
    memset(out, 0, sizeof(*out));
    memcpy(out->host, host, hlen);
    out->port = (uint16_t)port;
    return WC_OK;
}

void wc_addr_format(const wc_addr *a, char *out, size_t cap)
{
    if (cap == 0)
        return;
    if (strchr(a->host, ':') != NULL)
        snprintf(out, cap, "[%s]:%u", a->host, (unsigned)a->port);
    else
        snprintf(out, cap, "%s:%u", a->host, (unsigned)a->port);
}

bool wc_addr_equal(const wc_addr *a, const wc_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

void wc_env_logf(wc_env *env, wc_env_log_level level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    env->ops->log(env, level, line);
}

void wc_env_log_limited(wc_env *env, wc_env_log_limit *lim, const char *fmt, ...)
{
    uint64_t now = wc_env_now_ms(env);
    char line[400];
    va_list ap;

    if (lim->logged_ms != 0 && now - lim->logged_ms < WC_ENV_LOG_LIMIT_MS) {
        lim->suppressed++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    wc_env_logf(env, WC_ENV_LOG_WARNING, "%s (%" PRIu64 " more such messages not logged)", line,
                lim->suppressed);
    lim->logged_ms = now == 0 ? 1 : now;
    lim->suppressed = 0;
}
