/* api_server.c — libmicrohttpd servers on TCP and on the unix socket, body limits, the bearer
 * token check, route dispatch and JSON error replies. */
#include "api.h"
#include "api/api_images.h"
#include "api/api_internal.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"

struct listener {
        struct api *api;
        bool need_token;
};

struct api {
        struct api_config cfg;
        struct MHD_Daemon *tcp, *local;
        struct listener tcp_l, local_l;
        char *socket_path;
};

const struct api_route *const api_route_tables[] = {
        api_flavor_routes,        api_image_routes, api_instance_routes,  api_host_routes,    api_server_group_routes,
        api_scaling_group_routes, api_stack_routes, api_placement_routes, api_metrics_routes, api_network_routes,
};
const size_t api_n_route_tables = ELEMENTSOF(api_route_tables);

struct store *api_store(struct api_request *req) {
        return req->api->cfg.store;
}
const struct api_config *api_config(struct api_request *req) {
        return &req->api->cfg;
}

const char *api_query(struct api_request *req, const char *key) {
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

int api_json(struct api_reply *rep, int status, json_t *json) {
        json_decref(rep->json);
        rep->status = status;
        rep->json = json;
        return 0;
}

int api_error(struct api_reply *rep, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        /* A %.Ns may cut a character in two, and paths and tools' output are not ours: the
         * message must still go out as JSON. */
        utf8_make_valid(msg);
        api_json(rep, tide_error_http(code),
                 json_pack("{s:{s:s, s:s}}", "error", "code", tide_error_name(code), "message", msg));
        return code;
}

bool api_route_match(const char *pattern, const char *path, const char **params, char *buf, size_t bufsz) {
        size_t np = 0, used = 0;
        const char *p = pattern, *s = path;
        while (*p && *s) {
                if (p[0] == '{' && p[1] == '}') {
                        const char *end = strchr(s, '/');
                        size_t n = end ? (size_t) (end - s) : strlen(s);
                        if (n == 0 || np >= 4 || used + n + 1 > bufsz)
                                return false;
                        memcpy(buf + used, s, n);
                        buf[used + n] = 0;
                        params[np++] = buf + used;
                        used += n + 1;
                        s += n;
                        p += 2;
                } else if (*p++ != *s++)
                        return false;
        }
        return !*p && !*s;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct api_reply *rep) {
        struct MHD_Response *resp;
        if (rep->json) {
                char *s = json_dumps(rep->json, JSON_COMPACT | JSON_REAL_PRECISION(10));
                size_t n = strlen(s);
                s = xrealloc(s, n + 2);
                s[n] = '\n';
                s[n + 1] = 0;
                resp = MHD_create_response_from_buffer(n + 1, s, MHD_RESPMEM_MUST_FREE);
                MHD_add_response_header(resp, "Content-Type", "application/json");
        } else if (rep->text) {
                resp = MHD_create_response_from_buffer(rep->text_len, TAKE_PTR(rep->text), MHD_RESPMEM_MUST_FREE);
                MHD_add_response_header(resp, "Content-Type",
                                        rep->content_type ? rep->content_type : "text/plain; charset=utf-8");
        } else if (rep->has_file) {
                /* Streamed from the file as the client takes it; MHD closes the fd. */
                resp = MHD_create_response_from_fd64(rep->file_size, rep->file_fd);
                if (!resp) {
                        close(rep->file_fd);
                        return MHD_NO;
                }
                MHD_add_response_header(resp, "Content-Type",
                                        rep->content_type ? rep->content_type : "application/octet-stream");
        } else
                resp = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret = MHD_queue_response(conn, (unsigned) rep->status, resp);
        MHD_destroy_response(resp);
        json_decref(rep->json);
        free(rep->text);
        return ret;
}

static bool token_ok(struct MHD_Connection *conn, const char *token) {
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h || !startswith(h, "Bearer "))
                return false;
        const char *given = h + 7;
        size_t a = strlen(given), b = strlen(token);
        /* Constant-time compare: the timing must not tell how much of a guess was right. */
        unsigned char diff = a != b;
        for (size_t i = 0; i < b; i++)
                diff |= (unsigned char) (token[i] ^ (i < a ? given[i] : 0));
        return diff == 0;
}

