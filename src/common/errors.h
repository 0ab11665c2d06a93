/* errors.h — tide's error codes.
 *
 * Functions return int: >= 0 on success, a negative errno value or one of the project codes
 * below (all under -1000) on failure. tide_strerror() names every code; tide_error_http()
 * maps a code to its HTTP status and tide_error_name() to the API's "code" string. */
#pragma once

enum tide_error {
        TIDE_E_BASE = -1000,
        TIDE_E_NOT_FOUND = -1001,    /* no such object */
        TIDE_E_EXISTS = -1002,       /* an object of that name exists */
        TIDE_E_INVALID = -1003,      /* malformed or out-of-range input */
        TIDE_E_CONFLICT = -1004,     /* a compare-and-swap lost, or the object's state forbids it */
        TIDE_E_UNAUTHORIZED = -1005, /* missing or wrong token */
        TIDE_E_FORBIDDEN = -1006,
        TIDE_E_TOO_LARGE = -1007, /* body or value over its limit */
        TIDE_E_NO_HOST = -1008,   /* no valid host for an instance */
        TIDE_E_IN_USE = -1009,    /* still referenced by other objects */
        TIDE_E_BACKEND = -1010,   /* the store, libvirt or a helper program failed */
        TIDE_E_TIMEOUT = -1011,
        TIDE_E_UNSUPPORTED = -1012,
        TIDE_E_COMPACTED = -1013, /* a watch asked for revisions no longer kept */
        TIDE_E_LEASE = -1014,     /* no such lease, or it expired */
        TIDE_E_FENCED = -1015,    /* a write of a leader that no longer leads (store.h: store_fence_new) */
        TIDE_E_MIN = -1016,
};

/* Text for any code: negative errno or a tide code. Never NULL; static storage. */
const char *tide_strerror(int error);
/* The API's symbolic name of a code ("not_found", "invalid", ...). */
const char *tide_error_name(int error);
/* The HTTP status an API error with this code is sent with. */
int tide_error_http(int error);
