/* Unit tests of src/util/age: keys, round trips, tampering, and interoperability with the real age tool. */
#include "util/common.h"
#include "secrets/age.h"
#include "util/buf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define AGE "/usr/bin/age"
#define AGE_KEYGEN "/usr/bin/age-keygen"
#define KIB 1024
#define MARKER "s3cr3t-plaintext"

/* An ssh-ed25519 public key (its secret was thrown away): age writes a stanza plumb must skip. */
#define SSH_RECIPIENT "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK6Z1A1bZY6xgwXGVkJ53Stquf6gPkUJxgOZyh0tphql plumb-test"

static char scratch[64];

/* A plaintext of len bytes in which MARKER recurs, so a leak of any part of it is easy to spot. */
static void fill(plumb_buf *b, size_t len)
{
	plumb_buf_clear(b);
	for (unsigned i = 0; b->len < len; i++)
		plumb_buf_printf(b, MARKER " %u\n", i);
	plumb_buf_truncate(b, len);
}

static void path_of(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", scratch, name);
}

static int write_file(const char *name, const void *data, size_t len)
{
	char path[256];
	path_of(path, sizeof(path), name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(data, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

static int read_file(plumb_buf *out, const char *name)
{
	char path[256];
	path_of(path, sizeof(path), name);
	plumb_buf_clear(out);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		plumb_buf_add(out, chunk, n);
	fclose(f);
	return 0;
}

/* Run a shell command in the scratch directory; its exit status, or -1. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	plumb_buf cmd = PLUMB_BUF_INIT;
	va_list ap;
	plumb_buf_printf(&cmd, "cd '%s' && ", scratch);
	va_start(ap, fmt);
	plumb_buf_vprintf(&cmd, fmt, ap);
	va_end(ap);
	int status = system(cmd.ptr);
	plumb_buf_release(&cmd);
	return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The interop tests fail, not skip, without the age tool: it is a test dependency. */
static int have_age(void)
{
	int ok = access(AGE, X_OK) == 0 && access(AGE_KEYGEN, X_OK) == 0;
	if (!ok)
		fprintf(stderr, "  %s and %s are required (apt-get install age)\n", AGE, AGE_KEYGEN);
	CHECK(ok);
	return ok;
}

/* A failed decryption: the code, the message, out untouched, and no secret in the message. */
static void check_refused(int rc, const plumb_buf *out, const char *before, const char *want)
{
	const char *msg = plumb_error_last();
	CHECK_INT(rc, PLUMB_EINVALID);
	if (!strstr(msg, want)) {
		fprintf(stderr, "  expected a message with \"%s\", got \"%s\"\n", want, msg);
		test_failed = 1;
	}
	CHECK(!strstr(msg, "AGE-SECRET-KEY") && !strstr(msg, MARKER) && !strchr(msg, '\n'));
	CHECK_STR(out->ptr, before);
	/* Any plaintext written before the failure was wiped, not just cut off. */
	CHECK(!out->capacity || !memmem(out->ptr, out->capacity, MARKER, strlen(MARKER)));
}

/* Where the payload starts: just past the "--- MAC\n" line. */
static size_t header_length(const plumb_buf *file)
{
	const char *mac = strstr(file->ptr, "\n--- ");
	return mac ? (size_t)(strchr(mac + 1, '\n') + 1 - file->ptr) : 0;
}

static void keygen_and_recipient_of_agree(void)
{
	char *identity = NULL, *recipient = NULL, *again = NULL, *other_identity = NULL, *other = NULL;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	CHECK(strncmp(identity, "AGE-SECRET-KEY-1", 16) == 0 && strlen(identity) == 74);
	CHECK(strncmp(recipient, "age1", 4) == 0 && strlen(recipient) == 62);
	CHECK_INT(plumb_age_recipient_of(&again, identity), 0);
	CHECK_STR(again, recipient);
	CHECK_INT(plumb_age_recipient_valid(recipient), 0);
	CHECK_INT(plumb_age_keygen(&other_identity, &other), 0);
	CHECK(strcmp(other, recipient) != 0);
	/* The recipient from the age README. */
	CHECK_INT(plumb_age_recipient_valid("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"), 0);
	explicit_bzero(identity, strlen(identity));
	explicit_bzero(other_identity, strlen(other_identity));
	free(identity);
	free(other_identity);
	free(recipient);
	free(other);
	free(again);
}

static void bech32_is_strict(void)
{
	char *identity = NULL, *recipient = NULL, *out = NULL;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);

	char *bad = plumb_xstrdup(recipient);
	bad[20] = bad[20] == 'q' ? 'p' : 'q'; /* a flipped character breaks the checksum */
	CHECK_INT(plumb_age_recipient_valid(bad), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), bad) != NULL);
	memcpy(bad, recipient, strlen(recipient));
	bad[4 + strcspn(bad + 4, "acdefghjklmnpqrstuvwxyz")] -= 'a' - 'A';
	CHECK_INT(plumb_age_recipient_valid(bad), PLUMB_EINVALID); /* mixed case */
	for (char *p = bad; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	CHECK_INT(plumb_age_recipient_valid(bad), PLUMB_EINVALID); /* age wants recipients in lowercase */
	CHECK_INT(plumb_age_recipient_valid(""), PLUMB_EINVALID);
	CHECK_INT(plumb_age_recipient_valid("age1"), PLUMB_EINVALID);
	free(bad);

	/* An identity passed as a recipient is refused without being echoed. */
	CHECK_INT(plumb_age_recipient_valid(identity), PLUMB_EINVALID);
	CHECK(!strstr(plumb_error_last(), "AGE-SECRET-KEY"));

	bad = plumb_xstrdup(identity);
	bad[40] = bad[40] == 'Q' ? 'P' : 'Q';
	CHECK_INT(plumb_age_recipient_of(&out, bad), PLUMB_EINVALID);
	CHECK(out == NULL);
	CHECK(!strstr(plumb_error_last(), bad + 16));
	memcpy(bad, identity, strlen(identity));
	bad[16 + strcspn(bad + 16, "ACDEFGHJKLMNPQRSTUVWXYZ")] += 'a' - 'A';
	CHECK_INT(plumb_age_recipient_of(&out, bad), PLUMB_EINVALID); /* mixed case */
	for (char *p = bad; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	CHECK_INT(plumb_age_recipient_of(&out, bad), PLUMB_EINVALID); /* age wants identities in uppercase */
	explicit_bzero(bad, strlen(bad));
	free(bad);
	explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
}

static void round_trips(void)
{
	static const size_t sizes[] = { 0, 13, 64 * KIB, 64 * KIB + 1, 128 * KIB, 200 * KIB + 7 };
	char *identity = NULL, *recipient = NULL;
	plumb_buf plain = PLUMB_BUF_INIT, file = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	const char *recipients[] = { recipient };

	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(sizes); i++) {
		for (int armor = 0; armor <= 1; armor++) {
			fill(&plain, sizes[i]);
			plumb_buf_clear(&file);
			plumb_buf_clear(&back);
			CHECK_INT(plumb_age_encrypt(&file, recipients, 1, plain.ptr, plain.len, armor), 0);
			CHECK_INT(plumb_age_decrypt(&back, identity, strlen(identity), file.ptr, file.len, SIZE_MAX), 0);
			CHECK_INT(back.len, plain.len);
			CHECK(memcmp(back.ptr, plain.ptr, plain.len) == 0);
			if (armor) {
				CHECK(strncmp(file.ptr, "-----BEGIN AGE ENCRYPTED FILE-----\n", 35) == 0);
				CHECK(strstr(file.ptr, "\n-----END AGE ENCRYPTED FILE-----\n") ==
				      file.ptr + file.len - 34);
				for (const char *p = file.ptr; (p = strchr(p, '\n')); p++) {
					const char *next = strchr(p + 1, '\n');
					CHECK(!next || next - p - 1 <= 64);
				}
				continue;
			}
			/* Payload: a 16-byte nonce, then one tag per 64 KiB chunk, at least one, no empty trailer. */
			size_t chunks = sizes[i] ? (sizes[i] + 64 * KIB - 1) / (64 * KIB) : 1;
			CHECK_INT(file.len, header_length(&file) + 16 + sizes[i] + 16 * chunks);
			CHECK(strncmp(file.ptr, "age-encryption.org/v1\n-> X25519 ", 32) == 0);
		}
	}
	/* Appends to what out already holds. */
	plumb_buf_clear(&file);
	plumb_buf_puts(&file, "prefix");
	CHECK_INT(plumb_age_encrypt(&file, recipients, 1, "x", 1, 0), 0);
	CHECK(strncmp(file.ptr, "prefixage-encryption.org/v1\n", 28) == 0);
	plumb_buf_puts(&back, "kept:");
	size_t before = back.len;
	CHECK_INT(plumb_age_decrypt(&back, identity, strlen(identity), file.ptr + 6, file.len - 6, 1), 0);
	CHECK_INT(back.len, before + 1);
	CHECK(back.ptr[before] == 'x' && back.ptr[before + 1] == '\0');

	/* No data at all. */
	plumb_buf_clear(&file);
	plumb_buf_clear(&back);
	CHECK_INT(plumb_age_encrypt(&file, recipients, 1, NULL, 0, 0), 0);
	CHECK_INT(plumb_age_decrypt(&back, identity, strlen(identity), file.ptr, file.len, 0), 0);
	CHECK_INT(back.len, 0);

	CHECK_INT(plumb_age_encrypt(&file, recipients, 0, "x", 1, 0), PLUMB_EINVALID);
	const char *bad[] = { recipient, "age1nope" };
	before = file.len;
	CHECK_INT(plumb_age_encrypt(&file, bad, 2, "x", 1, 1), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "'age1nope'") != NULL);
	CHECK_INT(file.len, before);

	explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
	plumb_buf_release(&plain);
	plumb_buf_release(&file);
	plumb_buf_wipe(&back);
}

