/* sched_cache.h — placement's view of the hosts, kept in memory and fed by store watches.
 *
 * A struct sched_cache holds what sched_snapshot_read gives (every host record under
 * /tide/hosts/, merged with its liveness /tide/hostlive/, its operator settings
 * /tide/hostconf/, its usage /tide/alloc/ and its allocation revision, and the cluster's
 * /tide/config/placement), built once by reading the store and then changed key by key from
 * the store's watches: a change parses that one value and re-derives that one host, so a
 * placement at 10,000 hosts costs no JSON parsing of the others. The store stays the truth:
 * a claim made on the cache's view still commits with a transaction that compares the
 * revision of the host's allocation key and of every other key the decision rested on (its
 * record, settings, liveness and the placement config: sched_basis_cmps), so what commits is
 * what the store at the commit's revision allows on that host, however far the view lagged;
 * a caller that loses that race brings the cache up to date and decides again. The cache
 * reads everything at one revision (store_range_many) and watches each prefix from it; when
 * the watched history has been compacted away it reads everything again the same way.
 *
 * Each sched_cache_acquire catches up with the store first: every change committed before
 * the call (by this process or another one) is in the view it gives, so a decision on it is
 * the decision a fresh sched_snapshot_read would give. One holder at a time: the acquire
 * takes the cache's lock.
 *
 * Placements through one cache are serialised from decision to booking, not to commit: a
 * placement books its decision as a claim in flight (sched_cache_claim_begin: the host's usage
 * in the view includes it), gives the lock back, commits, and ends the claim
 * (sched_cache_claim_end: confirmed, or rolled back when the transaction did not commit). The
 * next placement decides meanwhile, seeing the claim; one that chooses a host with a claim in
 * flight waits for that claim to end and decides again (sched_cache_wait), so it never
 * commits against the revision the claim is replacing. While claims are in flight a
 * placement's acquire (sched_cache_acquire_to_claim) does not wait for the store, which is
 * busy with their commits: its view has the changes up to the last catch-up, which a commit's
 * thread runs when the last one is over 10 ms old; the compare on the allocation revision
 * keeps it correct, and a placement that lost a race catches up before deciding again.
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
struct sched_cache_claim;

/* Counters, for benchmarks, tests and metrics. */
struct sched_cache_stats {
        uint64_t reads;     /* reads of everything (the first included): one per compaction that overtook the watches */
        uint64_t lagging;   /* acquires that did not catch up because claims were in flight */
        uint64_t waits;     /* decisions that chose a host with a claim in flight and waited for it */
        uint64_t rollbacks; /* claims ended without a commit (a lost race, a name taken, an error) */
};

/* Makes a cache of placement's view of s (borrowed: it must outlive the cache). Nothing is
 * read yet: the first sched_cache_acquire reads every host. ret gets the cache
 * (sched_cache_free). Never fails but returns int like other constructors. */
int sched_cache_new(struct store *s, struct sched_cache **ret);
/* Stops its watches and frees it; NULL is fine. Not while a holder has it acquired nor while
 * a claim is in flight. */
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
/* sched_cache_acquire for a placement that will book its decision with
 * sched_cache_claim_begin. While other claims of this cache are in flight it catches up with
 * the store only when catch_up is true (a placement that lost a race); otherwise its view has
 * every change up to the last catch-up (the one after the latest commit that ended a claim,
 * or an acquire's), and every claim in flight. */
int sched_cache_acquire_to_claim(struct sched_cache *c, bool catch_up, struct sched_snapshot **ret);
/* Whether host i of the view has a claim in flight. Only while acquired. */
bool sched_cache_in_flight(struct sched_cache *c, size_t i);
/* Waits until the claim in flight on host i of the view ends, giving the lock up meanwhile:
 * on return the lock is held again and the view may have changed in any way (indices
 * included), so the caller decides again. Only while acquired. */
void sched_cache_wait(struct sched_cache *c, size_t i);
/* Books decision d of req on host i of the view (which has no claim in flight) as a claim in
 * flight: the host's usage in the view becomes its usage with the claim (sched_claim), and
 * stays so through watch events while the allocation is the one the decision saw
 * (alloc_rev[i], which the caller's transaction compares). *ret gets the claim; the caller
 * must end it with sched_cache_claim_end, after releasing the cache. Only while acquired. */
void sched_cache_claim_begin(struct sched_cache *c, size_t i, const struct sched_request *req,
                             const struct sched_decision *d, struct sched_cache_claim **ret);
/* Ends claim k (freed), not while acquired: used non-NULL when its transaction committed the
 * host's usage used (borrowed; sched_host_usage_to_json of the view's host with the claim) at
 * revision rev, and the view records it without reading it back; used NULL when it did not
 * commit, and the host is derived again from what the store has. Threads waiting for the
 * host wake. When other claims are still in flight it then catches up with the store (unless
 * another thread is doing so) so that their decisions see others' changes. */
void sched_cache_claim_end(struct sched_cache *c, struct sched_cache_claim *k, json_t *used, int64_t rev);
/* Gives the lock back. */
void sched_cache_release(struct sched_cache *c);

/* How many times the cache read everything (its first read included): each compaction that
 * overtook its watches adds one. For tests and metrics. */
uint64_t sched_cache_reads(struct sched_cache *c);
/* A copy of the counters. */
void sched_cache_stats(struct sched_cache *c, struct sched_cache_stats *ret);
