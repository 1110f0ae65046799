/*
 * coordinator_index.h - the coordinator's secondary-index reads
 * (wc_coord_index_read in coordinator.h), kept apart from coordinator.c as
 * counter_leader.c is: the coordinator hands it the index messages (types
 * 20..23, coordinator_index_format.h) and stops it when it is destroyed.
 *
 * Thread-safety: none; everything runs on the coordinator's loop.
 */
#ifndef WC_COORDINATOR_INDEX_H
#define WC_COORDINATOR_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "coordinator.h"

typedef struct wc__ixreads wc__ixreads;

/* in coordinator_index.c, called by coordinator.c */

/*
 * A message of types 20..23: the replica side of INDEX_QUERY (answered
 * from the store's index_keys, INDEX_KEYS with WC_NOT_FOUND when the store
 * has none) or a replica's INDEX_KEYS.  Malformed ones are counted and
 * dropped.
 */
void wc__index_on_message(wc_coord *c, const wc_addr *from, const uint8_t *msg, size_t len);
/*
 * Step of wc_coord_destroy, after the coordinator's own requests ended:
 * every index read still waiting for keys ends with WC_UNAVAILABLE, and
 * everything is freed.
 */
void wc__index_stop(wc_coord *c);

/* in coordinator.c, for coordinator_index.c */

wc__ixreads **wc__coord_ixreads(wc_coord *c);

#endif /* WC_COORDINATOR_INDEX_H */
