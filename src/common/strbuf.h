/* strbuf.h — a growing string buffer with a size cap (curl's dynbuf). */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include "util.h"

struct strbuf {
        char *buf;
        size_t len;
        size_t alloc;
        size_t max; /* appends past this fail with -E2BIG; 0 = no cap */
};

#define STRBUF_INIT(cap) \
        { .buf = NULL, .len = 0, .alloc = 0, .max = (cap) }

/* Appends n bytes; returns 0 or -E2BIG (buffer unchanged) when the cap would be passed. */
int strbuf_append(struct strbuf *b, const void *data, size_t n);
int strbuf_puts(struct strbuf *b, const char *s);
int strbuf_printf(struct strbuf *b, const char *fmt, ...) _printf_(2, 3);
/* Returns the NUL-terminated contents (never NULL) and empties the buffer; caller frees. */
char *strbuf_steal(struct strbuf *b);
void strbuf_clear(struct strbuf *b);
static inline const char *strbuf_str(const struct strbuf *b) {
        return b->buf ? b->buf : "";
}
