/*
 * age.c - the age v1 file format (age.h), natively with OpenSSL.
 *
 * This file reads best whole: it is one specification, written in the
 * spec's order (the strict base64 and bech32 encodings, the X25519, HKDF,
 * ChaCha20-Poly1305 and HMAC primitives, keys, then encryption and the
 * decryption that mirrors it), and its two halves share every constant,
 * label and primitive, so that one reads each rule of the format once,
 * next to where it is written and where it is checked. Split, the
 * primitives that handle secret scalars and file keys would have to leave
 * this file through a header; whole, they stay static, and every place
 * key material and plaintext pass through, and are wiped, is in sight.
 */
#include "util/common.h"
#include "secrets/age.h"

#include <ctype.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <strings.h>

#define KEY_SIZE 32      /* X25519 scalars and points, ChaCha20 and HMAC keys */
#define FILE_KEY_SIZE 16
#define TAG_SIZE 16      /* Poly1305 */
#define NONCE_SIZE 16    /* the payload nonce that salts the payload key */
#define CHUNK_SIZE 65536 /* plaintext bytes per STREAM chunk */
#define COLUMNS 64       /* base64 characters per line, in the header and in the armor */
#define MAX_WHITESPACE 1024 /* around an armored file, as age allows */

static const char intro[] = "age-encryption.org/v1\n";
static const char x25519_label[] = "age-encryption.org/v1/X25519";
static const char armor_header[] = "-----BEGIN AGE ENCRYPTED FILE-----";
static const char armor_footer[] = "-----END AGE ENCRYPTED FILE-----";
static const char recipient_hrp[] = "age";
static const char identity_hrp[] = "AGE-SECRET-KEY-";

/* Clear OpenSSL's error queue so nobody later reads a stale entry (STYLE: read a library's error right away). */
static int crypto_failed(const char *what)
{
	ERR_clear_error();
	return plumb_error_set(PLUMB_ERROR, "OpenSSL failed to %s", what);
}

/* ---- base64: standard alphabet, strict (canonical, no stray characters) ---- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(plumb_buf *out, const unsigned char *in, size_t len, bool pad)
{
	for (size_t i = 0; i < len; i += 3) {
		size_t left = len - i;
		uint32_t v = (uint32_t)in[i] << 16 | (left > 1 ? (uint32_t)in[i + 1] << 8 : 0) | (left > 2 ? in[i + 2] : 0);
		char quad[4] = { b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63], b64_alphabet[(v >> 6) & 63],
				 b64_alphabet[v & 63] };
		size_t keep = left > 2 ? 4 : left + 1;
		if (pad)
			for (size_t j = keep; j < 4; j++)
				quad[j] = '=';
		plumb_buf_add(out, quad, pad ? 4 : keep);
	}
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/*
 * Decode n characters into out (room for n / 4 * 3 + 2 bytes), setting
 * *out_len. -1 unless the text is the one canonical encoding: with pad,
 * "=" exactly where needed; without, none; unused low bits zero.
 */
static int b64_decode(unsigned char *out, size_t *out_len, const char *in, size_t n, bool pad)
{
	if (pad) {
		if (n % 4)
			return -1;
		if (n && in[n - 1] == '=')
			n -= n >= 2 && in[n - 2] == '=' ? 2 : 1;
	}
	if (n % 4 == 1)
		return -1;
	size_t len = 0;
	uint32_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[len++] = (unsigned char)(acc >> 16);
			out[len++] = (unsigned char)(acc >> 8);
			out[len++] = (unsigned char)acc;
			acc = 0;
		}
	}
	if (n % 4 == 2) {
		if (acc & 15)
			return -1;
		out[len++] = (unsigned char)(acc >> 4);
	} else if (n % 4 == 3) {
		if (acc & 3)
			return -1;
		out[len++] = (unsigned char)(acc >> 10);
		out[len++] = (unsigned char)(acc >> 2);
	}
	*out_len = len;
	return 0;
}

/* An X25519 share or the MAC: 32 bytes, which is always 43 characters. */
static bool b64_decode_key(unsigned char out[KEY_SIZE], const char *in, size_t n)
{
	size_t len;
	return n == 43 && b64_decode(out, &len, in, n, false) == 0;
}

/* ---- bech32 (BIP-173 checksum) for 32-byte keys ---- */

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
#define BECH32_VALUES 52 /* 256 bits in 5-bit groups, 4 bits of zero padding */
#define BECH32_CHECKSUM 6

