/*
 * env.c - internode addresses: parsing and formatting "host:port".
 *
 * The environments themselves live in their own files (the simulator in
 * sim.c, the real event loop and TCP transport in theirs); this file holds
 * only what every environment and its users share.  Pure functions:
 * thread-safe.
 */
#include "env.h"

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
