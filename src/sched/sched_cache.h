/* sched_cache.h — placement's view of the hosts, kept in memory and fed by store watches.
 *
 * A struct sched_cache holds what sched_snapshot_read gives (every host record under
 * /tide/hosts/, merged with its liveness /tide/hostlive/, its operator settings
 * /tide/hostconf/, its usage /tide/alloc/ and its allocation revision, and the cluster's
 * /tide/config/placement), built once by reading the store and then changed key by key from
 * the store's watches: a change parses that one value and re-derives that one host, so a
 * placement at 10,000 hosts costs no JSON parsing of the others. The store stays the truth:
 * a claim made on the cache's view still commits with a transaction that compares the
 * revision of the host's allocation key, and a caller that loses that race brings the cache
 * up to date and decides again. When the watched history has been compacted away the cache
 * reads everything again (store_range) and watches from the revision it read at.
 *
 * Each sched_cache_acquire catches up with the store first: every change committed before
 * the call (by this process or another one) is in the view it gives, so a decision on it is
 * the decision a fresh sched_snapshot_read would give. One holder at a time: the acquire
 * takes the cache's lock, and placements of one process through one cache are serialised
 * from decision to commit (the store's writes are serialised anyway); that is what keeps two
 * threads of one tided from racing each other for the same host.
 *
 * A cache is owned by whoever owns the store handle (tided creates it after store_open and
 * frees it before store_free) and is passed down explicitly; callers without one (tests,
 * tools) pass NULL to the sched_store functions, which then read a fresh snapshot per
 * placement. It does store I/O; it never logs. */
#pragma once

#include <stdint.h>

#include "sched/sched_store.h"
#include "store/store.h"

struct sched_cache;

/* Makes a cache of placement's view of s (borrowed: it must outlive the cache). Nothing is
 * read yet: the first sched_cache_acquire reads every host. ret gets the cache
 * (sched_cache_free). Never fails but returns int like other constructors. */
int sched_cache_new(struct store *s, struct sched_cache **ret);
/* Stops its watches and frees it; NULL is fine. Not while a holder has it acquired. */
void sched_cache_free(struct sched_cache *c);

/* Takes the cache's lock and brings it up to date with the store (reading everything on the
 * first call and after a compaction). On success *ret points to the cache's snapshot:
 * hosts, their merged JSON, their allocation revisions and the config, valid until
 * sched_cache_release; the caller must not clear it, and a caller that changes a host in it
 * puts it back as it was before releasing. On failure (a store error) the lock is not held
 * and the cache is as it was, to be caught up by the next call. */
int sched_cache_acquire(struct sched_cache *c, struct sched_snapshot **ret);
/* Records what the holder committed: host i of the view now has the usage of h (the view's
 * host i with a claim or release booked by sched_claim/sched_release, so synced), whose JSON
 * (sched_host_usage_to_json) is used, put at revision rev by the holder's transaction that
 * compared the host's allocation revision. The view then equals a fresh read's without
 * reading the change back. Only while acquired. */
void sched_cache_claimed(struct sched_cache *c, size_t i, const struct sched_host *h, json_t *used, int64_t rev);
/* Gives the lock back. */
void sched_cache_release(struct sched_cache *c);

/* How many times the cache read everything (its first read included): each compaction that
 * overtook its watches adds one. For tests and metrics. */
uint64_t sched_cache_reads(struct sched_cache *c);
