/* cli_api.c — tided's REST API as the tide client sees it: requests, errors, waiting. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "cli/cli_http.h"
#include "common/errors.h"
#include "common/tide_json.h"

void cli_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        fprintf(stderr, "tide: error: %s\n", msg);
}

char *cli_escape(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        /* "." and ".." would be dot segments that clients and servers fold away. */
        bool dots = streq(s, ".") || streq(s, "..");
        char *r = xmalloc(strlen(s) * 3 + 1), *o = r;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                /* RFC 3986 unreserved characters pass; everything else is encoded. */
                if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                    (*p == '.' && !dots) || *p == '_' || *p == '~')
                        *o++ = (char) *p;
                else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        }
        *o = 0;
        return r;
}

/* Reports a transport failure, naming what we tried to reach and, for the unix socket, why
 * it is unreachable when the file system can say. */
static void report_transport_error(struct cli_ctx *ctx, int r, const char *msg) {
        const char *target = cli_http_target(ctx->http);
        if (r == -ECONNREFUSED && startswith(target, "unix socket ")) {
                const char *path = target + strlen("unix socket ");
                struct stat st;
                if (stat(path, &st) < 0) {
                        cli_error("cannot connect to tided at %s: %s (is tided running? "
                                  "--url and --socket choose another)",
                                  target, strerror(errno));
                        return;
                }
                if (access(path, W_OK) < 0) {
                        cli_error("cannot connect to tided at %s: %s (the socket is for root; "
                                  "use --url with a token otherwise)",
                                  target, strerror(errno));
                        return;
                }
        }
        if (r == -ECONNREFUSED)
                cli_error("cannot connect to tided at %s: %s", target, msg);
        else if (r == -ETIMEDOUT)
                cli_error("no answer from tided at %s in time: %s", target, msg);
        else
                cli_error("request to tided at %s failed: %s", target, msg);
}

/* Reports an HTTP error answer; returns the code for it. */
static int report_api_error(struct cli_ctx *ctx, const struct cli_http_response *resp, unsigned flags) {
        int r = resp->status == 404 ? TIDE_E_NOT_FOUND : -EPROTO;
        if (r == TIDE_E_NOT_FOUND && (flags & CLI_API_QUIET_NOT_FOUND))
                return r;

        _cleanup_json_ json_t *j = json_loadb(resp->body, resp->len, 0, NULL);
        const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
        const char *message = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        if (code && message) {
                _cleanup_free_ char *m = cli_sanitize(message), *c = cli_sanitize(code);
                cli_error("%s (%s)", m, c);
                if (resp->status == 401 && !cli_http_has_token(ctx->http))
                        fputs("tide: hint: give a token with --token or TIDE_TOKEN\n", stderr);
        } else {
                /* Not tided's error form: a proxy, or not tided at all. */
                _cleanup_free_ char *head = xstrndup(resp->body, 200);
                _cleanup_free_ char *h = cli_sanitize(head);
                cli_error("HTTP %ld from %s%s%s", resp->status, cli_http_target(ctx->http), *h ? ": " : "", h);
        }
        return r;
}

/* One request, with a JSON body or a form (parts: a POST), or neither. */
static int request_any(struct cli_ctx *ctx, const char *method, const char *path, const char *body,
                       const struct cli_http_part *parts, size_t n_parts, unsigned flags, int64_t timeout_ms,
                       struct cli_http_response *ret) {
        _cleanup_free_ char *msg = NULL;
        struct cli_http_response resp = {};
        int r = parts ? cli_http_post_form(ctx->http, path, parts, n_parts, &resp, &msg)
                      : cli_http_request(ctx->http, method, path, body, timeout_ms, &resp, &msg);
        if (r == -EINVAL) {
                cli_error("%s", msg);
                return r;
        }
        if (r < 0) {
                report_transport_error(ctx, r, msg);
                return r;
        }
        if (resp.status < 200 || resp.status > 299) {
                r = report_api_error(ctx, &resp, flags);
                cli_http_response_clear(&resp);
                return r;
        }
        *ret = resp;
        return (int) resp.status;
}

static int request(struct cli_ctx *ctx, const char *method, const char *path, const char *body, unsigned flags,
                   int64_t timeout_ms, struct cli_http_response *ret) {
        return request_any(ctx, method, path, body, NULL, 0, flags, timeout_ms, ret);
}

/* The JSON of an answer (none for an empty body) into *ret when ret is not NULL. */
static int answer_json(struct cli_ctx *ctx, const char *method, const char *path, struct cli_http_response *resp,
                       int status, json_t **ret) {
        _cleanup_json_ json_t *j = NULL;
        if (resp->len > 0) {
                json_error_t e;
                j = json_loadb(resp->body, resp->len, 0, &e);
                if (!j) {
                        cli_error("malformed JSON from %s (%s %s): %s", cli_http_target(ctx->http), method, path,
                                  e.text);
                        cli_http_response_clear(resp);
                        return -EPROTO;
                }
        }
        cli_http_response_clear(resp);
        if (ret)
                *ret = TAKE_PTR(j);
        return status;
}

