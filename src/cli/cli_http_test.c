/* cli_http_test.c — unit tests of the tide client's HTTP transport (cli_http.c).
 *
 * The peer is a canned responder in a thread of this test: it records one request and
 * answers with fixed bytes. It tests what the client sends and how it reads answers; it is
 * not, and does not stand for, a test of tided. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "cli/cli_http.h"
#include "common/strbuf.h"

struct responder {
        int listen_fd;
        const char *answer;    /* raw HTTP response */
        size_t body_repeat;    /* > 0: then send this many 'x' bytes as the body */
        struct strbuf request; /* what the client sent */
        pthread_t thread;
};

static bool request_complete(const struct strbuf *b) {
        const char *s = strbuf_str(b);
        const char *end = strstr(s, "\r\n\r\n");
        if (!end)
                return false;
        const char *cl = strcasestr(s, "\r\nContent-Length:");
        size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        return b->len >= (size_t) (end + 4 - s) + body;
}

static void *respond(void *arg) {
        struct responder *r = arg;
        int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return NULL;
        char buf[4096];
        while (!request_complete(&r->request)) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n <= 0)
                        break;
                strbuf_append(&r->request, buf, (size_t) n);
        }
        /* MSG_NOSIGNAL: the client hangs up mid-body when it hits its cap. */
        (void) !send(fd, r->answer, strlen(r->answer), MSG_NOSIGNAL);
        memset(buf, 'x', sizeof buf);
        for (size_t left = r->body_repeat; left > 0;) {
                size_t k = left < sizeof buf ? left : sizeof buf;
                if (send(fd, buf, k, MSG_NOSIGNAL) != (ssize_t) k)
                        break; /* the client hung up, as it should past its cap */
                left -= k;
        }
        close(fd);
        return NULL;
}

static char socket_path[108];