void api_dispatch(struct api *api, struct MHD_Connection *conn, const char *method, const char *url,
                  struct api_request_state *st, struct api_reply *rep) {
        struct api_request req = { .method = method, .path = url, .api = api, .conn = conn };
        if (st->too_large) {
                api_error(rep, TIDE_E_TOO_LARGE, "request body over %d bytes", API_BODY_MAX);
                return;
        }
        char pbuf[1024];
        bool path_known = false;
        const struct api_route *route = NULL;
        for (size_t t = 0; t < api_n_route_tables && !route; t++)
                for (const struct api_route *r = api_route_tables[t]; r->method && !route; r++) {
                        if (!api_route_match(r->pattern, url, req.params, pbuf, sizeof pbuf))
                                continue;
                        path_known = true;
                        if (streq(r->method, method))
                                route = r;
                }
        if (!route) {
                if (path_known) {
                        api_json(rep, 405,
                                 json_pack("{s:{s:s, s:s}}", "error", "code", "method_not_allowed", "message",
                                           "method not allowed on this path"));
                } else
                        api_error(rep, TIDE_E_NOT_FOUND, "no such path: %.200s", url);
                return;
        }
        if (st->body.len > 0) {
                json_error_t jerr;
                req.body = json_loadb(st->body.buf, st->body.len, JSON_REJECT_DUPLICATES, &jerr);
                if (!req.body) {
                        api_error(rep, TIDE_E_INVALID, "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                                  jerr.column);
                        return;
                }
        }
        int r = route->handler(&req, rep);
        if (r < 0 && !rep->json && !rep->text)
                api_error(rep, r, "%s", tide_strerror(r));
        json_decref(req.body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        struct listener *l = cls;
        struct api_request_state *st = *con_cls;

        if (!st) {
                st = xcalloc(1, sizeof *st);
                st->body.max = API_BODY_MAX;
                *con_cls = st;
                if (l->need_token && !token_ok(conn, l->api->cfg.token)) {
                        struct api_reply rep = {};
                        api_error(&rep, TIDE_E_UNAUTHORIZED, "a valid bearer token is required");
                        return send_reply(conn, &rep);
                }
                /* An image's files stream to disk as they come (api_image_upload.c), not into
                 * the body buffer; an answer now (an error) goes before any of the body. */
                if (api_image_upload_wanted(method, url, conn)) {
                        struct api_reply rep = {};
                        if (api_image_upload_new(&l->api->cfg, conn, &st->upload, &rep) < 0)
                                return send_reply(conn, &rep);
                        return MHD_YES;
                }
                const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                int64_t n;
                if (cl && parse_int64(cl, 0, INT64_MAX, &n) >= 0 && n > API_BODY_MAX) {
                        struct api_reply rep = {};
                        api_error(&rep, TIDE_E_TOO_LARGE, "request body over %d bytes", API_BODY_MAX);
                        return send_reply(conn, &rep);
                }
                return MHD_YES;
        }
        if (st->upload) {
                if (*upload_data_size > 0) {
                        int r = api_image_upload_feed(st->upload, upload_data, *upload_data_size);
                        *upload_data_size = 0;
                        /* Over the limit mid-way: no answer can go before the body's end, and
                         * reading the rest would take the whole excess. */
                        return r < 0 ? MHD_NO : MHD_YES;
                }
                struct api_request req = { .method = method, .path = url, .api = l->api, .conn = conn };
                struct api_reply rep = {};
                int64_t t0 = mono_us();
                (void) api_image_upload_finish(st->upload, &req, &rep);
                log_debug("%s %s (upload) -> %d (%lld us)", method, url, rep.status, (long long) (mono_us() - t0));
                return send_reply(conn, &rep);
        }
        if (*upload_data_size > 0) {
                if (strbuf_append(&st->body, upload_data, *upload_data_size) < 0)
                        st->too_large = true;
                *upload_data_size = 0;
                return MHD_YES;
        }

        int64_t t0 = mono_us();
        struct api_reply rep = {};
        api_dispatch(l->api, conn, method, url, st, &rep);
        log_debug("%s %s -> %d (%lld us)", method, url, rep.status, (long long) (mono_us() - t0));
        return send_reply(conn, &rep);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
        struct api_request_state *st = *con_cls;
        if (!st)
                return;
        strbuf_clear(&st->body);
        api_image_upload_free(st->upload);
        free(st);
        *con_cls = NULL;
}

static int parse_listen(const char *listen, struct sockaddr_in *ret) {
        const char *colon = strrchr(listen, ':');
        if (!colon)
                return -EINVAL;
        _cleanup_free_ char *host = xstrndup(listen, (size_t) (colon - listen));
        int64_t port;
        if (parse_int64(colon + 1, 1, 65535, &port) < 0)
                return -EINVAL;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        if (inet_pton(AF_INET, *host ? host : "0.0.0.0", &sa.sin_addr) != 1)
                return -EINVAL;
        *ret = sa;
        return 0;
}

static int unix_listen(const char *path, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        /* The socket's mode is the access check: create it unreachable, then bind. */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0)
                return -errno;
        if (chmod(path, 0600) < 0 || listen(fd, 64) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static struct MHD_Daemon *start(struct listener *l, int listen_fd, const struct sockaddr_in *sa) {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO;
        if (sa)
                return MHD_start_daemon(flags, ntohs(sa->sin_port), NULL, NULL, on_request, l, MHD_OPTION_SOCK_ADDR, sa,
                                        MHD_OPTION_THREAD_POOL_SIZE, 4, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                        MHD_OPTION_CONNECTION_TIMEOUT, 60, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
                                        MHD_OPTION_END);
        return MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                                MHD_OPTION_THREAD_POOL_SIZE, 4, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                MHD_OPTION_CONNECTION_TIMEOUT, 60, MHD_OPTION_END);
}

int api_new(const struct api_config *cfg, struct api **ret) {
        struct api *a = xcalloc(1, sizeof *a);
        a->cfg = *cfg;
        a->tcp_l = (struct listener) { .api = a, .need_token = true };
        a->local_l = (struct listener) { .api = a, .need_token = false };
        int r = 0;

        if (cfg->listen) {
                struct sockaddr_in sa;
                r = parse_listen(cfg->listen, &sa);
                if (r < 0) {
                        log_error("invalid listen address '%s': expected ADDR:PORT", cfg->listen);
                        goto fail;
                }
                a->tcp = start(&a->tcp_l, -1, &sa);
                if (!a->tcp) {
                        r = log_error_errno(-EADDRINUSE, "cannot listen on %s: %m", cfg->listen);
                        goto fail;
                }
        }
        if (cfg->socket_path) {
                int fd = -1;
                r = unix_listen(cfg->socket_path, &fd);
                if (r < 0) {
                        log_error_errno(r, "cannot listen on %s: %m", cfg->socket_path);
                        goto fail;
                }
                a->local = start(&a->local_l, fd, NULL);
                if (!a->local) {
                        close(fd);
                        r = log_error_errno(-EIO, "cannot serve on %s: %m", cfg->socket_path);
                        goto fail;
                }
                a->socket_path = xstrdup(cfg->socket_path);
        }
        *ret = a;
        return 0;
fail:
        api_free(a);
        return r;
}

void api_free(struct api *a) {
        if (!a)
                return;
        if (a->tcp)
                MHD_stop_daemon(a->tcp);
        if (a->local)
                MHD_stop_daemon(a->local);
        if (a->socket_path)
                (void) unlink(a->socket_path);
        free(a->socket_path);
        free(a);
}