static uint32_t bech32_step(uint32_t chk, unsigned v)
{
	static const uint32_t gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3 };
	uint32_t top = chk >> 25;
	chk = (chk & 0x1ffffff) << 5 ^ v;
	for (int i = 0; i < 5; i++)
		if (top >> i & 1)
			chk ^= gen[i];
	return chk;
}

/* The checksum is defined over the lowercase human-readable part, whatever case the string uses. */
static uint32_t bech32_polymod(const char *hrp, const unsigned char *values, size_t count)
{
	uint32_t chk = 1;
	for (const char *p = hrp; *p; p++)
		chk = bech32_step(chk, (unsigned)tolower((unsigned char)*p) >> 5);
	chk = bech32_step(chk, 0);
	for (const char *p = hrp; *p; p++)
		chk = bech32_step(chk, (unsigned)tolower((unsigned char)*p) & 31);
	for (size_t i = 0; i < count; i++)
		chk = bech32_step(chk, values[i]);
	return chk;
}

/* hrp + "1" + data + checksum, a new string; upper for identities, which age writes in uppercase. */
static char *bech32_encode(const char *hrp, const unsigned char key[KEY_SIZE], bool upper)
{
	unsigned char values[BECH32_VALUES + BECH32_CHECKSUM] = { 0 };
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < KEY_SIZE; i++) {
		acc = acc << 8 | key[i];
		for (bits += 8; bits >= 5; bits -= 5)
			values[n++] = acc >> (bits - 5) & 31;
	}
	values[n++] = acc << (5 - bits) & 31;
	uint32_t chk = bech32_polymod(hrp, values, sizeof(values)) ^ 1;
	for (int i = 0; i < BECH32_CHECKSUM; i++)
		values[n++] = chk >> (5 * (5 - i)) & 31;

	size_t hrp_len = strlen(hrp);
	char *s = plumb_xmalloc(hrp_len + 1 + n + 1);
	memcpy(s, hrp, hrp_len);
	s[hrp_len] = '1';
	for (size_t i = 0; i < n; i++)
		s[hrp_len + 1 + i] = bech32_charset[values[i]];
	s[hrp_len + 1 + n] = '\0';
	for (char *p = s; upper && *p; p++)
		*p = (char)toupper((unsigned char)*p);
	OPENSSL_cleanse(values, sizeof(values));
	return s;
}

/*
 * Decode the n characters of s into a 32-byte key; -1 unless s is hrp
 * (compared exactly, so recipients are lowercase and identities uppercase,
 * as age requires) + "1" + 52 data characters + a valid checksum, in one case.
 */
static int bech32_decode(unsigned char key[KEY_SIZE], const char *s, size_t n, const char *hrp)
{
	unsigned char values[BECH32_VALUES + BECH32_CHECKSUM];
	size_t hrp_len = strlen(hrp);
	bool upper = isupper((unsigned char)hrp[0]); /* the hrp's case is the whole string's */
	int error = -1;

	if (n != hrp_len + 1 + sizeof(values) || memcmp(s, hrp, hrp_len) != 0 || s[hrp_len] != '1')
		return -1;
	for (size_t i = 0; i < sizeof(values); i++) {
		unsigned char c = (unsigned char)s[hrp_len + 1 + i];
		const char *p = c ? strchr(bech32_charset, tolower(c)) : NULL;
		if (!p || (upper ? islower(c) : isupper(c)))
			goto done;
		values[i] = (unsigned char)(p - bech32_charset);
	}
	if (bech32_polymod(hrp, values, sizeof(values)) != 1 || (values[BECH32_VALUES - 1] & 15))
		goto done;
	uint32_t acc = 0;
	int bits = 0;
	size_t len = 0;
	for (size_t i = 0; i < BECH32_VALUES; i++) {
		acc = acc << 5 | values[i];
		if ((bits += 5) >= 8) {
			bits -= 8;
			key[len++] = (unsigned char)(acc >> bits);
		}
	}
	error = 0;
done:
	OPENSSL_cleanse(values, sizeof(values));
	return error;
}

/* ---- primitives ---- */

/* The X25519 public key of a secret scalar (X25519(scalar, basepoint)). */
static int x25519_public(unsigned char pub[KEY_SIZE], const unsigned char secret[KEY_SIZE])
{
	size_t len = KEY_SIZE;
	EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, KEY_SIZE);
	int ok = key && EVP_PKEY_get_raw_public_key(key, pub, &len) == 1 && len == KEY_SIZE;
	EVP_PKEY_free(key);
	return ok ? 0 : crypto_failed("derive an X25519 public key");
}

