/* replay.c — runs a libFuzzer harness without libFuzzer: every input of a corpus once, then a
 * fixed number of pseudo-random mutations of them (bit flips, byte sets, truncations,
 * insertions, deletions, duplications, splices, dictionary tokens). The mutations come from one
 * seed, so a run is the same on every machine and every time: a failure is reproduced by
 * running the same command again. This is what the unit suite runs (gcc, no clang needed);
 * with -Dfuzz=true and clang the same harnesses are built as real libFuzzer binaries instead.
 *
 *   replay [--runs N] [--seed S] [--suffix .yaml] [--dict FILE] [--max-len N] PATH...
 *
 * A PATH is a file or a directory (its regular files, not recursively; with --suffix only the
 * names that end so; names starting with '.' are skipped). Inputs run in the order of the
 * paths, a directory's files sorted by name. Each input is handed over in a buffer of exactly
 * its size, as libFuzzer does, so that AddressSanitizer sees a read past the end.
 *
 * When the harness crashes (a signal, or a sanitizer's report under ASan/UBSan), the input
 * that did it is written to replay-crash-<pid>.bin in the current directory and its origin
 * printed, for `fuzz_<target> FILE` or another replay run. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* AddressSanitizer's hook for "about to exit with a report"; absent without a sanitizer. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

#define INPUT_MAX_DEFAULT (64 * 1024)
#define FILE_MAX (4 * 1024 * 1024)
#define DICT_MAX 4096

struct buf {
        uint8_t *data;
        size_t len;
        char *origin; /* the file it came from */
};

struct vec {
        struct buf *items;
        size_t n, alloc;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("replay: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(2);
}

static void *xalloc(size_t n) {
        void *p = malloc(n ? n : 1);
        if (!p)
                abort();
        return p;
}

static void vec_push(struct vec *v, uint8_t *data, size_t len, const char *origin) {
        if (v->n == v->alloc) {
                v->alloc = v->alloc ? 2 * v->alloc : 64;
                v->items = realloc(v->items, v->alloc * sizeof *v->items);
                if (!v->items)
                        abort();
        }
        char *o = strdup(origin);
        if (!o)
                abort();
        v->items[v->n++] = (struct buf) { .data = data, .len = len, .origin = o };
}

/* ---- the input being run: written out when the harness dies ---- */

static const uint8_t *cur_data;
static size_t cur_len;
static char cur_what[512];

static void write_all(int fd, const void *p, size_t n) {
        const char *s = p;
        while (n > 0) {
                ssize_t w = write(fd, s, n);
                if (w <= 0)
                        return;
                s += w;
                n -= (size_t) w;
        }
}

/* Async-signal-safe: only open, write and close. */
static void dump_current(void) {
        static volatile sig_atomic_t done;
        if (done || !cur_data)
                return;
        done = 1;
        char name[64] = "replay-crash-";
        char digits[24];
        size_t nd = 0;
        for (pid_t p = getpid(); p > 0 && nd < sizeof digits; p /= 10)
                digits[nd++] = (char) ('0' + p % 10);
        size_t at = strlen(name);
        while (nd > 0)
                name[at++] = digits[--nd];
        memcpy(name + at, ".bin", 5);
        int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
                write_all(fd, cur_data, cur_len);
                close(fd);
        }
        write_all(2, "\nreplay: the harness died on ", 29);
        write_all(2, cur_what, strlen(cur_what));
        write_all(2, "; the input is in ", 18);
        write_all(2, name, strlen(name));
        write_all(2, "\n", 1);
}

static void on_signal(int sig) {
        dump_current();
        signal(sig, SIG_DFL);
        raise(sig);
}

/* ---- reading inputs ---- */

static bool read_whole(const char *path, uint8_t **ret, size_t *ret_len) {
        FILE *f = fopen(path, "rbe");
        if (!f)
                return false;
        size_t alloc = 4096, len = 0;
        uint8_t *p = xalloc(alloc);
        for (;;) {
                if (len == alloc) {
                        if (alloc >= FILE_MAX)
                                die("%s: larger than %d bytes", path, FILE_MAX);
                        alloc *= 2;
                        p = realloc(p, alloc);
                        if (!p)
                                abort();
                }
                size_t n = fread(p + len, 1, alloc - len, f);
                if (n == 0)
                        break;
                len += n;
        }
        bool ok = !ferror(f);
        fclose(f);
        if (!ok) {
                free(p);
                return false;
        }
        *ret = p;
        *ret_len = len;
        return true;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void load_path(struct vec *v, const char *path, const char *suffix) {
        struct stat st;
        if (stat(path, &st) < 0)
                die("%s: %s", path, strerror(errno));
        if (!S_ISDIR(st.st_mode)) {
                uint8_t *data;
                size_t len;
                if (!read_whole(path, &data, &len))
                        die("%s: cannot read", path);
                vec_push(v, data, len, path);
                return;
        }
        DIR *d = opendir(path);
        if (!d)
                die("%s: %s", path, strerror(errno));
        char **names = NULL;
        size_t n = 0, alloc = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.' || (suffix && !has_suffix(de->d_name, suffix)))
                        continue;
                if (n == alloc) {
                        alloc = alloc ? 2 * alloc : 64;
                        names = realloc(names, alloc * sizeof *names);
                        if (!names)
                                abort();
                }
                names[n] = strdup(de->d_name);
                if (!names[n++])
                        abort();
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_names);
        for (size_t i = 0; i < n; i++) {
                size_t plen = strlen(path) + strlen(names[i]) + 2;
                char *full = xalloc(plen);
                snprintf(full, plen, "%s/%s", path, names[i]);
                uint8_t *data;
                size_t len;
                if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
                        if (!read_whole(full, &data, &len))
                                die("%s: cannot read", full);
                        vec_push(v, data, len, full);
                }
                free(full);
                free(names[i]);
        }
        free(names);
}

