/* fuzz_api_path.c — tided's route matcher (api_route_match(), api_internal.h) on arbitrary
 * request paths, against every pattern of the real route tables (api_route_tables), as
 * api_dispatch() runs it.
 *
 * No libmicrohttpd server is started: only the matcher and, for paths no route takes,
 * api_dispatch() run. The query string and the percent-decoding of the path are
 * libmicrohttpd's (tided sees the decoded path without the query), and no handler runs (they
 * need a store); handlers' bodies are fuzz_model's.
 *
 * Input: "METHOD PATH" (the method up to the first space; without a space the method is GET
 * and the whole input is the path), cut at the first NUL as a C string from libmicrohttpd is.
 *
 * Checks, for every pattern that matches: the parameters are as many as the pattern's {}, each
 * non-empty and without '/', and putting them back into the pattern gives the path again; the
 * route api_dispatch() picks (the first of the method) is the only one of that method that
 * matches, so that no route is shadowed by another. When no route of the method matches,
 * api_dispatch() runs (it answers 404 or 405 without a handler) and its reply must be a JSON
 * error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "common/strbuf.h"
#include "common/util.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATH_MAX_FUZZ 8192

static void fail(const char *pattern, const char *path, const char *what) {
        fprintf(stderr, "fuzz_api_path: pattern '%s', path '%.200s': %s\n", pattern, path, what);
        abort();
}

static size_t holes(const char *pattern) {
        size_t n = 0;
        for (const char *p = pattern; (p = strstr(p, "{}")); p += 2)
                n++;
        return n;
}

/* The pattern with its {} replaced by params, in order. */
static char *fill(const char *pattern, const char **params, size_t n) {
        struct strbuf b = STRBUF_INIT(0);
        size_t k = 0;
        for (const char *p = pattern; *p;) {
                if (p[0] == '{' && p[1] == '}' && k < n) {
                        strbuf_puts(&b, params[k++]);
                        p += 2;
                } else
                        strbuf_append(&b, p++, 1);
        }
        return strbuf_steal(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > PATH_MAX_FUZZ)
                return 0;
        char *in = xstrndup((const char *) data, size); /* up to the first NUL */
        char *sp = strchr(in, ' ');
        const char *method = sp ? in : "GET", *url = sp ? sp + 1 : in;
        if (sp)
                *sp = 0;

        const struct api_route *chosen = NULL;
        for (size_t t = 0; t < api_n_route_tables; t++)
                for (const struct api_route *r = api_route_tables[t]; r->method; r++) {
                        const char *params[4] = { 0 };
                        char pbuf[1024];
                        if (!api_route_match(r->pattern, url, params, pbuf, sizeof pbuf))
                                continue;
                        size_t n = holes(r->pattern);
                        for (size_t i = 0; i < ELEMENTSOF(params); i++) {
                                if ((i < n) != (params[i] != NULL))
                                        fail(r->pattern, url, "parameters other than the pattern's {}");
                                if (params[i] && (!*params[i] || strchr(params[i], '/')))
                                        fail(r->pattern, url, "an empty parameter or one with '/'");
                        }
                        char *back = fill(r->pattern, params, n);
                        if (!streq(back, url))
                                fail(r->pattern, url, "the parameters do not give the path back");
                        free(back);
                        if (streq(r->method, method)) {
                                if (chosen)
                                        fail(r->pattern, url,
                                             "a second route of the same method matches "
                                             "(the first shadows it)");
                                chosen = r;
                        }
                }
        if (!chosen) {
                struct api_request_state st = { .body = STRBUF_INIT(API_BODY_MAX) };
                struct api_reply rep = { 0 };
                api_dispatch(NULL, NULL, method, url, &st, &rep);
                if (rep.status != 404 && rep.status != 405)
                        fail("(none)", url, "api_dispatch() without a route answers neither 404 nor 405");
                /* The message holds the path, which need not be UTF-8: still a JSON reply. */
                if (!json_is_string(json_object_get(json_object_get(rep.json, "error"), "message")))
                        fail("(none)", url, "api_dispatch()'s error reply has no JSON error message");
                json_decref(rep.json);
        }
        free(in);
        return 0;
}