/* A fresh X25519 key pair: secret from the system's random source, pub from it. */
static int new_key_pair(unsigned char secret[KEY_SIZE], unsigned char pub[KEY_SIZE])
{
	if (RAND_bytes(secret, KEY_SIZE) != 1)
		return crypto_failed("generate random bytes");
	return x25519_public(pub, secret);
}

/*
 * X25519(secret, point). -1 without a message when the result is all
 * zeros (a low-order point, which OpenSSL refuses too): callers say which
 * input was at fault.
 */
static int x25519(unsigned char out[KEY_SIZE], const unsigned char secret[KEY_SIZE],
		  const unsigned char point[KEY_SIZE])
{
	EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, KEY_SIZE);
	EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, point, KEY_SIZE);
	EVP_PKEY_CTX *ctx = key ? EVP_PKEY_CTX_new(key, NULL) : NULL;
	size_t len = KEY_SIZE;
	unsigned char bits = 0;
	int ok = peer && ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
		 EVP_PKEY_derive(ctx, out, &len) == 1 && len == KEY_SIZE;
	for (size_t i = 0; ok && i < KEY_SIZE; i++)
		bits |= out[i];
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(key);
	ERR_clear_error();
	if (ok && bits)
		return 0;
	OPENSSL_cleanse(out, KEY_SIZE);
	return -1;
}

/* HKDF-SHA-256 to a 32-byte key; an empty salt is omitted, which HKDF defines as the same thing. */
static int hkdf(unsigned char out[KEY_SIZE], const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
		const char *info)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5], *p = params;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	if (salt_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	int ok = ctx && EVP_KDF_derive(ctx, out, KEY_SIZE, params) == 1;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : crypto_failed("derive a key with HKDF");
}

/* ChaCha20-Poly1305: seal len bytes of in into out (len bytes of ciphertext, then the tag). */
static int seal(EVP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char key[KEY_SIZE],
		const unsigned char nonce[12], const unsigned char *in, size_t len)
{
	int n = 0, tail = 0;
	int ok = EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) == 1 &&
		 EVP_EncryptUpdate(ctx, out, &n, in, (int)len) == 1 && EVP_EncryptFinal_ex(ctx, out + n, &tail) == 1 &&
		 (size_t)(n + tail) == len && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_SIZE, out + len) == 1;
	return ok ? 0 : crypto_failed("encrypt with ChaCha20-Poly1305");
}

/* Open len bytes of in (ciphertext then tag) into out: true when authentic. out is written even when not. */
static bool open_sealed(EVP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char key[KEY_SIZE],
			const unsigned char nonce[12], const unsigned char *in, size_t len)
{
	int n = 0, tail = 0;
	bool ok = len >= TAG_SIZE && EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) == 1 &&
		  EVP_DecryptUpdate(ctx, out, &n, in, (int)(len - TAG_SIZE)) == 1 &&
		  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_SIZE, (void *)(in + len - TAG_SIZE)) == 1 &&
		  EVP_DecryptFinal_ex(ctx, out + n, &tail) == 1;
	ERR_clear_error();
	return ok;
}

/* HMAC-SHA-256 of the header up to and including "---", keyed from the file key. */
static int header_mac(unsigned char mac[KEY_SIZE], const unsigned char file_key[FILE_KEY_SIZE], const void *header,
		      size_t len)
{
	unsigned char key[KEY_SIZE];
	unsigned int mac_len = 0;
	int error = hkdf(key, file_key, FILE_KEY_SIZE, NULL, 0, "header");
	if (!error && (!HMAC(EVP_sha256(), key, KEY_SIZE, header, len, mac, &mac_len) || mac_len != KEY_SIZE))
		error = crypto_failed("compute the header MAC");
	OPENSSL_cleanse(key, sizeof(key));
	return error;
}

/* ---- keys ---- */

int plumb_age_keygen(char **identity_out, char **recipient_out)
{
	unsigned char secret[KEY_SIZE], pub[KEY_SIZE];
	int error;

	*identity_out = *recipient_out = NULL;
	if ((error = new_key_pair(secret, pub)) < 0)
		goto done;
	*identity_out = bech32_encode("age-secret-key-", secret, true);
	*recipient_out = bech32_encode(recipient_hrp, pub, false);
done:
	OPENSSL_cleanse(secret, sizeof(secret));
	return error;
}