static void multiple_recipients(void)
{
	char *identities[3] = { NULL }, *recipients[3] = { NULL };
	plumb_buf file = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT, text = PLUMB_BUF_INIT;
	for (int i = 0; i < 3; i++)
		CHECK_INT(plumb_age_keygen(&identities[i], &recipients[i]), 0);
	const char *to[] = { recipients[0], recipients[1], recipients[2] };
	for (int armor = 0; armor <= 1; armor++) {
		plumb_buf_clear(&file);
		CHECK_INT(plumb_age_encrypt(&file, to, 3, MARKER, strlen(MARKER), armor), 0);
		for (int i = 0; i < 3; i++) {
			plumb_buf_clear(&back);
			CHECK_INT(plumb_age_decrypt(&back, identities[i], strlen(identities[i]), file.ptr, file.len, 100), 0);
			CHECK_STR(back.ptr, MARKER);
		}
	}
	/* An identity file as age-keygen writes it, with an identity that matches nothing first, in CRLF. */
	char *stranger = NULL, *stranger_recipient = NULL;
	CHECK_INT(plumb_age_keygen(&stranger, &stranger_recipient), 0);
	plumb_buf_printf(&text, "# created: 2024-01-01T00:00:00Z\r\n# public key: %s\r\n%s\r\n\r\n# second\r\n%s\r\n",
			 stranger_recipient, stranger, identities[2]);
	plumb_buf_clear(&back);
	CHECK_INT(plumb_age_decrypt(&back, text.ptr, text.len, file.ptr, file.len, 100), 0);
	CHECK_STR(back.ptr, MARKER);

	for (int i = 0; i < 3; i++) {
		explicit_bzero(identities[i], strlen(identities[i]));
		free(identities[i]);
		free(recipients[i]);
	}
	explicit_bzero(stranger, strlen(stranger));
	free(stranger);
	free(stranger_recipient);
	plumb_buf_release(&file);
	plumb_buf_wipe(&back);
	plumb_buf_wipe(&text);
}

