/* tide_json.c — see tide_json.h. */
#include "common/tide_json.h"

#include <stdlib.h>

const char *tide_json_str(const json_t *o, const char *key, const char *def) {
        json_t *v = json_object_get(o, key);
        return json_is_string(v) ? json_string_value(v) : def;
}

int64_t tide_json_int(const json_t *o, const char *key, int64_t def) {
        json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? (int64_t) json_integer_value(v) : def;
}

bool tide_json_bool(const json_t *o, const char *key, bool def) {
        json_t *v = json_object_get(o, key);
        return json_is_boolean(v) ? json_is_true(v) : def;
}

char *tide_json_dump(const json_t *o) {
        char *s = json_dumps(o, JSON_COMPACT);
        if (!s)
                abort(); /* only fails on allocation */
        return s;
}
