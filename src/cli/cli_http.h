/* cli_http.h — the tide client's HTTP transport (libcurl), over TCP or tided's unix socket.
 *
 * One struct cli_http is one curl handle, reused across requests so that polling keeps its
 * connection. It knows nothing of the API's JSON: it sends bytes and hands back the status,
 * the content type and the body (capped at CLI_HTTP_BODY_MAX). It does not print; failures
 * come back as -errno with a message for the caller to report. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Largest answer body accepted; a larger one fails the request with -EFBIG. */
#define CLI_HTTP_BODY_MAX ((size_t) 16 * 1024 * 1024)

struct cli_http;

struct cli_http_response {
        long status;
        char *content_type; /* NULL when the server sent none */
        char *body;         /* NUL-terminated, never NULL after a successful request */
        size_t len;
};

/* Creates a client. With url (e.g. "http://127.0.0.1:7480"; a trailing "/" or "/v1" is
 * dropped) requests go there over TCP; without, to http://localhost over the unix socket
 * socket_path (required then). token (may be NULL) is sent as "Authorization: Bearer".
 * Strings are copied. Returns 0 with *ret set, or -ENOMEM when curl cannot start. */
int cli_http_new(const char *url, const char *socket_path, const char *token, struct cli_http **ret);
void cli_http_free(struct cli_http *h);
static inline void cli_http_freep(struct cli_http **h) {
        cli_http_free(*h);
}
#define _cleanup_http_ _cleanup_(cli_http_freep)

/* What the client talks to, for messages: the URL, or "unix socket PATH". Owned by h. */
const char *cli_http_target(const struct cli_http *h);
/* Whether a token will be sent. */
bool cli_http_has_token(const struct cli_http *h);

/* Sends METHOD path (starting with "/", query included) with body (NULL for none; sent as
 * application/json) and waits at most timeout_ms (0: no limit) for the whole answer.
 * Returns 0 with *ret filled (caller clears it with cli_http_response_clear()), whatever the
 * HTTP status; or a transport failure: -ECONNREFUSED (cannot connect), -ETIMEDOUT, -EFBIG
 * (body over the cap), -EIO (anything else), with *ret_error a new message (caller frees). */
int cli_http_request(struct cli_http *h, const char *method, const char *path, const char *body, int64_t timeout_ms,
                     struct cli_http_response *ret, char **ret_error);

/* One part of a multipart/form-data body: a text field (value) or a file's content (file, a
 * path, streamed from disk as it is sent, never read whole into memory). */
struct cli_http_part {
        const char *name;
        const char *value;
        const char *file;
};

/* POSTs parts[0..n) as multipart/form-data to path, with no deadline (an upload takes what it
 * takes) but failing when nothing moves for two minutes. The server may refuse before the body
 * is sent (the client waits for "100 Continue"). Returns as cli_http_request(); -EINVAL with
 * *ret_error when a file cannot be read. */
int cli_http_post_form(struct cli_http *h, const char *path, const struct cli_http_part *parts, size_t n,
                       struct cli_http_response *ret, char **ret_error);

void cli_http_response_clear(struct cli_http_response *r);