/* A libFuzzer/AFL dictionary: one token a line, `"text"` or `name="text"`, with \\, \" and
 * \xNN escapes; '#' starts a comment line. */
static void load_dict(struct vec *v, const char *path) {
        uint8_t *text;
        size_t len;
        if (!read_whole(path, &text, &len))
                die("%s: cannot read", path);
        size_t i = 0;
        while (i < len) {
                size_t end = i;
                while (end < len && text[end] != '\n')
                        end++;
                const uint8_t *line = text + i;
                size_t n = end - i;
                i = end + 1;
                size_t a = 0;
                while (a < n && (line[a] == ' ' || line[a] == '\t'))
                        a++;
                if (a == n || line[a] == '#')
                        continue;
                const uint8_t *open = memchr(line, '"', n);
                size_t b = n;
                while (b > 0 && line[b - 1] != '"')
                        b--;
                if (!open || b == 0 || line + b - 1 <= open)
                        die("%s: a line without a quoted token", path);
                uint8_t *tok = xalloc(b);
                size_t tn = 0;
                for (const uint8_t *p = open + 1; p < line + b - 1; p++) {
                        if (*p == '\\' && p + 1 < line + b - 1) {
                                p++;
                                if (*p == 'x' && p + 2 < line + b - 1) {
                                        char hex[3] = { (char) p[1], (char) p[2], 0 };
                                        tok[tn++] = (uint8_t) strtoul(hex, NULL, 16);
                                        p += 2;
                                } else
                                        tok[tn++] = *p;
                        } else
                                tok[tn++] = *p;
                }
                if (v->n < DICT_MAX && tn > 0)
                        vec_push(v, tok, tn, path);
                else
                        free(tok);
        }
        free(text);
}

/* ---- mutations ---- */

/* splitmix64: small, fast and the same everywhere. */
static uint64_t rng_state;

