/* tide.c — the tide command-line client: global options, help and dispatch over the command
 * table (cli_commands.c).
 *
 *   tide [--url URL] [--token TOKEN] [--socket PATH] NOUN VERB [ARGS]
 *
 * Exit status: 0 success, 1 failure (reported on stderr), 2 usage error. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>

#include "cli/cli.h"
#include "cli/cli_http.h"
#include "common/errors.h"

#ifndef TIDE_VERSION
#define TIDE_VERSION "0.1.0"
#endif

#define DEFAULT_STATE_DIR "/var/lib/tide"
#define TOKEN_FILE_MAX 4096

static void print_commands(FILE *f, const char *noun) {
        for (size_t i = 0; i < cli_n_commands; i++) {
                const struct cli_command *c = &cli_commands[i];
                if (noun && !streq(c->noun, noun))
                        continue;
                fprintf(f, "  tide %s%s%s%s%s\n", c->noun, *c->verb ? " " : "", c->verb, *c->usage ? " " : "",
                        c->usage);
        }
}

static void main_help(FILE *f) {
        fputs("Usage: tide [--url URL] [--token TOKEN] [--socket PATH] COMMAND ...\n"
              "\n"
              "The command-line client of tided, the tide VM pool daemon.\n"
              "\n"
              "Commands:\n",
              f);
        print_commands(f, NULL);
        fputs("\nOld names, still accepted:\n", f);
        for (size_t i = 0; i < cli_n_noun_aliases; i++)
                fprintf(f, "  tide %s ...  is  tide %s ...\n", cli_noun_aliases[i].alias, cli_noun_aliases[i].noun);
        fputs("\n"
              "Options:\n"
              "  --url URL       tided's API over TCP, e.g. http://127.0.0.1:7480 (env TIDE_URL)\n"
              "  --token TOKEN   bearer token for --url (env TIDE_TOKEN; default: the contents\n"
              "                  of $TIDE_STATE_DIR/admin.token or " DEFAULT_STATE_DIR "/admin.token)\n"
              "  --socket PATH   tided's unix socket when no URL is given (env TIDE_SOCKET;\n"
              "                  default $TIDE_STATE_DIR/tided.sock or " DEFAULT_STATE_DIR "/tided.sock)\n"
              "  --version       print the version\n"
              "  -h, --help      show this help\n"
              "\n"
              "Run 'tide NOUN VERB --help' for a command's options.\n",
              f);
}

static void noun_help(FILE *f, const char *noun) {
        fprintf(f, "Usage: tide %s VERB ...\n\nCommands:\n", noun);
        for (size_t i = 0; i < cli_n_commands; i++)
                if (streq(cli_commands[i].noun, noun))
                        fprintf(f, "  %-14s %s\n", cli_commands[i].verb, cli_commands[i].help);
        fprintf(f, "\nRun 'tide %s VERB --help' for a command's options.\n", noun);
}

static const char *env(const char *name) {
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

/* The admin token tided leaves in its state directory, when this user may read it. */
static char *load_token(void) {
        const char *dir = env("TIDE_STATE_DIR") ?: DEFAULT_STATE_DIR;
        _cleanup_free_ char *path = xasprintf("%s/admin.token", dir);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (read_file(path, TOKEN_FILE_MAX, &data, &len) < 0)
                return NULL; /* no token then: tided's 401 tells the user, with a hint */
        while (len > 0 && strchr(" \t\r\n", data[len - 1]))
                data[--len] = 0;
        return len > 0 && !memchr(data, 0, len) ? TAKE_PTR(data) : NULL;
}

static _printf_(1, 2) int usage_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        fprintf(stderr, "tide: %s\nRun 'tide --help' for usage.\n", msg);
        return CLI_EXIT_USAGE;
}

/* Finds the command that words[1..] names for the noun words[0] (or the noun it is an old name
 * of). Sets *ret_cmd and *ret_nwords (the words of its verb) when there is one; otherwise
 * prints the noun's help, on stdout when it was asked for (returns CLI_EXIT_OK) or on stderr
 * with the problem (returns CLI_EXIT_USAGE), and leaves *ret_cmd alone. */
static int find_verb(int nwords, char **words, const struct cli_command **ret_cmd, int *ret_nwords) {
        const char *noun = cli_noun_resolve(words[0]);
        if (nwords < 2) {
                fprintf(stderr, "tide %s: missing command\n", noun);
                noun_help(stderr, noun);
                return CLI_EXIT_USAGE;
        }
        const char *verb = words[1];
        if (streq(verb, "-h") || streq(verb, "--help")) {
                noun_help(stdout, noun);
                return CLI_EXIT_OK;
        }
        const struct cli_command *cmd = cli_command_find(cli_commands, cli_n_commands, noun, nwords - 1, words + 1,
                                                         ret_nwords);
        if (!cmd && cli_verb_is_first_word(cli_commands, cli_n_commands, noun, verb)) {
                /* "tide placement config", "... config --help", "... config bogus" */
                const char *next = nwords > 2 ? words[2] : NULL;
                if (next && (streq(next, "-h") || streq(next, "--help"))) {
                        noun_help(stdout, noun);
                        return CLI_EXIT_OK;
                }
                if (next)
                        fprintf(stderr, "tide %s %s: unknown command '%s'\n", noun, verb, next);
                else
                        fprintf(stderr, "tide %s %s: missing command\n", noun, verb);
                noun_help(stderr, noun);
                return CLI_EXIT_USAGE;
        }
        if (!cmd) {
                fprintf(stderr, "tide %s: unknown command '%s'\n", noun, verb);
                noun_help(stderr, noun);
                return CLI_EXIT_USAGE;
        }
        *ret_cmd = cmd;
        return CLI_EXIT_OK;
}

