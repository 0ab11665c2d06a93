/* cli_http.c — libcurl transport of the tide client. */
#include "cli/cli_http.h"

#include <curl/curl.h>
#include <errno.h>

#include "common/strbuf.h"

/* Connecting is local or on a LAN: if it takes longer, nobody is listening. */
#define CONNECT_TIMEOUT_MS 10000

struct cli_http {
        CURL *curl;
        char *base;        /* "http://host:port" or "http://localhost" */
        char *socket_path; /* NULL over TCP */
        char *target;      /* for messages */
        struct curl_slist *headers;
        bool has_token;
        char errbuf[CURL_ERROR_SIZE];
};

static void curl_mime_freep(curl_mime **m) {
        curl_mime_free(*m);
}

struct sink {
        struct strbuf buf;
        bool overflow;
};

static size_t write_cb(char *data, size_t size, size_t n, void *userdata) {
        struct sink *s = userdata;
        if (strbuf_append(&s->buf, data, size * n) < 0) {
                s->overflow = true;
                return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
        }
        return size * n;
}

static char *base_from_url(const char *url) {
        _cleanup_free_ char *b = xstrdup(url);
        size_t n = strlen(b);
        while (n > 0 && b[n - 1] == '/')
                b[--n] = 0;
        /* Users copy the API's prefix along with the address; paths carry it already. */
        if (endswith(b, "/v1")) {
                n -= 3;
                b[n] = 0;
                while (n > 0 && b[n - 1] == '/')
                        b[--n] = 0;
        }
        return TAKE_PTR(b);
}

int cli_http_new(const char *url, const char *socket_path, const char *token, struct cli_http **ret) {
        if (!url && !socket_path)
                return -EINVAL;

        struct cli_http *h = xcalloc(1, sizeof *h);
        h->curl = curl_easy_init();
        if (!h->curl) {
                free(h);
                return -ENOMEM;
        }
        if (url) {
                h->base = base_from_url(url);
                h->target = xstrdup(h->base);
        } else {
                h->base = xstrdup("http://localhost");
                h->socket_path = xstrdup(socket_path);
                h->target = xasprintf("unix socket %s", socket_path);
        }

        h->headers = curl_slist_append(h->headers, "Accept: application/json");
        /* tided answers at once; a 100-continue round trip only slows large bodies down. */
        h->headers = curl_slist_append(h->headers, "Expect:");
        if (token) {
                _cleanup_free_ char *auth = xasprintf("Authorization: Bearer %s", token);
                h->headers = curl_slist_append(h->headers, auth);
                h->has_token = true;
        }
        if (!h->headers) {
                cli_http_free(h);
                return -ENOMEM;
        }

        CURL *c = h->curl;
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) CONNECT_TIMEOUT_MS);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "tide-cli");
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        if (h->socket_path) {
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->socket_path);
                /* The socket is local: an http_proxy in the environment must not apply. */
                curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        }

        *ret = h;
        return 0;
}

void cli_http_free(struct cli_http *h) {
        if (!h)
                return;
        if (h->curl)
                curl_easy_cleanup(h->curl);
        curl_slist_free_all(h->headers);
        free(h->base);
        free(h->socket_path);
        free(h->target);
        free(h);
}

const char *cli_http_target(const struct cli_http *h) {
        return h->target;
}

bool cli_http_has_token(const struct cli_http *h) {
        return h->has_token;
}

static int map_curl_error(CURLcode cc, bool overflow) {
        if (overflow)
                return -EFBIG;
        switch (cc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        default:
                return -EIO;
        }
}

/* Headers for a form: the client's own, without the "Expect:" that turns 100-continue off, so
 * that tided can refuse an upload before its body is sent. */
static struct curl_slist *form_headers(const struct cli_http *h) {
        struct curl_slist *l = NULL;
        for (const struct curl_slist *p = h->headers; p; p = p->next)
                if (!streq(p->data, "Expect:") && !(l = curl_slist_append(l, p->data)))
                        return NULL;
        return l;
}