int plumb_age_recipient_of(char **out, const char *identity)
{
	unsigned char secret[KEY_SIZE], pub[KEY_SIZE];
	int error;

	*out = NULL;
	if (bech32_decode(secret, identity, strlen(identity), identity_hrp) < 0) {
		error = plumb_error_set(PLUMB_EINVALID, "not an age identity (AGE-SECRET-KEY-1...)");
		goto done;
	}
	if ((error = x25519_public(pub, secret)) < 0)
		goto done;
	*out = bech32_encode(recipient_hrp, pub, false);
done:
	OPENSSL_cleanse(secret, sizeof(secret));
	return error;
}

int plumb_age_recipient_valid(const char *recipient)
{
	unsigned char pub[KEY_SIZE];
	size_t len = strlen(recipient);
	bool printable = len <= 100;

	if (bech32_decode(pub, recipient, len, recipient_hrp) == 0)
		return 0;
	/* A secret key pasted where a recipient belongs must not end up in a log. */
	if (strncasecmp(recipient, identity_hrp, strlen(identity_hrp)) == 0)
		return plumb_error_set(PLUMB_EINVALID, "an age identity (secret key) was given where a recipient (age1...) belongs");
	for (size_t i = 0; printable && i < len; i++)
		printable = recipient[i] > ' ' && recipient[i] < 127;
	if (!printable)
		return plumb_error_set(PLUMB_EINVALID, "not a valid age recipient (age1...)");
	return plumb_error_set(PLUMB_EINVALID, "'%s' is not a valid age recipient (age1...)", recipient);
}

/* ---- encryption ---- */

/* Append "-> X25519 <share>\n<body>\n": the file key wrapped to one recipient. */
static int wrap_file_key(plumb_buf *out, EVP_CIPHER_CTX *ctx, const unsigned char file_key[FILE_KEY_SIZE],
			 const char *recipient)
{
	static const unsigned char zero_nonce[12];
	unsigned char ephemeral[KEY_SIZE], salt[2 * KEY_SIZE], shared[KEY_SIZE], wrap_key[KEY_SIZE];
	unsigned char body[FILE_KEY_SIZE + TAG_SIZE];
	unsigned char *share = salt, *pub = salt + KEY_SIZE; /* the salt is share || recipient */
	int error;

	if (bech32_decode(pub, recipient, strlen(recipient), recipient_hrp) < 0) {
		error = plumb_age_recipient_valid(recipient);
		goto done;
	}
	if ((error = new_key_pair(ephemeral, share)) < 0)
		goto done;
	if (x25519(shared, ephemeral, pub) < 0) {
		error = plumb_error_set(PLUMB_EINVALID, "age recipient '%s' is a low-order point", recipient);
		goto done;
	}
	if ((error = hkdf(wrap_key, shared, KEY_SIZE, salt, sizeof(salt), x25519_label)) < 0 ||
	    (error = seal(ctx, body, wrap_key, zero_nonce, file_key, FILE_KEY_SIZE)) < 0)
		goto done;
	/* 32 bytes of body is 43 characters: one line, shorter than 64, as the format wants the last one. */
	plumb_buf_puts(out, "-> X25519 ");
	b64_encode(out, share, KEY_SIZE, false);
	plumb_buf_putc(out, '\n');
	b64_encode(out, body, sizeof(body), false);
	plumb_buf_putc(out, '\n');
done:
	OPENSSL_cleanse(ephemeral, sizeof(ephemeral));
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wrap_key, sizeof(wrap_key));
	return error;
}

/* The 12-byte STREAM nonce: an 11-byte big-endian chunk counter, then 1 on the last chunk. */
static void chunk_nonce(unsigned char nonce[12], uint64_t counter, bool last)
{
	memset(nonce, 0, 12);
	for (int i = 0; i < 8; i++)
		nonce[10 - i] = (unsigned char)(counter >> (8 * i));
	nonce[11] = last;
}

static void armor_encode(plumb_buf *out, const unsigned char *file, size_t len)
{
	plumb_buf text = PLUMB_BUF_INIT;
	b64_encode(&text, file, len, true);
	plumb_buf_printf(out, "%s\n", armor_header);
	for (size_t i = 0; i < text.len; i += COLUMNS) {
		plumb_buf_add(out, text.ptr + i, text.len - i < COLUMNS ? text.len - i : COLUMNS);
		plumb_buf_putc(out, '\n');
	}
	plumb_buf_printf(out, "%s\n", armor_footer);
	plumb_buf_release(&text);
}