static void start_unix(struct responder *r, const char *answer) {
        *r = (struct responder) { .answer = answer, .request = STRBUF_INIT(0) };
        snprintf(socket_path, sizeof socket_path, "/tmp/tide-cli-http-test-%d.sock", (int) getpid());
        unlink(socket_path);
        r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(r->listen_fd >= 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
        assert_int_equal(bind(r->listen_fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(listen(r->listen_fd, 4), 0);
        assert_int_equal(pthread_create(&r->thread, NULL, respond, r), 0);
}

static int start_tcp(struct responder *r, const char *answer) {
        *r = (struct responder) { .answer = answer, .request = STRBUF_INIT(0) };
        r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(r->listen_fd >= 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        assert_int_equal(bind(r->listen_fd, (struct sockaddr *) &sa, sizeof sa), 0);
        socklen_t len = sizeof sa;
        assert_int_equal(getsockname(r->listen_fd, (struct sockaddr *) &sa, &len), 0);
        assert_int_equal(listen(r->listen_fd, 4), 0);
        assert_int_equal(pthread_create(&r->thread, NULL, respond, r), 0);
        return ntohs(sa.sin_port);
}

/* Waits for the responder; the request it recorded stays for the test to check. */
static void stop(struct responder *r) {
        pthread_join(r->thread, NULL);
        close(r->listen_fd);
        unlink(socket_path);
}

static void test_get_over_unix_socket(void **state) {
        struct responder r;
        start_unix(&r, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Content-Length: 16\r\nConnection: close\r\n\r\n{\"flavors\": []}\n");
        struct cli_http *h = NULL;
        assert_int_equal(cli_http_new(NULL, socket_path, NULL, &h), 0);
        struct cli_http_response resp = {};
        char *err = NULL;
        assert_int_equal(cli_http_request(h, "GET", "/v1/flavors", NULL, 5000, &resp, &err), 0);
        stop(&r);

        assert_int_equal(resp.status, 200);
        assert_string_equal(resp.content_type, "application/json");
        assert_int_equal(resp.len, 16);
        assert_string_equal(resp.body, "{\"flavors\": []}\n");
        const char *req = r.request.buf;
        assert_true(startswith(req, "GET /v1/flavors HTTP/1.1\r\n"));
        assert_non_null(strstr(req, "\r\nHost: localhost\r\n"));
        assert_null(strstr(req, "Authorization"));
        cli_http_response_clear(&resp);
        cli_http_free(h);
        strbuf_clear(&r.request);
}

static void test_post_sends_json_body_and_token_over_tcp(void **state) {
        struct responder r;
        int port = start_tcp(&r, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
        /* The "/v1/" a user may copy along with the address is dropped. */
        char *url = xasprintf("http://127.0.0.1:%d/v1/", port);
        struct cli_http *h = NULL;
        assert_int_equal(cli_http_new(url, NULL, "s3cret", &h), 0);
        char *target = xasprintf("http://127.0.0.1:%d", port);
        assert_string_equal(cli_http_target(h), target);
        free(target);
        struct cli_http_response resp = {};
        char *err = NULL;
        assert_int_equal(cli_http_request(h, "POST", "/v1/flavors", "{\"name\":\"small\"}", 5000, &resp, &err), 0);
        stop(&r);

        assert_int_equal(resp.status, 201);
        const char *req = r.request.buf;
        assert_true(startswith(req, "POST /v1/flavors HTTP/1.1\r\n"));
        assert_non_null(strstr(req, "\r\nAuthorization: Bearer s3cret\r\n"));
        assert_non_null(strstr(req, "\r\nContent-Type: application/json\r\n"));
        assert_non_null(strstr(req, "\r\nContent-Length: 16\r\n"));
        assert_true(endswith(req, "\r\n\r\n{\"name\":\"small\"}"));
        cli_http_response_clear(&resp);
        cli_http_free(h);
        strbuf_clear(&r.request);
        free(url);
}

static void test_delete_method_and_204(void **state) {
        struct responder r;
        start_unix(&r, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        struct cli_http *h = NULL;
        assert_int_equal(cli_http_new(NULL, socket_path, NULL, &h), 0);
        struct cli_http_response resp = {};
        char *err = NULL;
        assert_int_equal(cli_http_request(h, "DELETE", "/v1/images/tiny", NULL, 5000, &resp, &err), 0);
        stop(&r);
        assert_int_equal(resp.status, 204);
        assert_int_equal(resp.len, 0);
        assert_string_equal(resp.body, "");
        assert_true(startswith(r.request.buf, "DELETE /v1/images/tiny HTTP/1.1\r\n"));
        cli_http_response_clear(&resp);
        cli_http_free(h);
        strbuf_clear(&r.request);
}

static void test_error_status_is_not_a_transport_error(void **state) {
        struct responder r;
        start_unix(&r, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                       "Content-Length: 51\r\nConnection: close\r\n\r\n"
                       "{\"error\": {\"code\": \"not_found\", \"message\": \"nope\"}}");
        struct cli_http *h = NULL;
        assert_int_equal(cli_http_new(NULL, socket_path, NULL, &h), 0);
        struct cli_http_response resp = {};
        char *err = NULL;
        assert_int_equal(cli_http_request(h, "GET", "/v1/x", NULL, 5000, &resp, &err), 0);
        stop(&r);
        assert_int_equal(resp.status, 404);
        assert_non_null(strstr(resp.body, "not_found"));
        cli_http_response_clear(&resp);
        cli_http_free(h);
        strbuf_clear(&r.request);
}

static void test_body_over_cap_fails(void **state) {
        struct responder r;
        start_unix(&r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
        r.body_repeat = CLI_HTTP_BODY_MAX + 4096;
        struct cli_http *h = NULL;
        assert_int_equal(cli_http_new(NULL, socket_path, NULL, &h), 0);
        struct cli_http_response resp = {};
        char *err = NULL;
        assert_int_equal(cli_http_request(h, "GET", "/v1/big", NULL, 10000, &resp, &err), -EFBIG);
        stop(&r);
        assert_non_null(strstr(err, "MiB"));
        free(err);
        cli_http_free(h);
        strbuf_clear(&r.request);
}

static void test_missing_socket_is_connection_refused(void **state) {
        struct cli_http *h = NULL;
        assert_int_equal(cli_http_new(NULL, "/nonexistent/tided.sock", NULL, &h), 0);
        assert_string_equal(cli_http_target(h), "unix socket /nonexistent/tided.sock");
        struct cli_http_response resp = {};
        char *err = NULL;
        assert_int_equal(cli_http_request(h, "GET", "/v1/health", NULL, 5000, &resp, &err), -ECONNREFUSED);
        assert_non_null(err);
        free(err);
        cli_http_free(h);
}

static void test_target_of_url_drops_api_prefix(void **state) {
        struct cli_http *h = NULL;
        assert_int_equal(cli_http_new("http://10.0.0.1:7480/v1/", NULL, "t", &h), 0);
        assert_string_equal(cli_http_target(h), "http://10.0.0.1:7480");
        assert_true(cli_http_has_token(h));
        cli_http_free(h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_get_over_unix_socket),
                cmocka_unit_test(test_post_sends_json_body_and_token_over_tcp),
                cmocka_unit_test(test_delete_method_and_204),
                cmocka_unit_test(test_error_status_is_not_a_transport_error),
                cmocka_unit_test(test_body_over_cap_fails),
                cmocka_unit_test(test_missing_socket_is_connection_refused),
                cmocka_unit_test(test_target_of_url_drops_api_prefix),
        };
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        curl_global_cleanup();
        return r;
}