static void identity_text_errors(void)
{
	char *identity = NULL, *recipient = NULL;
	plumb_buf file = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT, text = PLUMB_BUF_INIT;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	const char *to[] = { recipient };
	CHECK_INT(plumb_age_encrypt(&file, to, 1, MARKER, strlen(MARKER), 0), 0);

	check_refused(plumb_age_decrypt(&back, "", 0, file.ptr, file.len, 100), &back, "", "hold no age identity");
	const char *comments = "# created: now\n\n# nothing else\n";
	check_refused(plumb_age_decrypt(&back, comments, strlen(comments), file.ptr, file.len, 100), &back, "",
		      "hold no age identity");
	const char *junk = "# keys\n\nnot-a-key-at-all\n";
	check_refused(plumb_age_decrypt(&back, junk, strlen(junk), file.ptr, file.len, 100), &back, "",
		      "line 3 of the identities is not an age identity");
	CHECK(!strstr(plumb_error_last(), "not-a-key"));
	/* A damaged identity is not echoed either. */
	plumb_buf_printf(&text, "# key\n%s\n", identity);
	text.ptr[20] = text.ptr[20] == 'Q' ? 'P' : 'Q';
	check_refused(plumb_age_decrypt(&back, text.ptr, text.len, file.ptr, file.len, 100), &back, "",
		      "line 2 of the identities");
	CHECK(!strstr(plumb_error_last(), identity + 20));

	explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
	plumb_buf_release(&file);
	plumb_buf_wipe(&back);
	plumb_buf_wipe(&text);
}

