/* tide_json.h — tide's small helpers around jansson: typed member accessors with a default,
 * compact serialisation, and a cleanup attribute that drops a reference at scope exit. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

/* Member key of o as a string, integer or boolean: a missing or mistyped member (or an o that
 * is not an object, or NULL) gives def. A string stays owned by o. */
const char *tide_json_str(const json_t *o, const char *key, const char *def);
int64_t tide_json_int(const json_t *o, const char *key, int64_t def);
bool tide_json_bool(const json_t *o, const char *key, bool def);
/* Serialises compactly; caller frees. Aborts only when memory runs out. */
char *tide_json_dump(const json_t *o);

static inline void tide_json_decrefp(json_t **p) {
        json_decref(*p);
}
/* A json_t * that holds a reference until the end of its scope (NULL is fine); hand it on with
 * TAKE_PTR. */
#define _cleanup_json_ _cleanup_(tide_json_decrefp)