static uint64_t rng(void) {
        uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static size_t below(size_t n) {
        return n ? (size_t) (rng() % n) : 0;
}

static const uint8_t interesting[] = {
        0,   1,   0x7f, 0x80, 0xff, '\n', '\r', '\t', ' ', '"', '\'', '\\', ':', ',', '-', '=',
        '{', '}', '[',  ']',  '&',  '*',  '!',  '%',  '/', '?', '#',  '|',  '>', '0', '9', 'a',
};

/* Inserts n bytes from src (or random ones when src is NULL) at pos of b (len *len, room cap). */
static void insert(uint8_t *b, size_t *len, size_t cap, size_t pos, const uint8_t *src, size_t n) {
        if (*len + n > cap)
                n = cap - *len;
        memmove(b + pos + n, b + pos, *len - pos);
        for (size_t i = 0; i < n; i++)
                b[pos + i] = src ? src[i] : (uint8_t) rng();
        *len += n;
}

static void mutate_once(uint8_t *b, size_t *len, size_t cap, const struct vec *inputs, const struct vec *dict) {
        size_t n = *len;
        switch (below(dict->n ? 9 : 8)) {
        case 0: /* flip a bit */
                if (n)
                        b[below(n)] ^= (uint8_t) (1u << below(8));
                break;
        case 1: /* set a byte to a random or an interesting value */
                if (n)
                        b[below(n)] = below(2) ? (uint8_t) rng() : interesting[below(sizeof interesting)];
                break;
        case 2: /* truncate */
                *len = below(n + 1);
                break;
        case 3: { /* insert 1-8 random or interesting bytes */
                size_t k = 1 + below(8);
                uint8_t tmp[8];
                for (size_t i = 0; i < k; i++)
                        tmp[i] = below(2) ? (uint8_t) rng() : interesting[below(sizeof interesting)];
                insert(b, len, cap, below(n + 1), tmp, k);
                break;
        }
        case 4: { /* delete a range */
                if (!n)
                        break;
                size_t at = below(n), k = 1 + below(n - at < 64 ? n - at : 64);
                memmove(b + at, b + at + k, n - at - k);
                *len = n - k;
                break;
        }
        case 5: { /* duplicate a range elsewhere */
                if (!n)
                        break;
                size_t at = below(n), k = 1 + below(n - at < 256 ? n - at : 256);
                uint8_t *tmp = xalloc(k);
                memcpy(tmp, b + at, k);
                insert(b, len, cap, below(n + 1), tmp, k);
                free(tmp);
                break;
        }
        case 6: { /* splice: the tail of another input from a random point */
                const struct buf *o = &inputs->items[below(inputs->n)];
                size_t at = below(n + 1), from = below(o->len + 1), k = o->len - from;
                if (at + k > cap)
                        k = cap - at;
                memcpy(b + at, o->data + from, k);
                *len = at + k;
                break;
        }
        case 7: /* repeat the last byte a few times (deep nesting, long runs) */
                if (n) {
                        size_t k = 1 + below(32);
                        uint8_t tmp[32];
                        memset(tmp, b[n - 1], k);
                        insert(b, len, cap, n, tmp, k);
                }
                break;
        default: { /* a dictionary token, inserted or written over */
                const struct buf *t = &dict->items[below(dict->n)];
                size_t at = below(n + 1);
                if (below(2) || at + t->len > n)
                        insert(b, len, cap, at, t->data, t->len);
                else
                        memcpy(b + at, t->data, t->len);
                break;
        }
        }
}

static void run_one(const uint8_t *data, size_t len) {
        /* Exactly len bytes: a harness that reads past the end is caught by ASan. */
        uint8_t *copy = xalloc(len);
        if (len)
                memcpy(copy, data, len);
        cur_data = copy;
        cur_len = len;
        LLVMFuzzerTestOneInput(copy, len);
        cur_data = NULL;
        free(copy);
}

static size_t parse_size(const char *opt, const char *s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (!*s || *end || errno || s[0] == '-')
                die("%s needs a number, not '%s'", opt, s);
        return (size_t) v;
}

int main(int argc, char **argv) {
        size_t runs = 2000, max_len = INPUT_MAX_DEFAULT;
        uint64_t seed = 1;
        const char *suffix = NULL;
        struct vec inputs = { 0 }, dict = { 0 };
        int i;

        for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2]; i += 2) {
                if (i + 1 >= argc)
                        die("%s needs a value", argv[i]);
                if (strcmp(argv[i], "--runs") == 0)
                        runs = parse_size(argv[i], argv[i + 1]);
                else if (strcmp(argv[i], "--seed") == 0)
                        seed = parse_size(argv[i], argv[i + 1]);
                else if (strcmp(argv[i], "--max-len") == 0)
                        max_len = parse_size(argv[i], argv[i + 1]);
                else if (strcmp(argv[i], "--suffix") == 0)
                        suffix = argv[i + 1];
                else if (strcmp(argv[i], "--dict") == 0)
                        load_dict(&dict, argv[i + 1]);
                else
                        die("unknown option %s", argv[i]);
        }
        /* The suffix applies to every directory that follows. */
        for (; i < argc; i++)
                load_path(&inputs, argv[i], suffix);
        if (inputs.n == 0)
                die("no inputs (usage: replay [--runs N] [--seed S] [--suffix SUF] [--dict FILE] "
                    "[--max-len N] PATH...)");

        if (__sanitizer_set_death_callback)
                __sanitizer_set_death_callback(dump_current);
        static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
        for (size_t s = 0; s < sizeof sigs / sizeof sigs[0]; s++)
                signal(sigs[s], on_signal);

        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t k = 0; k < inputs.n; k++) {
                snprintf(cur_what, sizeof cur_what, "%s", inputs.items[k].origin);
                run_one(inputs.items[k].data, inputs.items[k].len);
        }

        size_t cap = max_len;
        for (size_t k = 0; k < inputs.n; k++)
                if (inputs.items[k].len > cap)
                        cap = inputs.items[k].len;
        uint8_t *b = xalloc(cap);
        rng_state = seed;
        for (size_t r = 0; r < runs; r++) {
                const struct buf *src = &inputs.items[below(inputs.n)];
                size_t len = src->len;
                memcpy(b, src->data, len);
                size_t n_ops = 1 + below(4);
                for (size_t m = 0; m < n_ops; m++)
                        mutate_once(b, &len, cap, &inputs, &dict);
                snprintf(cur_what, sizeof cur_what, "mutation %zu of %s (--seed %" PRIu64 ")", r, src->origin, seed);
                run_one(b, len);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("replay: %zu inputs, %zu mutations (seed %" PRIu64 "), %.0f ms\n", inputs.n, runs, seed, ms);

        free(b);
        for (size_t k = 0; k < inputs.n; k++) {
                free(inputs.items[k].data);
                free(inputs.items[k].origin);
        }
        for (size_t k = 0; k < dict.n; k++) {
                free(dict.items[k].data);
                free(dict.items[k].origin);
        }
        free(inputs.items);
        free(dict.items);
        return 0;
}