static void wrong_identity_matches_nothing(void)
{
	char *identity = NULL, *recipient = NULL, *other = NULL, *other_recipient = NULL;
	plumb_buf file = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	CHECK_INT(plumb_age_keygen(&other, &other_recipient), 0);
	const char *to[] = { recipient };
	CHECK_INT(plumb_age_encrypt(&file, to, 1, MARKER, strlen(MARKER), 1), 0);
	plumb_buf_puts(&back, "before");
	check_refused(plumb_age_decrypt(&back, other, strlen(other), file.ptr, file.len, 100), &back, "before",
		      "no identity matches any recipient of the file");
	explicit_bzero(identity, strlen(identity));
	explicit_bzero(other, strlen(other));
	free(identity);
	free(other);
	free(recipient);
	free(other_recipient);
	plumb_buf_release(&file);
	plumb_buf_wipe(&back);
}

/* Decrypt a copy of file with byte at changed to c (or cut to len when c < 0) and expect refusal. */
static void tampered(const plumb_buf *file, const char *identity, size_t at, int c, const char *want)
{
	plumb_buf copy = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT;
	plumb_buf_add(&copy, file->ptr, file->len);
	if (c < 0)
		plumb_buf_truncate(&copy, at);
	else
		copy.ptr[at] = (char)c;
	plumb_buf_puts(&back, "before");
	check_refused(plumb_age_decrypt(&back, identity, strlen(identity), copy.ptr, copy.len, SIZE_MAX), &back,
		      "before", want);
	plumb_buf_release(&copy);
	plumb_buf_wipe(&back);
}

static void tampering_is_detected(void)
{
	char *identity = NULL, *recipient = NULL, *second = NULL, *second_recipient = NULL;
	plumb_buf plain = PLUMB_BUF_INIT, file = PLUMB_BUF_INIT;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	CHECK_INT(plumb_age_keygen(&second, &second_recipient), 0);
	const char *to[] = { recipient, second_recipient };
	fill(&plain, 1000);
	CHECK_INT(plumb_age_encrypt(&file, to, 2, plain.ptr, plain.len, 0), 0);
	size_t header = header_length(&file);

	tampered(&file, identity, file.len - 1, (unsigned char)file.ptr[file.len - 1] ^ 1,
		 "the payload is corrupted (authentication failed)");
	tampered(&file, identity, header + 3, (unsigned char)file.ptr[header + 3] ^ 0x80, "the payload is corrupted");
	/* The MAC itself, and the second stanza's body: the first stanza still opens, the MAC does not match. */
	tampered(&file, identity, header - 40, file.ptr[header - 40] == 'A' ? 'B' : 'A',
		 "header MAC mismatch (the file was altered)");
	const char *second_stanza = strstr(strstr(file.ptr, "-> X25519 ") + 1, "-> X25519 ");
	size_t at = (size_t)(strchr(second_stanza, '\n') + 1 - file.ptr);
	tampered(&file, identity, at, file.ptr[at] == 'A' ? 'B' : 'A', "header MAC mismatch");
	/*
	 * The last MAC character carries 2 unused bits, so it is one of AEIMQUYcgkosw048; its ASCII
	 * neighbour (^ 1) sets the lowest: a non-canonical encoding, refused before any MAC is computed.
	 */
	tampered(&file, identity, header - 2, file.ptr[header - 2] ^ 1, "not an age file (malformed header line 6)");
	tampered(&file, identity, 0, 'b', "not an age file (wrong intro line)");
	tampered(&file, identity, 23, '-', "not an age file (malformed header line 2)");

	explicit_bzero(identity, strlen(identity));
	explicit_bzero(second, strlen(second));
	free(identity);
	free(second);
	free(recipient);
	free(second_recipient);
	plumb_buf_release(&plain);
	plumb_buf_release(&file);
}

