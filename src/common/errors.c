/* errors.c — names, texts and HTTP statuses of tide's error codes. */
#include "errors.h"

#include <errno.h>
#include <string.h>

static const struct {
        int code;
        const char *name;
        const char *text;
        int http;
} table[] = {
        { TIDE_E_NOT_FOUND, "not_found", "not found", 404 },
        { TIDE_E_EXISTS, "exists", "already exists", 409 },
        { TIDE_E_INVALID, "invalid", "invalid input", 400 },
        { TIDE_E_CONFLICT, "conflict", "conflicting change", 409 },
        { TIDE_E_UNAUTHORIZED, "unauthorized", "missing or invalid token", 401 },
        { TIDE_E_FORBIDDEN, "forbidden", "forbidden", 403 },
        { TIDE_E_TOO_LARGE, "too_large", "too large", 413 },
        { TIDE_E_NO_HOST, "no_valid_host", "no valid host", 409 },
        { TIDE_E_IN_USE, "in_use", "still in use", 409 },
        { TIDE_E_BACKEND, "backend", "backend failure", 502 },
        { TIDE_E_TIMEOUT, "timeout", "timed out", 504 },
        { TIDE_E_UNSUPPORTED, "unsupported", "not supported", 501 },
        { TIDE_E_COMPACTED, "compacted", "revision compacted", 410 },
        { TIDE_E_LEASE, "lease", "lease not found or expired", 404 },
        { TIDE_E_FENCED, "fenced", "written by a leader that no longer leads", 409 },
};

static int find(int code) {
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
                if (table[i].code == code)
                        return (int) i;
        return -1;
}

const char *tide_strerror(int error) {
        if (error == 0)
                return "success";
        int i = find(error);
        if (i >= 0)
                return table[i].text;
        if (error < 0 && error > TIDE_E_BASE)
                return strerror(-error);
        return "unknown error";
}

const char *tide_error_name(int error) {
        int i = find(error);
        if (i >= 0)
                return table[i].name;
        switch (error) {
        case -ENOENT:
                return "not_found";
        case -EINVAL:
                return "invalid";
        case -EEXIST:
                return "exists";
        case -E2BIG:
        case -EFBIG:
                return "too_large";
        case -EACCES:
        case -EPERM:
                return "forbidden";
        default:
                return "internal";
        }
}

int tide_error_http(int error) {
        int i = find(error);
        if (i >= 0)
                return table[i].http;
        switch (error) {
        case -ENOENT:
                return 404;
        case -EINVAL:
        case -ERANGE:
                return 400;
        case -EEXIST:
                return 409;
        case -E2BIG:
        case -EFBIG:
                return 413;
        case -EACCES:
        case -EPERM:
                return 403;
        default:
                return 500;
        }
}