int cli_api_upload(struct cli_ctx *ctx, const char *path, const struct cli_http_part *parts, size_t n, json_t **ret) {
        struct cli_http_response resp = {};
        int status = request_any(ctx, "POST", path, NULL, parts, n, 0, 0, &resp);
        if (status < 0)
                return status;
        return answer_json(ctx, "POST", path, &resp, status, ret);
}

int cli_api_call(struct cli_ctx *ctx, const char *method, const char *path, const json_t *body, unsigned flags,
                 int64_t timeout_ms, json_t **ret) {
        _cleanup_free_ char *text = NULL;
        if (body) {
                text = json_dumps(body, JSON_COMPACT);
                if (!text) {
                        cli_error("cannot encode the request as JSON");
                        return -EINVAL;
                }
        }
        struct cli_http_response resp = {};
        int status = request(ctx, method, path, text, flags, timeout_ms, &resp);
        if (status < 0)
                return status;
        return answer_json(ctx, method, path, &resp, status, ret);
}

int cli_api_get_text(struct cli_ctx *ctx, const char *path, char **ret_body, size_t *ret_len) {
        struct cli_http_response resp = {};
        int status = request(ctx, "GET", path, NULL, 0, 0, &resp);
        if (status < 0)
                return status;
        *ret_len = resp.len;
        *ret_body = TAKE_PTR(resp.body);
        cli_http_response_clear(&resp);
        return status;
}

enum cli_wait_state cli_wait_check(const json_t *instance, const char *want, char **ret_reason) {
        const json_t *task = json_object_get(instance, "task");
        if (task && !json_is_null(task))
                return CLI_WAIT_PENDING;

        const char *status = json_string_value(json_object_get(instance, "status"));
        if (status && streq(status, want))
                return CLI_WAIT_DONE;

        bool failed = status && streq(status, "error");
        /* A deleted instance disappears (GET answers 404, seen by the caller); until then,
         * only an error ends the wait. */
        if (streq(want, "deleted") && !failed)
                return CLI_WAIT_PENDING;

        /* Not there yet, but still asked for: the answer came before the work began. */
        const char *desired = json_string_value(json_object_get(instance, "desired"));
        if (!failed && desired && streq(desired, want))
                return CLI_WAIT_PENDING;

        if (failed) {
                const char *error = json_string_value(json_object_get(instance, "error"));
                *ret_reason = cli_sanitize(error ? error : "no reason given");
        } else {
                _cleanup_free_ char *s = cli_sanitize(status ? status : "unknown");
                *ret_reason = xasprintf("the operation ended with status '%s', not '%s'", s, want);
        }
        return CLI_WAIT_FAILED;
}

static int print_result(int r) {
        if (r < 0) {
                cli_error("cannot print the answer: %s", tide_strerror(r));
                return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
}

int cli_run_list(struct cli_ctx *ctx, const char *path, const char *key, const struct cli_column *cols, size_t ncols,
                 enum cli_format format) {
        _cleanup_json_ json_t *j = NULL;
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        const json_t *list = json_object_get(j, key);
        if (!json_is_array(list)) {
                cli_error("malformed answer from %s: no '%s' list", cli_http_target(ctx->http), key);
                return CLI_EXIT_FAILURE;
        }
        return print_result(cli_print_list(stdout, format, list, cols, ncols));
}

int cli_print_answer(struct cli_ctx *ctx, const json_t *obj, enum cli_format format) {
        if (!json_is_object(obj)) {
                cli_error("malformed answer from %s: not an object", cli_http_target(ctx->http));
                return CLI_EXIT_FAILURE;
        }
        return print_result(cli_print_object(stdout, format, obj));
}

int cli_run_show(struct cli_ctx *ctx, const char *collection, const char *name, enum cli_format format) {
        _cleanup_free_ char *e = cli_escape(name);
        _cleanup_free_ char *path = xasprintf("/v1/%s/%s", collection, e);
        _cleanup_json_ json_t *j = NULL;
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        return cli_print_answer(ctx, j, format);
}

int cli_run_delete(struct cli_ctx *ctx, const char *collection, const char *name) {
        _cleanup_free_ char *e = cli_escape(name);
        _cleanup_free_ char *path = xasprintf("/v1/%s/%s", collection, e);
        if (cli_api_call(ctx, "DELETE", path, NULL, 0, 0, NULL) < 0)
                return CLI_EXIT_FAILURE;
        return CLI_EXIT_OK;
}
