/* util.h — memory, cleanup attributes, strings, time and ids shared by all of tide.
 *
 * Allocation failure aborts (xmalloc and friends): callers never check for NULL. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Asks the kernel to back the whole 2 MiB pages inside [p, p + n) with huge pages (where
 * transparent huge pages are "madvise"): for large arrays scanned end to end, where one TLB
 * miss per element is most of the cost. A hint: nothing changes when it is refused. */
void mem_advise_huge(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formats into a newly allocated string; aborts on failure. */
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);

static inline void freep(void *p) {
        free(*(void **) p);
}
static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
void strv_free(char **v);
static inline void strv_freep(char ***v) {
        strv_free(*v);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Hands ownership of a cleanup-managed pointer out: returns it and sets the variable to NULL. */
#define TAKE_PTR(p) \
        ({ \
                __typeof__(p) _p_ = (p); \
                (p) = NULL; \
                _p_; \
        })
#define TAKE_FD(fd) \
        ({ \
                int _fd_ = (fd); \
                (fd) = -1; \
                _fd_; \
        })

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}
static inline bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}
bool endswith(const char *s, const char *suffix);

/* Parses a whole decimal integer in [min, max]; returns 0 or -EINVAL / -ERANGE. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);

/* Milliseconds on the realtime and the monotonic clock. */
int64_t now_ms(void);
int64_t mono_ms(void);
/* Microseconds on the monotonic clock. */
int64_t mono_us(void);
/* Formats a realtime millisecond stamp as RFC 3339 UTC ("2026-11-22T02:16:30.123Z"). */
char *time_format_ms(int64_t ms);
/* Replaces, in place, every byte of s that is not part of a well-formed UTF-8 sequence (RFC
 * 3629: no overlong forms, no surrogates, nothing above U+10FFFF) with '?', so that a message
 * cut in the middle of a character, or carrying bytes from outside, can go into JSON. */
void utf8_make_valid(char *s);

/* Random 128-bit id in the textual UUID form (version 4); returns a new string. */
char *id_new_uuid(void);
/* A random token of nbytes bytes as lowercase hex; returns a new string. */
char *id_new_token(size_t nbytes);
/* Fills buf with n bytes from the kernel's random source. */
void random_bytes(void *buf, size_t n);

/* Reads a whole file of at most max bytes; ret gets a NUL-terminated buffer, ret_len its length. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* Writes all len bytes of data to fd (retrying short writes and EINTR). 0 or -errno. */
int write_all(int fd, const void *data, size_t len);
/* Writes a file atomically (temp file, fsync, rename) with the given mode. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* mkdir -p with the given mode for created directories. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf of one directory tree; missing path is success. */
int rm_rf(const char *path);
/* Copies a file (data only) to dst, created with mode; fsyncs it. */
int copy_file(const char *src, const char *dst, mode_t mode);