int plumb_age_encrypt(plumb_buf *out, const char *const *recipients, size_t count, const void *data, size_t len,
		      int armor)
{
	unsigned char file_key[FILE_KEY_SIZE], payload_key[KEY_SIZE], mac[KEY_SIZE];
	unsigned char payload_nonce[NONCE_SIZE], nonce[12];
	plumb_buf binary = PLUMB_BUF_INIT;
	plumb_buf *file = armor ? &binary : out; /* armor needs the whole binary file first */
	size_t start = out->len, header = file->len;
	EVP_CIPHER_CTX *ctx = NULL;
	int error = 0;

	if (!count) {
		error = plumb_error_set(PLUMB_EINVALID, "no age recipient to encrypt to");
		goto done;
	}
	for (size_t i = 0; i < count; i++)
		if ((error = plumb_age_recipient_valid(recipients[i])) < 0)
			goto done;
	if (!(ctx = EVP_CIPHER_CTX_new()) || RAND_bytes(file_key, FILE_KEY_SIZE) != 1) {
		error = crypto_failed("start encrypting");
		goto done;
	}

	plumb_buf_puts(file, intro);
	for (size_t i = 0; i < count; i++)
		if ((error = wrap_file_key(file, ctx, file_key, recipients[i])) < 0)
			goto done;
	plumb_buf_puts(file, "---");
	if ((error = header_mac(mac, file_key, file->ptr + header, file->len - header)) < 0)
		goto done;
	plumb_buf_putc(file, ' ');
	b64_encode(file, mac, KEY_SIZE, false);
	plumb_buf_putc(file, '\n');

	if (RAND_bytes(payload_nonce, NONCE_SIZE) != 1) {
		error = crypto_failed("generate random bytes");
		goto done;
	}
	plumb_buf_add(file, payload_nonce, NONCE_SIZE);
	if ((error = hkdf(payload_key, file_key, FILE_KEY_SIZE, payload_nonce, NONCE_SIZE, "payload")) < 0)
		goto done;
	/* Empty plaintext is one empty last chunk; an exact multiple of 64 KiB ends on a full last chunk. */
	size_t chunks = len ? (len + CHUNK_SIZE - 1) / CHUNK_SIZE : 1;
	plumb_buf_grow(file, len + chunks * TAG_SIZE);
	for (size_t i = 0; i < chunks; i++) {
		size_t n = i + 1 < chunks ? CHUNK_SIZE : len - i * CHUNK_SIZE;
		chunk_nonce(nonce, i, i + 1 == chunks);
		if ((error = seal(ctx, (unsigned char *)file->ptr + file->len, payload_key, nonce,
				  (const unsigned char *)data + i * CHUNK_SIZE, n)) < 0)
			goto done;
		file->len += n + TAG_SIZE;
	}
	file->ptr[file->len] = '\0';
	if (armor)
		armor_encode(out, (const unsigned char *)binary.ptr, binary.len);
done:
	if (error < 0)
		plumb_buf_truncate(out, start);
	OPENSSL_cleanse(file_key, sizeof(file_key));
	OPENSSL_cleanse(payload_key, sizeof(payload_key));
	EVP_CIPHER_CTX_free(ctx);
	plumb_buf_release(&binary);
	return error;
}

/* ---- decryption ---- */

static int not_age(const char *reason)
{
	return plumb_error_set(PLUMB_EINVALID, "not an age file (%s)", reason);
}

static int malformed_line(size_t line_no)
{
	return plumb_error_set(PLUMB_EINVALID, "not an age file (malformed header line %zu)", line_no);
}

static int truncated(void)
{
	return plumb_error_set(PLUMB_EINVALID, "the file is truncated");
}

/* The next line of [*pos, end) without its "\n"; false at the end. A last line without "\n" counts. */
static bool next_line(const char **pos, const char *end, const char **line, size_t *len, bool *terminated)
{
	if (*pos >= end)
		return false;
	const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
	*line = *pos;
	*len = (size_t)((nl ? nl : end) - *pos);
	*terminated = nl != NULL;
	*pos = nl ? nl + 1 : end;
	return true;
}

static bool is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)p[i]))
			return false;
	return true;
}

static bool is_armored(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && isspace((unsigned char)p[i]))
		i++;
	return n - i >= strlen(armor_header) && memcmp(p + i, armor_header, strlen(armor_header)) == 0;
}

/* The next armor line without its "\n" or "\r\n"; false at the end. */
static bool armor_line(const char **pos, const char *end, const char **line, size_t *len)
{
	bool nl;
	if (!next_line(pos, end, line, len, &nl))
		return false;
	if (*len && (*line)[*len - 1] == '\r')
		--*len;
	return true;
}

