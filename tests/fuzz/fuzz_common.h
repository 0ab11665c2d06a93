/* fuzz_common.h — what the harnesses share. */
#pragma once

#include <stdbool.h>
#include <stdlib.h>

#include <jansson.h>
#include <string.h>

#include "common/util.h"

/* Whether s, an error message, goes into a JSON reply: api_error() makes it valid UTF-8 (a
 * "%.64s" may cut a character in two) before json_pack(). */
static inline bool fuzz_message_ok(const char *s) {
        if (!s || !*s)
                return false;
        char *c = strdup(s);
        utf8_make_valid(c);
        json_t *j = json_string(c);
        free(c);
        json_decref(j);
        return j != NULL;
}