static void truncation_is_detected(void)
{
	char *identity = NULL, *recipient = NULL;
	plumb_buf plain = PLUMB_BUF_INIT, file = PLUMB_BUF_INIT;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	const char *to[] = { recipient };
	fill(&plain, 200 * KIB);
	CHECK_INT(plumb_age_encrypt(&file, to, 1, plain.ptr, plain.len, 0), 0);
	size_t header = header_length(&file), sealed = 64 * KIB + 16;

	tampered(&file, identity, 10, -1, "the file is truncated");
	tampered(&file, identity, header / 2, -1, "the file is truncated");
	tampered(&file, identity, header - 1, -1, "the file is truncated");
	tampered(&file, identity, header, -1, "the file is truncated");
	tampered(&file, identity, header + 16 + 10, -1, "the file is truncated");
	/* Cut at a chunk boundary: every chunk left is authentic, but none says it is the last. */
	tampered(&file, identity, header + 16 + 2 * sealed, -1, "the file is truncated");
	tampered(&file, identity, header + 16 + sealed, -1, "the file is truncated");
	/* Cut inside a chunk: indistinguishable from corruption, as in age. */
	tampered(&file, identity, header + 16 + sealed + 100, -1, "authentication failed");
	/* A full chunk, then an empty one: age never writes that. */
	tampered(&file, identity, header + 16 + sealed + 16, -1, "the payload ends with an empty chunk");

	/* Data after the last chunk (64 KiB: one full chunk, flagged last). */
	plumb_buf_clear(&file);
	CHECK_INT(plumb_age_encrypt(&file, to, 1, plain.ptr, 64 * KIB, 0), 0);
	plumb_buf_add(&file, "0123456789abcdefghij", 20);
	tampered(&file, identity, file.len, -1, "trailing data after the last chunk");
	explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
	plumb_buf_release(&plain);
	plumb_buf_release(&file);
}

static void max_is_enforced(void)
{
	char *identity = NULL, *recipient = NULL;
	plumb_buf plain = PLUMB_BUF_INIT, file = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	const char *to[] = { recipient };
	fill(&plain, 70000);
	CHECK_INT(plumb_age_encrypt(&file, to, 1, plain.ptr, plain.len, 0), 0);
	check_refused(plumb_age_decrypt(&back, identity, strlen(identity), file.ptr, file.len, 69999), &back, "",
		      "the plaintext is larger than 69999 bytes");
	CHECK_INT(plumb_age_decrypt(&back, identity, strlen(identity), file.ptr, file.len, 70000), 0);
	CHECK_INT(back.len, 70000);
	explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
	plumb_buf_release(&plain);
	plumb_buf_release(&file);
	plumb_buf_wipe(&back);
}

static void armor_is_read_as_age_reads_it(void)
{
	char *identity = NULL, *recipient = NULL;
	plumb_buf file = PLUMB_BUF_INIT, copy = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	const char *to[] = { recipient };
	CHECK_INT(plumb_age_encrypt(&file, to, 1, MARKER, strlen(MARKER), 1), 0);

	/* Whitespace around it, and CRLF line ends, are fine. */
	plumb_buf_puts(&copy, "\n  \r\n\t\n");
	for (const char *p = file.ptr; *p; p++)
		plumb_buf_puts(&copy, *p == '\n' ? "\r\n" : (char[]){ *p, 0 });
	plumb_buf_puts(&copy, "\n \n");
	CHECK_INT(plumb_age_decrypt(&back, identity, strlen(identity), copy.ptr, copy.len, 100), 0);
	CHECK_STR(back.ptr, MARKER);

	plumb_buf_wipe(&back); /* check_refused looks for plaintext in all of it */
	plumb_buf_clear(&copy);
	plumb_buf_add(&copy, file.ptr, file.len);
	plumb_buf_puts(&copy, "junk\n");
	check_refused(plumb_age_decrypt(&back, identity, strlen(identity), copy.ptr, copy.len, 100), &back, "",
		      "trailing data after the armored age file");
	plumb_buf_truncate(&copy, file.len - 33); /* no END line */
	check_refused(plumb_age_decrypt(&back, identity, strlen(identity), copy.ptr, copy.len, 100), &back, "",
		      "the file is truncated");
	plumb_buf_clear(&copy);
	plumb_buf_add(&copy, file.ptr, file.len);
	copy.ptr[40] = '*';
	check_refused(plumb_age_decrypt(&back, identity, strlen(identity), copy.ptr, copy.len, 100), &back, "",
		      "not an age file (malformed armor)");
	plumb_buf_clear(&copy);
	plumb_buf_printf(&copy, "  %s", file.ptr); /* leading spaces on the BEGIN line itself */
	check_refused(plumb_age_decrypt(&back, identity, strlen(identity), copy.ptr, copy.len, 100), &back, "",
		      "not an age file (malformed armor)");

	explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
	plumb_buf_release(&file);
	plumb_buf_release(&copy);
	plumb_buf_wipe(&back);
}

