/* sha256.h — SHA-256 (FIPS 180-4) over a stream: init, update with each piece as it comes,
 * final. Pure; used to check image files as they are received and copied between hosts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE (2 * SHA256_DIGEST_SIZE + 1) /* with its NUL */

struct sha256 {
        uint32_t h[8];
        uint64_t len; /* bytes hashed so far */
        uint8_t buf[64];
        size_t n; /* bytes waiting in buf */
};

/* Starts a hash. */
void sha256_init(struct sha256 *s);
/* Hashes n more bytes of data (any n, in as many pieces as wanted). */
void sha256_update(struct sha256 *s, const void *data, size_t n);
/* Ends the hash: out gets the digest as 64 lowercase hex digits and a NUL. s must be
 * initialised again before reuse. */
void sha256_final_hex(struct sha256 *s, char out[SHA256_HEX_SIZE]);
/* Whether s is 64 lowercase hex digits (the form sha256_final_hex writes). */
bool sha256_hex_valid(const char *s);
