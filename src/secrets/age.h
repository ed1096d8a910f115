/*
 * age.h - the age file-encryption format (https://age-encryption.org/v1).
 *
 * Native, with OpenSSL: X25519 recipients ("age1...") and identities
 * ("AGE-SECRET-KEY-1..."), binary and ASCII-armored files, byte for byte
 * what the age command-line tool reads and writes. Other stanza types
 * (scrypt, ssh-*, plugins) are parsed and skipped, never opened.
 *
 * Identities are secrets: plumb never puts one, nor any plaintext, in an
 * error message, and wipes the copies it makes. Recipients are public and
 * may be named in messages.
 */
#ifndef PLUMB_UTIL_AGE_H
#define PLUMB_UTIL_AGE_H

#include <stddef.h>

#include "util/buf.h"

/*
 * Make a new X25519 identity. On success *identity_out is
 * "AGE-SECRET-KEY-1..." (uppercase bech32) and *recipient_out "age1..."
 * (lowercase bech32), both new strings the caller frees; wipe the identity
 * with explicit_bzero before freeing it. On failure both are NULL.
 * Fails with PLUMB_ERROR only when OpenSSL does.
 */
int plumb_age_keygen(char **identity_out, char **recipient_out);

/*
 * The recipient "age1..." of one identity string "AGE-SECRET-KEY-1..."
 * (nothing around it, not even a newline): a new string the caller frees,
 * NULL on failure. PLUMB_EINVALID "not an age identity (AGE-SECRET-KEY-1...)"
 * when identity is not one.
 */
int plumb_age_recipient_of(char **out, const char *identity);

/*
 * 0 when recipient is a valid X25519 age recipient "age1..." (lowercase
 * bech32, as age requires); otherwise PLUMB_EINVALID with the message
 * "'RECIPIENT' is not a valid age recipient (age1...)". Something that
 * looks like an identity, or is long or unprintable, is not echoed.
 */
int plumb_age_recipient_valid(const char *recipient);

/*
 * Encrypt len bytes of data to the count recipients ("age1...") and append
 * the age file to out: binary, or with armor ASCII-armored exactly as
 * "age -a" writes it. PLUMB_EINVALID when there is no recipient, when one
 * is invalid (as plumb_age_recipient_valid says) or a low-order point; on
 * any failure out is truncated back to its length on entry. data may be
 * NULL when len is 0.
 */
int plumb_age_encrypt(plumb_buf *out, const char *const *recipients, size_t count, const void *data, size_t len,
		      int armor);

/*
 * Decrypt the age file data (binary, or armored: detected by its BEGIN
 * line, with up to 1 KiB of whitespace before and after, as age's armor
 * reader allows) and append the plaintext to out. identities_text is the text of an identity file as
 * age-keygen writes it: "#" comment lines, blank lines and lines
 * "AGE-SECRET-KEY-1..." (CRLF line ends accepted); it is only read.
 * A plaintext of more than max bytes is refused before any is written.
 *
 * Every failure is PLUMB_EINVALID (PLUMB_ERROR only when OpenSSL fails),
 * with one of these messages, none of which holds key material or
 * plaintext:
 *   "the identities hold no age identity"
 *   "line N of the identities is not an age identity"
 *   "not an age file (REASON)": wrong intro line, malformed armor, too
 *     much whitespace before the armor, malformed header line N,
 *     malformed X25519 stanza (including a low-order share)
 *   "trailing data after the armored age file"
 *   "too much whitespace after the armored age file"
 *   "no identity matches any recipient of the file"
 *   "header MAC mismatch (the file was altered)"
 *   "the file is truncated" (in the header, the armor, or at a chunk
 *     boundary; a cut inside a chunk reads as corruption, as in age)
 *   "the payload is corrupted (authentication failed)"
 *   "trailing data after the last chunk of the payload"
 *   "the payload ends with an empty chunk (not a valid age file)"
 *   "the plaintext is larger than MAX bytes"
 * On failure out keeps its length on entry, and any plaintext written
 * beyond it has been wiped. Out is grown once, before decrypting, so no
 * copy of the plaintext is left behind by a reallocation.
 */
int plumb_age_decrypt(plumb_buf *out, const char *identities_text, size_t identities_len, const void *data, size_t len,
		      size_t max);

#endif
