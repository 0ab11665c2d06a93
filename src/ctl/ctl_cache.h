/* ctl_cache.h — an in-memory copy of the keys under one prefix of the store, fed by a watch, so
 * that controllers and agents read what changed instead of listing everything every pass.
 *
 * The first sync reads the prefix with one range at revision R and watches from R + 1; later
 * syncs apply the watch's events. When the watch reports TIDE_E_COMPACTED (it fell behind the
 * history the store keeps) or fails, the next sync reads the prefix again at a new revision;
 * ctl_cache_resync forces that (a slow safety net). Values are kept parsed as JSON (NULL for a
 * value that is not JSON). One cache is used by one thread at a time. Backend-neutral. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct ctl_cache;

/* A cache of the keys under prefix (copied), read through s (borrowed; it must outlive the
 * cache). Reads nothing yet. */
struct ctl_cache *ctl_cache_new(struct store *s, const char *prefix);
/* Frees it; NULL is fine. */
void ctl_cache_free(struct ctl_cache *c);

/* Brings the cache up to date: the first call (and the first after a compaction, a failed watch
 * or ctl_cache_resync) reads the whole prefix; the others apply what the watch has, waiting at
 * most timeout_ms (>= 0) for a first change. Returns the number of keys read or changed (0:
 * nothing changed in the time), or the store's error (the cache then keeps what it had and the
 * next call reads the prefix again). */
int ctl_cache_sync(struct ctl_cache *c, int timeout_ms);
/* Makes the next sync read the whole prefix again. */
void ctl_cache_resync(struct ctl_cache *c);
/* The store revision the cache is current at (0 before the first sync). */
int64_t ctl_cache_revision(const struct ctl_cache *c);
/* How many keys it holds. */
size_t ctl_cache_size(const struct ctl_cache *c);
/* The value at key as JSON (borrowed: valid until the next sync; do not modify), or NULL when the
 * key is absent or not JSON. ret_mod_rev (may be NULL) gets the key's mod_rev (0 when absent). */
json_t *ctl_cache_get(const struct ctl_cache *c, const char *key, int64_t *ret_mod_rev);
/* The i-th key in key order (i < ctl_cache_size) and its value as JSON (NULL when not JSON);
 * borrowed until the next sync. */
const char *ctl_cache_key_at(const struct ctl_cache *c, size_t i);
json_t *ctl_cache_value_at(const struct ctl_cache *c, size_t i);
/* Every JSON value, in key order: ret gets a new array of new references (the objects are the
 * cache's: do not modify them). */
json_t *ctl_cache_values(const struct ctl_cache *c);
