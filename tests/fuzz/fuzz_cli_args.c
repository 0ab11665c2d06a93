/* fuzz_cli_args.c — the tide client's command lookup and option parser (cli_command_find(),
 * cli_verb_is_first_word(), cli_noun_command(), cli_args_parse(), cli_command_help()) on
 * arbitrary command lines, against the real command table (cli_commands, cli.h).
 *
 * Nothing but the table, its lookups and the parsers runs (no HTTP, no environment, no output
 * but the help, which goes to /dev/null).
 *
 * Input: the words after "tide", split on NUL or newline: NOUN VERB [ARGS...] (a noun without
 * verbs, "metrics", takes its ARGS directly; an old name, "group", is its noun). The command is found as tide.c's run() finds it;
 * its arguments go through cli_args_parse() as run() passes them (argv[0] is the verb's last
 * word). Every word also goes through the small parsers (duration, adjust, double, priority,
 * label).
 *
 * Checks: cli_args_parse() returns OK, HELP or -EINVAL, with a message exactly when -EINVAL;
 * on OK the operands are there, non-empty, and every required option was given. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WORDS_MAX 64
#define INPUT_MAX 4096

static void fail(const char *what, const char *detail) {
        fprintf(stderr, "fuzz_cli_args: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
        abort();
}

static void small_parsers(const char *w) {
        int64_t n;
        double d;
        size_t klen;
        if (cli_parse_duration(w, &n) == 0 && (n < 0 || n > CLI_DURATION_MAX_S))
                fail("cli_parse_duration out of range", w);
        (void) cli_parse_adjust(w);
        if (cli_parse_double(w, &d) == 0 && !isfinite(d))
                fail("cli_parse_double gave a non-finite number", w);
        if (cli_parse_priority(w, &n) == 0 && (n < 1 || n > 1000))
                fail("cli_parse_priority out of range", w);
        if (cli_parse_label(w, &klen) == 0 && (klen == 0 || w[klen] != '='))
                fail("cli_parse_label: a key length that is not up to '='", w);
        (void) cli_parse_label_key(w);
}

/* The operands a command takes: the words of cmd->operands. */
static size_t operands(const struct cli_command *cmd) {
        size_t n = 0;
        for (const char *p = cmd->operands ? cmd->operands : ""; *p;) {
                p += strspn(p, " ");
                if (*p)
                        n++;
                p += strcspn(p, " ");
        }
        return n;
}

static void parse(const struct cli_command *cmd, int argc, char **argv) {
        static FILE *devnull;
        if (!devnull && !(devnull = fopen("/dev/null", "we")))
                abort();
        struct cli_args a;
        char *err = NULL;
        int r = cli_args_parse(cmd, argc, argv, &a, &err);
        if (r == -EINVAL) {
                if (!err)
                        fail("-EINVAL without a message", cmd->verb);
                free(err);
                return;
        }
        if (err)
                fail("a message without -EINVAL", err);
        if (r == CLI_ARGS_HELP) {
                cli_command_help(devnull, cmd);
                return;
        }
        if (r != CLI_ARGS_OK)
                fail("cli_args_parse returned something else than OK, HELP or -EINVAL", cmd->verb);
        size_t want = operands(cmd);
        if ((want >= 1 && (!a.name || !*a.name)) || (want >= 2 && (!a.name2 || !*a.name2)))
                fail("a missing or empty operand was taken", cmd->verb);
        if ((a.given & cmd->required) != cmd->required)
                fail("a required option is missing", cmd->verb);
        if ((a.given & ~cmd->options) != 0)
                fail("an option the command does not accept was taken", cmd->verb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > INPUT_MAX)
                return 0;
        /* One buffer, the separators turned into NULs: the words point into it. */
        char *buf = xmalloc(size + 1);
        memcpy(buf, data, size);
        buf[size] = 0;
        char *words[WORDS_MAX + 1];
        int nwords = 0;
        for (size_t i = 0, start = 0; i <= size && nwords < WORDS_MAX; i++)
                if (i == size || buf[i] == '\n' || buf[i] == 0) {
                        buf[i] = 0;
                        if (i > start || i < size) /* empty words count, but not after the last */
                                words[nwords++] = buf + start;
                        start = i + 1;
                }
        words[nwords] = NULL;

        for (int i = 0; i < nwords; i++)
                small_parsers(words[i]);

        /* An old name stands for its noun (cli_noun_resolve), as in run(). */
        const char *noun = nwords >= 1 ? cli_noun_resolve(words[0]) : NULL;
        if (noun && cli_noun_exists(noun)) {
                const struct cli_command *cmd = cli_noun_command(noun);
                int verb_words = 0;
                if (!cmd && nwords >= 2) {
                        cmd = cli_command_find(cli_commands, cli_n_commands, noun, nwords - 1, words + 1, &verb_words);
                        if (!cmd)
                                (void) cli_verb_is_first_word(cli_commands, cli_n_commands, noun, words[1]);
                        else if (verb_words < 1 || verb_words > 2 || !streq(cmd->noun, noun))
                                fail("cli_command_find gave a command of another noun or a bad word count", noun);
                }
                /* As run(): the parser's argv[0] is the verb's last word (the noun for a noun's
                 * own command). */
                if (cmd)
                        parse(cmd, nwords - verb_words, words + verb_words);
        }
        free(buf);
        return 0;
}