static bool is_line(const char *line, size_t len, const char *expected)
{
	return len == strlen(expected) && memcmp(line, expected, len) == 0;
}

/*
 * Armor as age reads it: blank lines before (at most 1 KiB), the BEGIN line,
 * padded base64 in lines of 64 columns but the last, the END line, then
 * less than 1 KiB of whitespace.
 */
static int armor_decode(plumb_buf *out, const char *p, size_t n)
{
	const char *end = p + n, *line = NULL;
	size_t len = 0, skipped = 0, got;

	while (armor_line(&p, end, &line, &len) && is_blank(line, len))
		if ((skipped += len + 1) > MAX_WHITESPACE)
			return not_age("too much whitespace before the armor");
	if (!is_line(line, len, armor_header))
		return not_age("malformed armor");
	for (;;) {
		if (!armor_line(&p, end, &line, &len))
			return truncated();
		if (is_line(line, len, armor_footer))
			break;
		plumb_buf_grow(out, COLUMNS);
		if (len > COLUMNS || b64_decode((unsigned char *)out->ptr + out->len, &got, line, len, true) < 0)
			return not_age("malformed armor");
		out->len += got;
		out->ptr[out->len] = '\0';
		if (got == COLUMNS / 4 * 3)
			continue;
		/* Only the last line is short, and the END line follows it. */
		if (!armor_line(&p, end, &line, &len))
			return truncated();
		if (!is_line(line, len, armor_footer))
			return not_age("malformed armor");
		break;
	}
	if (!is_blank(p, (size_t)(end - p)))
		return plumb_error_set(PLUMB_EINVALID, "trailing data after the armored age file");
	if (end - p >= MAX_WHITESPACE)
		return plumb_error_set(PLUMB_EINVALID, "too much whitespace after the armored age file");
	return 0;
}

struct x25519_stanza {
	unsigned char share[KEY_SIZE];
	unsigned char body[FILE_KEY_SIZE + TAG_SIZE];
};

struct header {
	struct x25519_stanza *stanzas; /* only the X25519 ones: the only ones plumb can open */
	size_t count, capacity;
	size_t mac_input_len;          /* bytes up to and including "---" */
	size_t len;                    /* bytes up to and including the MAC line's "\n" */
	unsigned char mac[KEY_SIZE];
};

/*
 * A stanza: "-> TYPE ARGS...\n", arguments of visible ASCII separated by
 * single spaces, then base64 lines of 64 columns ending with a shorter
 * (maybe empty) one. X25519 stanzas are checked and kept.
 */
static int parse_stanza(struct header *h, const char **pos, const char *end, size_t *line_no)
{
	const char *line, *args[3] = { NULL };
	size_t len, nargs = 0, arg_len[3] = { 0 }, body_len = 0;
	bool nl, x25519_type;
	unsigned char chunk[COLUMNS / 4 * 3 + 2], body[FILE_KEY_SIZE + TAG_SIZE];

	if (!next_line(pos, end, &line, &len, &nl) || !nl)
		return truncated();
	++*line_no;
	if (len < 3 || memcmp(line, "-> ", 3) != 0)
		return malformed_line(*line_no);
	for (size_t i = 3, start = 3; i <= len; i++) {
		if (i < len && line[i] != ' ') {
			if (line[i] < '!' || line[i] > '~')
				return malformed_line(*line_no);
			continue;
		}
		if (i == start)
			return malformed_line(*line_no);
		if (nargs < 3) {
			args[nargs] = line + start;
			arg_len[nargs] = i - start;
		}
		nargs++;
		start = i + 1;
	}
	x25519_type = arg_len[0] == 6 && memcmp(args[0], "X25519", 6) == 0;

	for (bool last = false; !last;) {
		if (!next_line(pos, end, &line, &len, &nl) || !nl)
			return truncated();
		++*line_no;
		size_t got;
		if (len > COLUMNS || b64_decode(chunk, &got, line, len, false) < 0)
			return malformed_line(*line_no);
		if (x25519_type && body_len + got <= sizeof(body))
			memcpy(body + body_len, chunk, got);
		body_len += got;
		last = len < COLUMNS;
	}
	if (!x25519_type)
		return 0;
	PLUMB_GROW(h->stanzas, h->count, h->capacity);
	struct x25519_stanza *s = &h->stanzas[h->count];
	if (nargs != 2 || !b64_decode_key(s->share, args[1], arg_len[1]) || body_len != sizeof(body))
		return not_age("malformed X25519 stanza");
	memcpy(s->body, body, sizeof(body));
	h->count++;
	return 0;
}

