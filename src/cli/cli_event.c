/* cli_event.c — tide event list. */
#include "cli/cli.h"

#include <inttypes.h>

#include "common/strbuf.h"

static const struct cli_column event_columns[] = {
        { "TIME", "time", NULL },         { "SEVERITY", "severity", NULL }, { "TYPE", "type", NULL },
        { "INSTANCE", "instance", NULL }, { "HOST", "host", NULL },         { "MESSAGE", "message", NULL },
};

int cli_event_list(struct cli_ctx *ctx, const struct cli_args *a) {
        struct strbuf path = STRBUF_INIT(0);
        char sep = '?';
        strbuf_puts(&path, "/v1/events");
        if (a->instance) {
                _cleanup_free_ char *e = cli_escape(a->instance);
                strbuf_printf(&path, "%cinstance=%s", sep, e);
                sep = '&';
        }
        if (a->scaling_group) {
                _cleanup_free_ char *e = cli_escape(a->scaling_group);
                strbuf_printf(&path, "%cgroup=%s", sep, e);
                sep = '&';
        }
        if (a->given & CLI_F(CLI_OPT_LIMIT))
                strbuf_printf(&path, "%climit=%" PRId64, sep, a->limit);

        _cleanup_free_ char *p = strbuf_steal(&path);
        return cli_run_list(ctx, p, "events", event_columns, ELEMENTSOF(event_columns), a->format);
}