/* The identity line of a file age-keygen wrote, a new string. */
static char *identity_line(const plumb_buf *text)
{
	const char *p = strstr(text->ptr, "AGE-SECRET-KEY-1");
	return p ? plumb_xstrndup(p, strcspn(p, "\r\n")) : plumb_xstrdup("");
}

static void interop_age_encrypts_plumb_decrypts(void)
{
	static const size_t sizes[] = { 0, 64 * KIB, 200 * KIB + 7 };
	char *identity = NULL, *recipient = NULL;
	plumb_buf plain = PLUMB_BUF_INIT, file = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT;
	if (!have_age())
		return;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(sizes); i++) {
		fill(&plain, sizes[i]);
		CHECK_INT(write_file("plain", plain.ptr, plain.len), 0);
		for (int armor = 0; armor <= 1; armor++) {
			CHECK_INT(sh(AGE " %s -r %s -o from-age plain", armor ? "-a" : "", recipient), 0);
			CHECK_INT(read_file(&file, "from-age"), 0);
			CHECK((strncmp(file.ptr, "-----BEGIN AGE ENCRYPTED FILE-----", 34) == 0) == armor);
			plumb_buf_clear(&back);
			CHECK_INT(plumb_age_decrypt(&back, identity, strlen(identity), file.ptr, file.len, SIZE_MAX), 0);
			CHECK(back.len == plain.len && memcmp(back.ptr, plain.ptr, plain.len) == 0);
		}
	}
	/* A stanza plumb cannot open (ssh-ed25519) comes first and is skipped. */
	CHECK_INT(sh(AGE " -r '" SSH_RECIPIENT "' -r %s -o mixed plain", recipient), 0);
	CHECK_INT(read_file(&file, "mixed"), 0);
	CHECK(strstr(file.ptr, "\n-> ssh-ed25519 ") != NULL);
	plumb_buf_clear(&back);
	CHECK_INT(plumb_age_decrypt(&back, identity, strlen(identity), file.ptr, file.len, SIZE_MAX), 0);
	CHECK(back.len == plain.len && memcmp(back.ptr, plain.ptr, plain.len) == 0);
	CHECK_INT(sh(AGE " -r '" SSH_RECIPIENT "' -o ssh-only plain"), 0);
	CHECK_INT(read_file(&file, "ssh-only"), 0);
	plumb_buf_wipe(&back); /* check_refused looks for plaintext in all of it */
	check_refused(plumb_age_decrypt(&back, identity, strlen(identity), file.ptr, file.len, SIZE_MAX), &back, "",
		      "no identity matches any recipient of the file");

	explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
	plumb_buf_release(&plain);
	plumb_buf_release(&file);
	plumb_buf_wipe(&back);
}

