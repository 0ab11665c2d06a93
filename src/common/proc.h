/* proc.h — running helper programs (qemu-img, genisoimage) by argument vector, never a shell. */
#pragma once

#include <stddef.h>

/* Runs argv[0] (looked up in PATH) with argv, stdin from /dev/null, and waits at most timeout_ms
 * (the child is killed past it: returns TIDE_E_TIMEOUT). Its stdout (at most 1 MiB) goes to
 * *ret_out when ret_out is non-NULL (caller frees), its stderr (at most 64 KiB) to *ret_err when
 * non-NULL. Returns the exit status (0..255) or a negative error; 128+N when killed by signal N. */
int proc_run(char *const argv[], int timeout_ms, char **ret_out, char **ret_err);
