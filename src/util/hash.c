#include "util/common.h"
#include "util/hash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

static void to_hex(char *out, const unsigned char *digest, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[2 * len] = '\0';
}

static EVP_MD_CTX *blob_begin(size_t size)
{
	char header[32];
	int n = snprintf(header, sizeof(header), "blob %zu", size);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL))
		plumb_xmalloc((size_t)-1); /* OpenSSL only fails here when out of memory */
	EVP_DigestUpdate(ctx, header, (size_t)n + 1); /* the NUL is part of the header */
	return ctx;
}

static void blob_end(EVP_MD_CTX *ctx, char out[PLUMB_OID_HEXSZ + 1])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_DigestFinal_ex(ctx, digest, &len);
	EVP_MD_CTX_free(ctx);
	to_hex(out, digest, len);
}

void plumb_hash_blob_buf(char out[PLUMB_OID_HEXSZ + 1], const void *data, size_t len)
{
	EVP_MD_CTX *ctx = blob_begin(len);
	EVP_DigestUpdate(ctx, data, len);
	blob_end(ctx, out);
}

int plumb_hash_blob_fd(char out[PLUMB_OID_HEXSZ + 1], int fd, size_t size)
{
	unsigned char chunk[65536];
	size_t left = size;
	EVP_MD_CTX *ctx = blob_begin(size);

	while (left) {
		ssize_t n = read(fd, chunk, left < sizeof(chunk) ? left : sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			EVP_MD_CTX_free(ctx);
			return plumb_error_set(PLUMB_ERROR, "%s", n < 0 ? strerror(errno) : "file shrank while it was read");
		}
		EVP_DigestUpdate(ctx, chunk, (size_t)n);
		left -= (size_t)n;
	}
	blob_end(ctx, out);
	return 0;
}

void plumb_hash_sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL);
	to_hex(out, digest, n);
}

int plumb_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