/* Parse the header: the intro line, stanzas, "--- MAC". Strict, so its bytes are the ones the MAC covers. */
static int parse_header(struct header *h, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	size_t intro_len = strlen(intro), line_no = 1;
	int error;

	if (len < intro_len || memcmp(data, intro, intro_len) != 0)
		return len && len < intro_len && memcmp(data, intro, len) == 0 ? truncated() : not_age("wrong intro line");
	p += intro_len;
	for (;;) {
		if (end - p < 3)
			return truncated();
		if (memcmp(p, "---", 3) != 0) {
			if ((error = parse_stanza(h, &p, end, &line_no)) < 0)
				return error;
			continue;
		}
		const char *line;
		size_t n;
		bool nl;
		next_line(&p, end, &line, &n, &nl);
		line_no++;
		if (!nl)
			return truncated();
		if (n < 4 || line[3] != ' ' || !b64_decode_key(h->mac, line + 4, n - 4))
			return malformed_line(line_no);
		h->mac_input_len = (size_t)(line + 3 - data);
		h->len = (size_t)(p - data);
		return 0;
	}
}

struct identity {
	unsigned char secret[KEY_SIZE];
	unsigned char pub[KEY_SIZE];
};

struct identities {
	struct identity *items; /* sized once, never reallocated: a realloc would leave secrets behind */
	size_t count, capacity;
};

static void identities_wipe(struct identities *ids)
{
	if (ids->items)
		OPENSSL_cleanse(ids->items, ids->capacity * sizeof(*ids->items));
	free(ids->items);
}

/* The identities of an identity file as age-keygen writes it. ids is the caller's to wipe, also on failure. */
static int parse_identities(struct identities *ids, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *line;
	size_t n, line_no = 0;
	bool nl;
	int error;

	ids->capacity = 1;
	for (size_t i = 0; i < len; i++)
		ids->capacity += text[i] == '\n';
	ids->items = plumb_xcalloc(ids->capacity, sizeof(*ids->items));
	while (next_line(&p, end, &line, &n, &nl)) {
		line_no++;
		if (n && line[n - 1] == '\r')
			n--;
		if (!n || line[0] == '#')
			continue;
		struct identity *id = &ids->items[ids->count];
		if (bech32_decode(id->secret, line, n, identity_hrp) < 0)
			return plumb_error_set(PLUMB_EINVALID, "line %zu of the identities is not an age identity", line_no);
		if ((error = x25519_public(id->pub, id->secret)) < 0)
			return error;
		ids->count++;
	}
	if (!ids->count)
		return plumb_error_set(PLUMB_EINVALID, "the identities hold no age identity");
	return 0;
}

/* Try every identity on every X25519 stanza, in age's order; the first that opens gives the file key. */
static int unwrap_file_key(unsigned char file_key[FILE_KEY_SIZE], EVP_CIPHER_CTX *ctx, const struct header *h,
			   const struct identities *ids)
{
	static const unsigned char zero_nonce[12];
	unsigned char shared[KEY_SIZE], salt[2 * KEY_SIZE], wrap_key[KEY_SIZE];
	int error = 1;

	for (size_t i = 0; error > 0 && i < ids->count; i++) {
		for (size_t j = 0; error > 0 && j < h->count; j++) {
			const struct x25519_stanza *s = &h->stanzas[j];
			if (x25519(shared, ids->items[i].secret, s->share) < 0) {
				error = not_age("malformed X25519 stanza");
				break;
			}
			memcpy(salt, s->share, KEY_SIZE);
			memcpy(salt + KEY_SIZE, ids->items[i].pub, KEY_SIZE);
			if ((error = hkdf(wrap_key, shared, KEY_SIZE, salt, sizeof(salt), x25519_label)) < 0)
				break;
			error = open_sealed(ctx, file_key, wrap_key, zero_nonce, s->body, sizeof(s->body)) ? 0 : 1;
		}
	}
	if (error > 0)
		error = plumb_error_set(PLUMB_EINVALID, "no identity matches any recipient of the file");
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wrap_key, sizeof(wrap_key));
	return error;
}

/*
 * Open the payload (nonce, then chunks of 64 KiB + tag) into out, grown
 * once to the plaintext size so a reallocation never leaves a copy of it.
 * With the whole file at hand the chunk boundaries are known up front; when
 * a chunk fails, trying it with the other last-chunk flag tells truncation
 * and trailing data apart from corruption.
 */
