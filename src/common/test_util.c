/* Unit tests of util.c's utf8_make_valid(): well-formed UTF-8 is left as it is, anything else
 * becomes '?' byte by byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"

static void check(const char *in, const char *want) {
        char *s = xstrdup(in);
        utf8_make_valid(s);
        assert_string_equal(s, want);
        free(s);
}

static void valid_text_is_kept(void **state) {
        check("", "");
        check("plain ascii", "plain ascii");
        check("caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80"); /* é → 😀 */
        check("\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\xef\xbf\xbf\xf4\x8f\xbf\xbf"); /* U+FFFF, U+10FFFF */
}

static void broken_sequences_become_question_marks(void **state) {
        check("%\xff%", "%?%");
        check("caf\xc3", "caf?");          /* cut after the first byte */
        check("\xe2\x86", "??");           /* cut in a three-byte character */
        check("\xc0\xaf", "??");           /* overlong '/' */
        check("\xe0\x80\xaf", "???");      /* overlong, three bytes */
        check("\xed\xa0\x80", "???");      /* a surrogate */
        check("\xf4\x90\x80\x80", "????"); /* above U+10FFFF */
        check("\x80x\xbf", "?x?");         /* lone continuation bytes */
        check("\xc3\xa9\xc3", "\xc3\xa9?");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(valid_text_is_kept),
                cmocka_unit_test(broken_sequences_become_question_marks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
