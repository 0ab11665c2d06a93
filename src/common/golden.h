/* golden.h — golden-file tests (tests/<area>/<case><ext> with <case>.expected): every case of a
 * directory is run through a function that returns its text, which must equal the expected
 * file; with TIDE_GOLDEN_UPDATE=1 in the environment the expected files are rewritten from what
 * the code does now (then review the diff). For the unit tests of src/sched, src/ctl (elastic,
 * heat) and whatever else decides from a saved input. */
#pragma once

#include <stddef.h>

/* Returns the text case_path gives (caller frees); may abort the test on broken input. name is
 * the case's name (the file name less ext). */
typedef char *(*golden_fn)(const char *case_path, const char *name, void *userdata);

/* Runs every <case><ext> in dir, in name order, and compares with <case>.expected, printing each
 * difference (expected, then got) or missing file. Returns the number of cases that failed;
 * -1 when dir cannot be read or holds fewer than min_cases cases. */
int golden_run(const char *dir, const char *ext, size_t min_cases, golden_fn fn, void *userdata);
