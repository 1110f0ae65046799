/*
 * status.h - status values returned by every engine and cluster function.
 *
 * The engine never aborts and never reports through PostgreSQL: a function
 * returns a wc_status and, on failure, may record a human-readable detail in a
 * thread-local buffer read with wc_last_error().  The detail is overwritten by
 * the next failure on the same thread.  Thread-safe.
 */
#ifndef WC_STATUS_H
#define WC_STATUS_H

#include <stdarg.h>

typedef enum wc_status {
    WC_OK = 0,
    WC_NOT_FOUND,        /* key, table or file does not exist */
    WC_CORRUPTION,       /* checksum mismatch, bad length, bad magic */
    WC_IO_ERROR,         /* the file system reported an error (errno kept) */
    WC_INVALID_ARGUMENT, /* caller passed something malformed or out of range */
    WC_UNAVAILABLE,      /* not enough replicas / engine closed */
    WC_TIMEOUT,          /* a deadline passed */
    WC_OVERLOADED,       /* too much pending work; retry later */
    WC_NO_MEMORY,        /* an allocation failed */
    WC_EXISTS,           /* object already exists */
    WC_NO_SPACE,         /* ENOSPC / EDQUOT */
} wc_status;

/* API */

/* Short constant name of a status ("corruption"). Never NULL. */
const char *wc_status_name(wc_status st);

/*
 * Record a formatted detail for the calling thread and return st, so that
 * callers can write `return wc_error(WC_CORRUPTION, "bad block at %llu", off);`.
 */
wc_status wc_error(wc_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like wc_error but appends ": strerror(err)" and maps errno to a status. */
wc_status wc_error_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Detail of the calling thread's last failure ("" if none). */
const char *wc_last_error(void);

/* Clear the calling thread's detail. */
void wc_clear_error(void);

#endif /* WC_STATUS_H */
