/* log.c — logging to stderr with a level, a stamp and the source position at debug level. */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "errors.h"
#include "strbuf.h"

static enum log_level max_level = LOG_LVL_INFO;
static const char *ident = "tide";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level l) {
        max_level = l;
}
enum log_level log_get_level(void) {
        return max_level;
}
void log_set_ident(const char *s) {
        ident = s;
}

int log_internal(enum log_level level, int error, const char *file, int line, const char *fmt, ...) {
        if (level < max_level)
                return error;

        static const char *const names[LOG_LVL__MAX] = { "debug", "info", "warning", "error" };
        /* Expand %m by hand: the error is ours (negative errno or tide code), not errno. */
        struct strbuf f = STRBUF_INIT(0);
        for (const char *p = fmt; *p; p++) {
                if (p[0] == '%' && p[1] == '%') {
                        strbuf_append(&f, "%%", 2);
                        p++;
                } else if (p[0] == '%' && p[1] == 'm') {
                        for (const char *e = tide_strerror(error); *e; e++)
                                strbuf_append(&f, *e == '%' ? "%%" : e, *e == '%' ? 2 : 1);
                        p++;
                } else
                        strbuf_append(&f, p, 1);
        }
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(strbuf_str(&f), ap);
        va_end(ap);
        strbuf_clear(&f);

        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);

        pthread_mutex_lock(&log_lock);
        if (max_level == LOG_LVL_DEBUG)
                fprintf(stderr, "%s.%03ld %s[%d] %s: %s (%s:%d)\n", stamp, ts.tv_nsec / 1000000, ident, (int) getpid(),
                        names[level], msg, file, line);
        else
                fprintf(stderr, "%s.%03ld %s[%d] %s: %s\n", stamp, ts.tv_nsec / 1000000, ident, (int) getpid(),
                        names[level], msg);
        pthread_mutex_unlock(&log_lock);
        return error;
}
