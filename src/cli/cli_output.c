/* cli_output.c — tables and JSON for the tide client. */
#include "cli/cli_output.h"

#include <errno.h>
#include <inttypes.h>

#include "common/strbuf.h"

int cli_format_from_string(const char *s, enum cli_format *ret) {
        static const char *const names[CLI_FORMAT_MAX] = {
                [CLI_FORMAT_TABLE] = "table",
                [CLI_FORMAT_JSON] = "json",
        };
        for (int i = 0; i < CLI_FORMAT_MAX; i++)
                if (streq(s, names[i])) {
                        *ret = (enum cli_format) i;
                        return 0;
                }
        return -EINVAL;
}

char *cli_sanitize(const char *s) {
        char *r = xstrdup(s);
        for (unsigned char *p = (unsigned char *) r; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        *p = '?';
        return r;
}

char *cli_cell_value(const json_t *v) {
        if (!v || json_is_null(v))
                return xstrdup("-");
        switch (json_typeof(v)) {
        case JSON_STRING:
                return cli_sanitize(json_string_value(v));
        case JSON_INTEGER:
                return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
        case JSON_REAL:
                return xasprintf("%g", json_real_value(v));
        case JSON_TRUE:
                return xstrdup("true");
        case JSON_FALSE:
                return xstrdup("false");
        default: {
                _cleanup_free_ char *s = json_dumps(v, JSON_COMPACT);
                return cli_sanitize(s ? s : "?");
        }
        }
}

/* Scales n (in units of unit_index: 0 = bytes, 1 = KiB, ...) to the largest unit that
 * keeps it >= 1, with one decimal unless it is whole. */
static char *format_scaled(uint64_t n, unsigned unit_index) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        unsigned u = unit_index;
        /* Tenths of the shown unit, computed in integers so that big values stay exact. */
        uint64_t whole = n, rem = 0;
        while (whole >= 1024 && u + 1 < ELEMENTSOF(units)) {
                rem = whole % 1024;
                whole /= 1024;
                u++;
        }
        unsigned tenth = (unsigned) ((rem * 10 + 512) / 1024);
        if (tenth == 10) {
                whole++;
                tenth = 0;
        }
        if (tenth == 0)
                return xasprintf("%" PRIu64 "%s", whole, units[u]);
        return xasprintf("%" PRIu64 ".%u%s", whole, tenth, units[u]);
}

char *cli_format_size(uint64_t bytes) {
        return format_scaled(bytes, 0);
}

static char *cell_scaled(const json_t *v, unsigned unit_index) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return cli_cell_value(v);
        return format_scaled((uint64_t) json_integer_value(v), unit_index);
}

char *cli_cell_bytes(const json_t *v) {
        return cell_scaled(v, 0);
}
char *cli_cell_mib(const json_t *v) {
        return cell_scaled(v, 2);
}
char *cli_cell_gib(const json_t *v) {
        return cell_scaled(v, 3);
}

struct cli_table {
        size_t ncols;
        size_t nrows; /* the header row included */
        size_t alloc;
        char **cells; /* nrows * ncols */
};

struct cli_table *cli_table_new(size_t ncols, const char *const *headers) {
        struct cli_table *t = xcalloc(1, sizeof *t);
        t->ncols = ncols;
        char **row = xcalloc(ncols, sizeof *row);
        for (size_t i = 0; i < ncols; i++)
                row[i] = xstrdup(headers[i]);
        cli_table_add_row(t, row);
        free(row);
        return t;
}

void cli_table_free(struct cli_table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
}

void cli_table_add_row(struct cli_table *t, char **cells) {
        if (t->nrows == t->alloc) {
                t->alloc = t->alloc ? t->alloc * 2 : 16;
                t->cells = xrealloc(t->cells, t->alloc * t->ncols * sizeof *t->cells);
        }
        memcpy(t->cells + t->nrows * t->ncols, cells, t->ncols * sizeof *cells);
        t->nrows++;
}

/* Display width of UTF-8 text: one column per character (continuation bytes do not count).
 * Wide CJK characters are off by one; the tables hold names and states. */
static size_t text_width(const char *s) {
        size_t w = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p & 0xc0) != 0x80)
                        w++;
        return w;
}