static int run(int argc, char **argv) {
        enum { ARG_URL = 0x100, ARG_TOKEN, ARG_SOCKET, ARG_VERSION };
        static const struct option options[] = { { "url", required_argument, NULL, ARG_URL },
                                                 { "token", required_argument, NULL, ARG_TOKEN },
                                                 { "socket", required_argument, NULL, ARG_SOCKET },
                                                 { "version", no_argument, NULL, ARG_VERSION },
                                                 { "help", no_argument, NULL, 'h' },
                                                 {} };
        const char *url = NULL, *token = NULL, *socket_path = NULL;

        opterr = 0;
        optind = 0;
        /* "+": stop at the command, whose options are its own. */
        for (int c; (c = getopt_long(argc, argv, "+:h", options, NULL)) != -1;) {
                switch (c) {
                case ARG_URL:
                        url = optarg;
                        break;
                case ARG_TOKEN:
                        token = optarg;
                        break;
                case ARG_SOCKET:
                        socket_path = optarg;
                        break;
                case ARG_VERSION:
                        printf("tide %s\n", TIDE_VERSION);
                        return CLI_EXIT_OK;
                case 'h':
                        main_help(stdout);
                        return CLI_EXIT_OK;
                case ':':
                        return usage_error("option '%s' needs an argument", argv[optind - 1]);
                default:
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (url && socket_path)
                return usage_error("give --url or --socket, not both");

        if (optind >= argc) {
                fputs("tide: missing command\n", stderr);
                main_help(stderr);
                return CLI_EXIT_USAGE;
        }
        /* An old name is the noun it stands for from here on, in messages too. */
        const char *noun = cli_noun_resolve(argv[optind]);
        if (!cli_noun_exists(noun))
                return usage_error("unknown command '%s'", noun);
        const struct cli_command *cmd = cli_noun_command(noun);
        int nwords = 0;
        if (!cmd) {
                int status = find_verb(argc - optind, argv + optind, &cmd, &nwords);
                if (!cmd)
                        return status; /* reported, or the noun's help printed */
        }
        _cleanup_free_ char *cmd_name = *cmd->verb ? xasprintf("%s %s", noun, cmd->verb) : xstrdup(noun);

        struct cli_args args;
        _cleanup_free_ char *err = NULL;
        /* The parser's argv[0] is the verb's last word (the noun for a noun's own command);
         * options and operands follow it. */
        int skip = optind + nwords;
        int r = cli_args_parse(cmd, argc - skip, argv + skip, &args, &err);
        if (r == CLI_ARGS_HELP) {
                cli_command_help(stdout, cmd);
                return CLI_EXIT_OK;
        }
        if (r < 0) {
                fprintf(stderr,
                        "tide %s: %s\nUsage: tide %s%s%s\n"
                        "Run 'tide %s --help' for more.\n",
                        cmd_name, err, cmd_name, *cmd->usage ? " " : "", cmd->usage, cmd_name);
                return CLI_EXIT_USAGE;
        }

        /* The command line beats the environment: an explicit --socket overrides TIDE_URL. */
        if (!url && !socket_path)
                url = env("TIDE_URL");
        _cleanup_free_ char *socket_default = NULL;
        if (!url && !socket_path)
                socket_path = env("TIDE_SOCKET");
        if (!url && !socket_path) {
                socket_default = xasprintf("%s/tided.sock", env("TIDE_STATE_DIR") ?: DEFAULT_STATE_DIR);
                socket_path = socket_default;
        }
        if (!token)
                token = env("TIDE_TOKEN");
        _cleanup_free_ char *token_file = NULL;
        if (!token && url)
                token = token_file = load_token();

        struct cli_ctx ctx = {};
        r = cli_http_new(url, url ? NULL : socket_path, token, &ctx.http);
        if (r < 0) {
                cli_error("cannot set up the HTTP client: %s", tide_strerror(r));
                return CLI_EXIT_FAILURE;
        }
        r = cmd->run(&ctx, &args);
        cli_http_free(ctx.http);
        return r;
}

int main(int argc, char **argv) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                cli_error("cannot initialise libcurl");
                return CLI_EXIT_FAILURE;
        }
        int r = run(argc, argv);
        curl_global_cleanup();

        /* Output that could not be written is a failure, not silence (a full disk, a pipe). */
        errno = 0;
        if (fflush(stdout) == EOF || ferror(stdout)) {
                if (errno != EPIPE)
                        cli_error("cannot write the output%s%s", errno ? ": " : "", errno ? strerror(errno) : "");
                return CLI_EXIT_FAILURE;
        }
        return r;
}