static void interop_plumb_encrypts_age_decrypts(void)
{
	static const size_t sizes[] = { 0, 64 * KIB, 200 * KIB + 7 };
	char *identity = NULL, *recipient = NULL;
	plumb_buf plain = PLUMB_BUF_INIT, file = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT, text = PLUMB_BUF_INIT;
	if (!have_age())
		return;
	CHECK_INT(plumb_age_keygen(&identity, &recipient), 0);
	plumb_buf_printf(&text, "# public key: %s\n%s\n", recipient, identity);
	CHECK_INT(write_file("identity", text.ptr, text.len), 0);
	const char *to[] = { recipient };
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(sizes); i++) {
		fill(&plain, sizes[i]);
		for (int armor = 0; armor <= 1; armor++) {
			plumb_buf_clear(&file);
			CHECK_INT(plumb_age_encrypt(&file, to, 1, plain.ptr, plain.len, armor), 0);
			CHECK_INT(write_file("from-plumb", file.ptr, file.len), 0);
			/* Through stdout: age -o creates no file for an empty plaintext. */
			CHECK_INT(sh(AGE " -d -i identity from-plumb > decrypted"), 0);
			CHECK_INT(read_file(&back, "decrypted"), 0);
			CHECK(back.len == plain.len && memcmp(back.ptr, plain.ptr, plain.len) == 0);
		}
	}
	/* age refuses what plumb refuses: a flipped payload byte. */
	plumb_buf_clear(&file);
	CHECK_INT(plumb_age_encrypt(&file, to, 1, MARKER, strlen(MARKER), 0), 0);
	file.ptr[file.len - 1] ^= 1;
	CHECK_INT(write_file("from-plumb", file.ptr, file.len), 0);
	CHECK(sh(AGE " -d -i identity from-plumb > /dev/null 2>&1") != 0);

	explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
	plumb_buf_release(&plain);
	plumb_buf_release(&file);
	plumb_buf_wipe(&back);
	plumb_buf_wipe(&text);
}

static void interop_age_keygen_identity(void)
{
	char *identity = NULL, *recipient = NULL;
	plumb_buf text = PLUMB_BUF_INIT, age_recipient = PLUMB_BUF_INIT, file = PLUMB_BUF_INIT, back = PLUMB_BUF_INIT;
	if (!have_age())
		return;
	CHECK_INT(sh(AGE_KEYGEN " -o age-key 2>/dev/null"), 0);
	CHECK_INT(read_file(&text, "age-key"), 0);
	CHECK_INT(sh(AGE_KEYGEN " -y age-key > age-key.pub"), 0);
	CHECK_INT(read_file(&age_recipient, "age-key.pub"), 0);
	plumb_buf_truncate(&age_recipient, strcspn(age_recipient.ptr, "\n"));

	identity = identity_line(&text);
	CHECK_INT(plumb_age_recipient_of(&recipient, identity), 0);
	CHECK_STR(recipient, age_recipient.ptr);

	/* age encrypts to it, plumb decrypts with the whole key file (comments included). */
	CHECK_INT(write_file("plain", MARKER, strlen(MARKER)), 0);
	CHECK_INT(sh(AGE " -R age-key.pub -o to-age-key plain"), 0);
	CHECK_INT(read_file(&file, "to-age-key"), 0);
	CHECK_INT(plumb_age_decrypt(&back, text.ptr, text.len, file.ptr, file.len, 100), 0);
	CHECK_STR(back.ptr, MARKER);

	/* plumb encrypts to it, age decrypts with the key file. */
	const char *to[] = { age_recipient.ptr };
	plumb_buf_clear(&file);
	CHECK_INT(plumb_age_encrypt(&file, to, 1, MARKER, strlen(MARKER), 1), 0);
	CHECK_INT(write_file("from-plumb-to-age-key", file.ptr, file.len), 0);
	CHECK_INT(sh(AGE " -d -i age-key -o decrypted-age-key from-plumb-to-age-key"), 0);
	CHECK_INT(read_file(&back, "decrypted-age-key"), 0);
	CHECK_STR(back.ptr, MARKER);

	explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
	plumb_buf_wipe(&text);
	plumb_buf_release(&age_recipient);
	plumb_buf_release(&file);
	plumb_buf_wipe(&back);
}

int main(void)
{
	snprintf(scratch, sizeof(scratch), "/tmp/plumb-test-age.XXXXXX");
	if (!mkdtemp(scratch))
		return 1;
	RUN(keygen_and_recipient_of_agree);
	RUN(bech32_is_strict);
	RUN(round_trips);
	RUN(multiple_recipients);
	RUN(identity_text_errors);
	RUN(wrong_identity_matches_nothing);
	RUN(tampering_is_detected);
	RUN(truncation_is_detected);
	RUN(max_is_enforced);
	RUN(armor_is_read_as_age_reads_it);
	RUN(interop_age_encrypts_plumb_decrypts);
	RUN(interop_plumb_encrypts_age_decrypts);
	RUN(interop_age_keygen_identity);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	if (system(cmd) != 0)
		return 1;
	TEST_EXIT();
}