/* Adds parts to mime; -EINVAL with *ret_error when a file cannot be read. */
static int form_build(curl_mime *mime, const struct cli_http_part *parts, size_t n, char **ret_error) {
        for (size_t i = 0; i < n; i++) {
                curl_mimepart *p = curl_mime_addpart(mime);
                if (!p || curl_mime_name(p, parts[i].name) != CURLE_OK)
                        return -ENOMEM;
                CURLcode cc = parts[i].file ? curl_mime_filedata(p, parts[i].file)
                                            : curl_mime_data(p, parts[i].value, CURL_ZERO_TERMINATED);
                if (cc != CURLE_OK) {
                        *ret_error = xasprintf("%s: %s", parts[i].file ? parts[i].file : parts[i].name,
                                               curl_easy_strerror(cc));
                        return -EINVAL;
                }
        }
        return 0;
}

/* One request: a JSON body, a form (parts), or neither. */
static int perform(struct cli_http *h, const char *method, const char *path, const char *body,
                   const struct cli_http_part *parts, size_t n_parts, int64_t timeout_ms, struct cli_http_response *ret,
                   char **ret_error) {
        CURL *c = h->curl;
        _cleanup_(curl_mime_freep) curl_mime *mime = NULL;
        _cleanup_free_ char *url = xasprintf("%s%s", h->base, path);
        struct sink sink = { .buf = STRBUF_INIT(CLI_HTTP_BODY_MAX) };
        struct curl_slist *req_headers = NULL;

        /* The handle is reused: reset what the previous request may have set. */
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
                curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
                req_headers = curl_slist_append(NULL, "Content-Type: application/json");
                for (struct curl_slist *l = h->headers; l && req_headers; l = l->next)
                        req_headers = curl_slist_append(req_headers, l->data);
                if (!req_headers)
                        return -ENOMEM;
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, req_headers);
        } else if (parts) {
                mime = curl_mime_init(c);
                req_headers = form_headers(h);
                if (!mime || !req_headers) {
                        curl_slist_free_all(req_headers);
                        return -ENOMEM;
                }
                int r = form_build(mime, parts, n_parts, ret_error);
                if (r < 0) {
                        curl_slist_free_all(req_headers);
                        return r;
                }
                curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, req_headers);
                /* No deadline for a large upload, but a stalled one fails. */
                curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
        }
        if (!streq(method, body || parts ? "POST" : "GET"))
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) (timeout_ms > 0 ? timeout_ms : 0));
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
        h->errbuf[0] = 0;

        CURLcode cc = curl_easy_perform(c);

        /* Neither the header list nor the sink may outlive this call in the handle. */
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
        curl_easy_setopt(c, CURLOPT_MIMEPOST, NULL);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 0L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 0L);
        curl_slist_free_all(req_headers);

        if (cc != CURLE_OK) {
                int r = map_curl_error(cc, sink.overflow);
                strbuf_clear(&sink.buf);
                if (ret_error) {
                        if (r == -EFBIG)
                                *ret_error = xasprintf("answer larger than %zu MiB", CLI_HTTP_BODY_MAX >> 20);
                        else
                                *ret_error = xstrdup(h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
                }
                return r;
        }

        long status = 0;
        char *ctype = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);

        /* Not in the initializer below: its evaluation order is unspecified, and stealing
         * the buffer resets its length. */
        size_t len = sink.buf.len;
        *ret = (struct cli_http_response) {
                .status = status,
                .content_type = ctype ? xstrdup(ctype) : NULL,
                .len = len,
                .body = strbuf_steal(&sink.buf),
        };
        return 0;
}

int cli_http_request(struct cli_http *h, const char *method, const char *path, const char *body, int64_t timeout_ms,
                     struct cli_http_response *ret, char **ret_error) {
        return perform(h, method, path, body, NULL, 0, timeout_ms, ret, ret_error);
}

int cli_http_post_form(struct cli_http *h, const char *path, const struct cli_http_part *parts, size_t n,
                       struct cli_http_response *ret, char **ret_error) {
        return perform(h, "POST", path, NULL, parts, n, 0, ret, ret_error);
}

void cli_http_response_clear(struct cli_http_response *r) {
        free(r->content_type);
        free(r->body);
        *r = (struct cli_http_response) {};
}
