/* log.h — logging to stderr for the daemon, the agent and the CLI.
 *
 * Pure code (model, placement, JSON, decisions) never logs. The log_*_errno() forms take a
 * negative error code, print its text for %m and return the code, so that
 * `return log_error_errno(r, "starting VM '%s': %m", name);` logs once and propagates. */
#pragma once

#include "util.h"

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARNING, LOG_LVL_ERROR, LOG_LVL__MAX };

void log_set_level(enum log_level l);
void log_set_ident(const char *ident);
enum log_level log_get_level(void);
/* Logs at level; %m in fmt stands for tide_strerror(error). Returns error (negative) or 0. */
int log_internal(enum log_level level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_debug(...) log_internal(LOG_LVL_DEBUG, 0, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_internal(LOG_LVL_INFO, 0, __FILE__, __LINE__, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_LVL_WARNING, 0, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_internal(LOG_LVL_ERROR, 0, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_LVL_DEBUG, (e), __FILE__, __LINE__, __VA_ARGS__)
#define log_info_errno(e, ...) log_internal(LOG_LVL_INFO, (e), __FILE__, __LINE__, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_LVL_WARNING, (e), __FILE__, __LINE__, __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_LVL_ERROR, (e), __FILE__, __LINE__, __VA_ARGS__)
