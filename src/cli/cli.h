/* cli.h — the tide command-line client: commands, their options, and the API context.
 *
 * A command is one row of a declarative table (tide.c): a noun, a verb, the handler, the
 * options it accepts and requires, its usage line and its help. cli_args_parse() turns a
 * command's argv into a struct cli_args with getopt_long, without I/O, so that parsing is
 * unit-tested; handlers then talk to tided through cli_api_*() (cli_api.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/cli_output.h"

/* Process exit statuses. Handlers return one of these, not -errno: the exit status is the
 * CLI's contract with scripts, and every failure has already been reported on stderr. */
enum cli_exit {
        CLI_EXIT_OK = 0,
        CLI_EXIT_FAILURE = 1,  /* an API, connection, wait or local error (reported) */
        CLI_EXIT_USAGE = 2,    /* unknown command or option, missing or bad argument */
};

/* Every option any command knows; a command accepts a subset (a mask of 1u << id). Two
 * options may share a long name ("--disk" is GiB for flavors, a file for images) as long as
 * no command accepts both. */
enum cli_opt {
        CLI_OPT_FORMAT,
        CLI_OPT_VCPUS,
        CLI_OPT_RAM,
        CLI_OPT_DISK_GIB,
        CLI_OPT_MAX_VCPUS,
        CLI_OPT_MAX_RAM,
        CLI_OPT_DISK_FILE,
        CLI_OPT_KERNEL,
        CLI_OPT_INITRD,
        CLI_OPT_CMDLINE,
        CLI_OPT_FLAVOR,
        CLI_OPT_IMAGE,
        CLI_OPT_USER_DATA,
        CLI_OPT_PRIORITY,
        CLI_OPT_HA,
        CLI_OPT_WAIT,
        CLI_OPT_TIMEOUT,
        CLI_OPT_FOLLOW,
        CLI_OPT_INSTANCE,
        CLI_OPT_LIMIT,
        CLI_OPT_MAX,
};

#define CLI_F(opt) (1u << (opt))

/* Default for --timeout, in seconds. */
#define CLI_WAIT_TIMEOUT_DEFAULT_S 300
/* The API's limit on user_data, in bytes. */
#define CLI_USER_DATA_MAX (64 * 1024)

/* The parsed arguments of one command. Strings point into the argv that was parsed. A
 * numeric option that was not given is 0; `given` has the bit of every option seen. */
struct cli_args {
        const char *name;             /* the NAME operand, for commands that take one */
        unsigned given;               /* CLI_F(opt) for each option seen */
        enum cli_format format;
        int64_t vcpus, ram_mib, disk_gib, max_vcpus, max_ram_mib;
        const char *disk_file, *kernel, *initrd, *cmdline;
        const char *flavor, *image, *user_data_file;
        int64_t priority;
        bool ha, wait, follow;
        int64_t timeout_s;            /* CLI_WAIT_TIMEOUT_DEFAULT_S unless --timeout */
        const char *instance;
        int64_t limit;
};

struct cli_ctx;

struct cli_command {
        const char *noun;
        const char *verb;
        int (*run)(struct cli_ctx *ctx, const struct cli_args *args);
        bool takes_name;              /* exactly one NAME operand */
        unsigned options;             /* CLI_F() of the options accepted (-h always is) */
        unsigned required;            /* CLI_F() of the options that must be given */
        const char *usage;            /* what follows "tide NOUN VERB" */
        const char *help;             /* one line */
};

/* What cli_args_parse() found besides plain success. */
enum {
        CLI_ARGS_OK = 0,
        CLI_ARGS_HELP = 1,            /* -h/--help was given: print help, exit 0 */
};

/* Parses argv of one command (argv[0] is the verb; options and the NAME operand follow in
 * any order) against cmd's accepted and required options. Uses getopt_long (resetting its
 * state) with its own messages turned off. Returns CLI_ARGS_OK with *ret filled,
 * CLI_ARGS_HELP, or -EINVAL with *ret_error a new string naming the problem (caller frees).
 * Does no I/O. */
