/*
 * transfer.h - handing token ranges to the nodes that take them over: a
 * node asks a target to pull ranges of tables from a source with the
 * streaming of stream.h, and waits for the target's report.  Decommission
 * asks each new owner to pull from the leaving node; removenode asks each
 * new owner to pull from a surviving replica (cluster.h).
 *
 * TRANSFER_ASK (transfer_format.h) names the session, the source and the
 * ranges.  The target starts wc_stream_pull under that name (resuming from
 * the session's progress file) unless a session of that name runs already,
 * and sends TRANSFER_DONE with the outcome, the rows and the bytes applied
 * when it ends.  The asker repeats the ASK every resend_ms until the DONE
 * arrives: a lost message is asked again, a repeated ASK finds the session
 * running (it answers the newest asker), or finished with the same ranges
 * (the kept outcome is sent again at once), or starts it again (a target
 * that restarted resumes).  After timeout_ms without an answer the ask
 * ends with WC_TIMEOUT.  A target that is this node pulls directly.
 *
 * Thread-safety: a wc_transfer lives on its node's loop (env.h); every
 * call and callback runs there.
 */
#ifndef WC_TRANSFER_H
#define WC_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "status.h"
#include "stream.h"
#include "transfer_format.h"

#define WC_TRANSFER_RESEND_MS 5000u

typedef struct wc_transfer wc_transfer;

/* The end of an ask: WC_OK when the target has every range; rows and bytes it applied. */
typedef void (*wc_transfer_done_cb)(void *arg, wc_status st, uint64_t rows, uint64_t bytes,
                                    const char *detail);

/* API */

/*
 * Range transfers over stream (which stays the caller's; it must outlive
 * *out).  resend_ms 0: WC_TRANSFER_RESEND_MS.  WC_NO_MEMORY.  Caller
 * destroys *out.
 */
wc_status wc_transfer_create(wc_env *env, wc_stream *stream, uint32_t resend_ms,
                             wc_transfer **out);
/*
 * Free everything; the asks still waiting end without their done being
 * called.  REQUIRES: called before the stream is destroyed.  NULL is
 * ignored.
 */
void wc_transfer_destroy(wc_transfer *t);
/*
 * A message of types 66..71 from *from.  Returns false for another type.
 * Malformed messages are dropped (logged at most every 10 s).
 */
bool wc_transfer_on_message(wc_transfer *t, const wc_addr *from, const uint8_t *msg, size_t len);
/*
 * Ask target to pull ranges[0..n) (copied; see wc_stream_range, pos and
 * done ignored) from source as stream session name (stream.h's rules for
 * names).  done runs once, on the loop, after the call returned.
 * WC_INVALID_ARGUMENT (no ranges, a bad name, a range with start >= end,
 * too many ranges for one message), WC_NO_MEMORY.
 */
wc_status wc_transfer_ask(wc_transfer *t, const wc_addr *target, const char *name,
                          const wc_addr *source, const wc_stream_range *ranges, size_t n,
                          uint64_t timeout_ms, wc_transfer_done_cb done, void *arg);

#endif /* WC_TRANSFER_H */
