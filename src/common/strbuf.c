/* strbuf.c — a growing string buffer with a size cap. */
#include "strbuf.h"

#include <errno.h>
#include <stdio.h>

int strbuf_append(struct strbuf *b, const void *data, size_t n) {
        if (b->max && b->len + n > b->max)
                return -E2BIG;
        if (b->len + n + 1 > b->alloc) {
                size_t a = b->alloc ? b->alloc : 256;
                while (a < b->len + n + 1)
                        a *= 2;
                b->buf = xrealloc(b->buf, a);
                b->alloc = a;
        }
        memcpy(b->buf + b->len, data, n);
        b->len += n;
        b->buf[b->len] = 0;
        return 0;
}

int strbuf_puts(struct strbuf *b, const char *s) {
        return strbuf_append(b, s, strlen(s));
}

int strbuf_printf(struct strbuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *s = xvasprintf(fmt, ap);
        va_end(ap);
        return strbuf_puts(b, s);
}

char *strbuf_steal(struct strbuf *b) {
        char *s = b->buf ? b->buf : xstrdup("");
        b->buf = NULL;
        b->len = b->alloc = 0;
        return s;
}

void strbuf_clear(struct strbuf *b) {
        free(b->buf);
        b->buf = NULL;
        b->len = b->alloc = 0;
}
