/*
 * status.c - status names and the thread-local failure detail.
 */
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static __thread char wc__errbuf[512];

const char *wc_status_name(wc_status st)
{
    switch (st) {
    case WC_OK: return "ok";
    case WC_NOT_FOUND: return "not-found";
    case WC_CORRUPTION: return "corruption";
    case WC_IO_ERROR: return "io-error";
    case WC_INVALID_ARGUMENT: return "invalid-argument";
    case WC_UNAVAILABLE: return "unavailable";
    case WC_TIMEOUT: return "timeout";
    case WC_OVERLOADED: return "overloaded";
    case WC_NO_MEMORY: return "no-memory";
    case WC_EXISTS: return "exists";
    case WC_NO_SPACE: return "no-space";
    }
    return "unknown";
}

wc_status wc_error(wc_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(wc__errbuf, sizeof(wc__errbuf), fmt, ap);
    va_end(ap);
    return st;
}

wc_status wc_error_errno(int err, const char *fmt, ...)
{
    va_list ap;
    size_t n;
    wc_status st;

    va_start(ap, fmt);
    vsnprintf(wc__errbuf, sizeof(wc__errbuf), fmt, ap);
    va_end(ap);
    n = strlen(wc__errbuf);
    if (n < sizeof(wc__errbuf) - 2)
        snprintf(wc__errbuf + n, sizeof(wc__errbuf) - n, ": %s", strerror(err));
    if (err == ENOENT)
        st = WC_NOT_FOUND;
    else if (err == ENOSPC || err == EDQUOT)
        st = WC_NO_SPACE;
    else if (err == ENOMEM)
        st = WC_NO_MEMORY;
    else if (err == EEXIST)
        st = WC_EXISTS;
    else
        st = WC_IO_ERROR;
    return st;
}

const char *wc_last_error(void)
{
    return wc__errbuf;
}

void wc_clear_error(void)
{
    wc__errbuf[0] = '\0';
}
