/* cli_output.h — how the tide client prints API objects: aligned tables or pretty JSON.
 *
 * A list is printed through a table of columns ({header, key, formatter}) declared by each
 * command; a single object as FIELD VALUE rows in the object's own key order. Text that
 * came from the server is sanitized (control characters become '?') before it reaches a
 * terminal. Everything here writes only to the FILE it is given. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/util.h"

enum cli_format {
        CLI_FORMAT_TABLE,
        CLI_FORMAT_JSON,
        CLI_FORMAT_MAX,
};

/* Parses "table" or "json"; returns 0 with *ret set, or -EINVAL. */
int cli_format_from_string(const char *s, enum cli_format *ret);

/* Formats one cell from a JSON value (which may be NULL: the key is missing); returns a new
 * string. */
typedef char *(*cli_cell_fn)(const json_t *v);

struct cli_column {
        const char *header;
        const char *key;    /* key in each object of the list */
        cli_cell_fn format; /* NULL: cli_cell_value */
};

/* The generic cell: strings as they are (sanitized), null or missing as "-", numbers,
 * true/false, and arrays or objects as compact JSON. Returns a new string. */
char *cli_cell_value(const json_t *v);
/* A byte count as a short human size: "512B", "1.5KiB", "128MiB", "20GiB". New string. */
char *cli_cell_bytes(const json_t *v);
/* A MiB count as a short human size ("256MiB", "4GiB", "1.5GiB"). New string. */
char *cli_cell_mib(const json_t *v);
/* A GiB count ("20GiB"). New string. */
char *cli_cell_gib(const json_t *v);

/* Formats a byte count as cli_cell_bytes does; returns a new string. */
char *cli_format_size(uint64_t bytes);

/* Copies s, replacing every control character (and DEL) by '?'; returns a new string. */
char *cli_sanitize(const char *s);

/* A table of text cells, rendered with columns aligned by their display width (UTF-8
 * characters), two spaces apart, the last column unpadded. */
struct cli_table;

struct cli_table *cli_table_new(size_t ncols, const char *const *headers);
void cli_table_free(struct cli_table *t);
static inline void cli_table_freep(struct cli_table **t) {
        cli_table_free(*t);
}
#define _cleanup_table_ _cleanup_(cli_table_freep)
/* Adds a row of ncols cells, taking ownership of every cell (each a malloc'ed string). */
void cli_table_add_row(struct cli_table *t, char **cells);
void cli_table_print(const struct cli_table *t, FILE *f);
/* The number of rows added, the header not counted. */
size_t cli_table_rows(const struct cli_table *t);

/* Prints v as indented JSON followed by a newline. Returns 0 or -EIO. */
int cli_print_json(FILE *f, const json_t *v);
/* Prints a list (a JSON array of objects): as a table of the given columns, one row per
 * object, or with CLI_FORMAT_JSON as the array itself. Returns 0, -EINVAL (not an array) or
 * -EIO. */
int cli_print_list(FILE *f, enum cli_format format, const json_t *array, const struct cli_column *cols, size_t ncols);
/* Prints one object: FIELD VALUE rows in its key order, or the object as JSON. Returns 0,
 * -EINVAL (not an object) or -EIO. */
int cli_print_object(FILE *f, enum cli_format format, const json_t *obj);

/* Adds a row per member of obj to a two-column table, in key order. A nested object's
 * members become rows of their own, named with a dot ("weights.ram", "labels.zone"); an
 * empty object or an empty string is "-". Members whose names are in skip (a NULL-terminated
 * list, or NULL) are left out, at the top level only. prefix (may be NULL) is put before
 * every name, with a dot. */
void cli_table_add_fields(struct cli_table *t, const char *prefix, const json_t *obj, const char *const *skip);
/* Prints one object as cli_print_object does, with nested objects flattened as
 * cli_table_add_fields() does. Returns 0, -EINVAL (not an object) or -EIO. */
int cli_print_fields(FILE *f, enum cli_format format, const json_t *obj);