static int decrypt_payload(plumb_buf *out, EVP_CIPHER_CTX *ctx, const unsigned char file_key[FILE_KEY_SIZE],
			   const unsigned char *p, size_t len, size_t max)
{
	const size_t sealed_chunk = CHUNK_SIZE + TAG_SIZE;
	unsigned char payload_key[KEY_SIZE], nonce[12];
	unsigned char *dst = NULL;
	size_t plain_len = 0;
	int error = 0;

	if (len < NONCE_SIZE + TAG_SIZE) {
		error = truncated();
		goto done;
	}
	size_t sealed = len - NONCE_SIZE;
	size_t chunks = sealed / sealed_chunk + (sealed % sealed_chunk != 0);
	size_t last_len = sealed - (chunks - 1) * sealed_chunk;
	if (last_len < TAG_SIZE) {
		error = truncated();
		goto done;
	}
	if (last_len == TAG_SIZE && chunks > 1) {
		error = plumb_error_set(PLUMB_EINVALID, "the payload ends with an empty chunk (not a valid age file)");
		goto done;
	}
	if ((plain_len = sealed - chunks * TAG_SIZE) > max) {
		error = plumb_error_set(PLUMB_EINVALID, "the plaintext is larger than %zu bytes", max);
		goto done;
	}
	if ((error = hkdf(payload_key, file_key, FILE_KEY_SIZE, p, NONCE_SIZE, "payload")) < 0)
		goto done;
	p += NONCE_SIZE;
	plumb_buf_grow(out, plain_len);
	dst = (unsigned char *)out->ptr + out->len;
	for (size_t i = 0; i < chunks; i++) {
		bool last = i + 1 == chunks;
		const unsigned char *in = p + i * sealed_chunk;
		size_t n = last ? last_len : sealed_chunk;
		chunk_nonce(nonce, i, last);
		if (open_sealed(ctx, dst + i * CHUNK_SIZE, payload_key, nonce, in, n))
			continue;
		chunk_nonce(nonce, i, !last);
		if (!open_sealed(ctx, dst + i * CHUNK_SIZE, payload_key, nonce, in, n))
			error = plumb_error_set(PLUMB_EINVALID, "the payload is corrupted (authentication failed)");
		else if (last)
			error = truncated(); /* a valid middle chunk: the rest of the file is missing */
		else
			error = plumb_error_set(PLUMB_EINVALID, "trailing data after the last chunk of the payload");
		goto done;
	}
	out->len += plain_len;
	out->ptr[out->len] = '\0';
done:
	if (error < 0 && dst) {
		explicit_bzero(dst, plain_len);
		*dst = '\0'; /* the NUL that ended out before */
	}
	OPENSSL_cleanse(payload_key, sizeof(payload_key));
	return error;
}

int plumb_age_decrypt(plumb_buf *out, const char *identities_text, size_t identities_len, const void *data, size_t len,
		      size_t max)
{
	struct identities ids = { 0 };
	struct header h = { 0 };
	plumb_buf dearmored = PLUMB_BUF_INIT;
	unsigned char file_key[FILE_KEY_SIZE], mac[KEY_SIZE];
	EVP_CIPHER_CTX *ctx = NULL;
	const char *file = data;
	int error;

	if ((error = parse_identities(&ids, identities_text, identities_len)) < 0)
		goto done;
	if (is_armored(file, len)) {
		if ((error = armor_decode(&dearmored, file, len)) < 0)
			goto done;
		file = dearmored.ptr;
		len = dearmored.len;
	}
	if ((error = parse_header(&h, file, len)) < 0)
		goto done;
	if (!(ctx = EVP_CIPHER_CTX_new())) {
		error = crypto_failed("start decrypting");
		goto done;
	}
	if ((error = unwrap_file_key(file_key, ctx, &h, &ids)) < 0)
		goto done;
	if ((error = header_mac(mac, file_key, file, h.mac_input_len)) < 0)
		goto done;
	if (CRYPTO_memcmp(mac, h.mac, KEY_SIZE) != 0) {
		error = plumb_error_set(PLUMB_EINVALID, "header MAC mismatch (the file was altered)");
		goto done;
	}
	error = decrypt_payload(out, ctx, file_key, (const unsigned char *)file + h.len, len - h.len, max);
done:
	OPENSSL_cleanse(file_key, sizeof(file_key));
	identities_wipe(&ids);
	free(h.stanzas);
	EVP_CIPHER_CTX_free(ctx);
	plumb_buf_release(&dearmored);
	return error;
}
