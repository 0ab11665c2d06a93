/* test_sha256.c — SHA-256 against FIPS 180-4's examples and sha256sum, fed in pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/sha256.h"

static void hash_in_pieces(const void *data, size_t n, size_t piece, char out[SHA256_HEX_SIZE]) {
        struct sha256 s;
        sha256_init(&s);
        for (size_t off = 0; off < n; off += piece)
                sha256_update(&s, (const char *) data + off, n - off < piece ? n - off : piece);
        sha256_final_hex(&s, out);
}

static void test_known_answers(void **state) {
        static const struct {
                const char *in, *hex;
        } cases[] = {
                { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
                { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
                { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        };
        char out[SHA256_HEX_SIZE];
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                hash_in_pieces(cases[i].in, strlen(cases[i].in), 1000, out);
                assert_string_equal(out, cases[i].hex);
        }
}

/* The same stream cut anywhere gives the same digest: one million 'a' (FIPS 180-4's third
 * example) in pieces of 1, 63, 64, 65 and 4096 bytes. */
static void test_stream_cut_anywhere(void **state) {
        static char a[1000000];
        memset(a, 'a', sizeof a);
        static const size_t pieces[] = { 1, 63, 64, 65, 4096, sizeof a };
        char out[SHA256_HEX_SIZE];
        for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
                hash_in_pieces(a, sizeof a, pieces[i], out);
                assert_string_equal(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        }
}

/* Lengths around the padding's edge (55, 56, 63, 64 bytes), checked against sha256sum. */
static void test_padding_edges(void **state) {
        static const struct {
                size_t n;
                const char *hex;
        } cases[] = {
                { 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
                { 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
                { 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
                { 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
        };
        char buf[64], out[SHA256_HEX_SIZE];
        memset(buf, 'a', sizeof buf);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                hash_in_pieces(buf, cases[i].n, 7, out);
                assert_string_equal(out, cases[i].hex);
        }
}

static void test_hex_valid(void **state) {
        assert_true(sha256_hex_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        assert_false(sha256_hex_valid("E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        assert_false(sha256_hex_valid("e3b0"));
        assert_false(sha256_hex_valid(""));
        assert_false(sha256_hex_valid(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_known_answers),
                cmocka_unit_test(test_stream_cut_anywhere),
                cmocka_unit_test(test_padding_edges),
                cmocka_unit_test(test_hex_valid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