void cli_table_print(const struct cli_table *t, FILE *f) {
        _cleanup_free_ size_t *width = xcalloc(t->ncols, sizeof *width);
        for (size_t r = 0; r < t->nrows; r++)
                for (size_t c = 0; c < t->ncols; c++) {
                        size_t w = text_width(t->cells[r * t->ncols + c]);
                        if (w > width[c])
                                width[c] = w;
                }
        for (size_t r = 0; r < t->nrows; r++) {
                for (size_t c = 0; c < t->ncols; c++) {
                        const char *cell = t->cells[r * t->ncols + c];
                        fputs(cell, f);
                        if (c + 1 == t->ncols)
                                break;
                        for (size_t k = text_width(cell); k < width[c] + 2; k++)
                                fputc(' ', f);
                }
                fputc('\n', f);
        }
}

size_t cli_table_rows(const struct cli_table *t) {
        return t->nrows - 1;
}

int cli_print_json(FILE *f, const json_t *v) {
        if (json_dumpf(v, f, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0)
                return -EIO;
        fputc('\n', f);
        return 0;
}

int cli_print_list(FILE *f, enum cli_format format, const json_t *array, const struct cli_column *cols, size_t ncols) {
        if (!json_is_array(array))
                return -EINVAL;
        if (format == CLI_FORMAT_JSON)
                return cli_print_json(f, array);

        _cleanup_free_ const char **headers = xcalloc(ncols, sizeof *headers);
        for (size_t c = 0; c < ncols; c++)
                headers[c] = cols[c].header;
        _cleanup_table_ struct cli_table *t = cli_table_new(ncols, headers);

        size_t i;
        json_t *obj;
        json_array_foreach(array, i, obj) {
                _cleanup_free_ char **row = xcalloc(ncols, sizeof *row);
                for (size_t c = 0; c < ncols; c++) {
                        const json_t *v = json_is_object(obj) ? json_object_get(obj, cols[c].key) : NULL;
                        row[c] = (cols[c].format ? cols[c].format : cli_cell_value)(v);
                }
                cli_table_add_row(t, row);
        }
        cli_table_print(t, f);
        return 0;
}

int cli_print_object(FILE *f, enum cli_format format, const json_t *obj) {
        if (!json_is_object(obj))
                return -EINVAL;
        if (format == CLI_FORMAT_JSON)
                return cli_print_json(f, obj);

        static const char *const headers[] = { "FIELD", "VALUE" };
        _cleanup_table_ struct cli_table *t = cli_table_new(2, headers);
        const char *key;
        json_t *v;
        json_object_foreach((json_t *) obj, key, v) {
                char *row[2] = { cli_sanitize(key), cli_cell_value(v) };
                cli_table_add_row(t, row);
        }
        cli_table_print(t, f);
        return 0;
}

static bool in_list(const char *const *list, const char *s) {
        for (; list && *list; list++)
                if (streq(*list, s))
                        return true;
        return false;
}

void cli_table_add_fields(struct cli_table *t, const char *prefix, const json_t *obj, const char *const *skip) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *) obj, key, v) {
                if (in_list(skip, key))
                        continue;
                _cleanup_free_ char *name = prefix ? xasprintf("%s.%s", prefix, key) : xstrdup(key);
                if (json_is_object(v) && json_object_size(v) > 0) {
                        cli_table_add_fields(t, name, v, NULL);
                        continue;
                }
                bool empty = (json_is_object(v) && json_object_size(v) == 0) ||
                             (json_is_string(v) && !*json_string_value(v));
                char *row[2] = { cli_sanitize(name), empty ? xstrdup("-") : cli_cell_value(v) };
                cli_table_add_row(t, row);
        }
}

int cli_print_fields(FILE *f, enum cli_format format, const json_t *obj) {
        if (!json_is_object(obj))
                return -EINVAL;
        if (format == CLI_FORMAT_JSON)
                return cli_print_json(f, obj);

        static const char *const headers[] = { "FIELD", "VALUE" };
        _cleanup_table_ struct cli_table *t = cli_table_new(2, headers);
        cli_table_add_fields(t, NULL, obj, NULL);
        cli_table_print(t, f);
        return 0;
}