int cli_args_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *ret,
                   char **ret_error);

/* Parses a priority: an integer 1-1000 or low (250), normal (500), high (750).
 * Returns 0 with *ret set, or -EINVAL / -ERANGE. */
int cli_parse_priority(const char *s, int64_t *ret);

/* Prints "Usage: tide NOUN VERB USAGE", the help line and the accepted options to f. */
void cli_command_help(FILE *f, const struct cli_command *cmd);

/* The connection to tided that handlers use; built by main() from the global options. */
struct cli_ctx {
        struct cli_http *http;
};

/* Flags of cli_api_call(). */
enum {
        CLI_API_QUIET_NOT_FOUND = 1u << 0,  /* a 404 is expected: return it without a message */
};

/* Prints "tide: error: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) _printf_(1, 2);

/* Sends METHOD PATH with body (NULL for none; not stolen) to tided and waits at most
 * timeout_ms (0: no limit) for the answer. On a 2xx answer returns its status and sets *ret
 * (may be NULL) to the parsed JSON body, or to NULL when there is none (204); the caller
 * owns it. Every failure is reported on stderr ("tide: error: MESSAGE (CODE)" for API
 * errors) and returned: TIDE_E_NOT_FOUND for 404 (silent with CLI_API_QUIET_NOT_FOUND),
 * -EPROTO for other API errors and malformed answers, the transport's -errno otherwise. */
int cli_api_call(struct cli_ctx *ctx, const char *method, const char *path, const json_t *body,
                 unsigned flags, int64_t timeout_ms, json_t **ret);

/* GETs path and hands its raw body out (*ret_body NUL-terminated, caller frees; *ret_len
 * its length). Errors as cli_api_call(). */
int cli_api_get_text(struct cli_ctx *ctx, const char *path, char **ret_body, size_t *ret_len);

/* Percent-encodes s for use as one path segment or query value: everything but RFC 3986's
 * unreserved characters, and the dots of "." and "..". Returns a new string. */
char *cli_escape(const char *s);

/* The generic verbs, each returning an enum cli_exit after reporting any failure.
 * cli_run_list GETs path and prints the array under key (as cols, or JSON); cli_run_show
 * GETs /v1/COLLECTION/NAME and prints it; cli_run_delete DELETEs it and prints nothing;
 * cli_print_answer prints an object the API answered with. */
int cli_run_list(struct cli_ctx *ctx, const char *path, const char *key,
                 const struct cli_column *cols, size_t ncols, enum cli_format format);
int cli_run_show(struct cli_ctx *ctx, const char *collection, const char *name,
                 enum cli_format format);
int cli_run_delete(struct cli_ctx *ctx, const char *collection, const char *name);
int cli_print_answer(struct cli_ctx *ctx, const json_t *obj, enum cli_format format);

/* How far a waited-for instance operation is (cli_wait_check()). */
enum cli_wait_state {
        CLI_WAIT_PENDING,
        CLI_WAIT_DONE,
        CLI_WAIT_FAILED,
};

/* Decides, from one GET of an instance, whether the operation whose end state is want
 * ("running", "stopped" or "deleted") has finished. It has when `task` is null: DONE if
 * `status` is want; FAILED, with *ret_reason a new string, if `status` is `error` (the
 * reason is the instance's `error`) or if `desired` is no longer want (someone asked for
 * something else). While a task runs it is PENDING, even in status `error` (a start may be
 * retrying an instance that failed before). For "deleted" an instance that still exists is
 * PENDING unless it is in status `error` with no task: deletion is seen as a 404 by the
 * caller. Pure. */
enum cli_wait_state cli_wait_check(const json_t *instance, const char *want, char **ret_reason);

/* Handlers (cli_cmd_*.c). Each returns an enum cli_exit. */
int cli_flavor_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_flavor_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_flavor_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_flavor_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_image_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_image_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_image_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_image_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_start(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_stop(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_reboot(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_console(struct cli_ctx *ctx, const struct cli_args *a);
int cli_host_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_host_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_event_list(struct cli_ctx *ctx, const struct cli_args *a);
