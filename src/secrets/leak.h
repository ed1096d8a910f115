/*
 * leak.h - the leak gate: find plaintext secrets in the blobs of a revision
 * before plumb deploys it.
 *
 * Each rule recognises one kind of secret: a token whose format is fixed
 * (a GitHub token, an AWS access key id, a private key block, ...) or a
 * high-entropy literal assigned to a key named like a password or a token.
 * A token counts only as a whole word: embedded in a longer run of letters
 * and digits it is something else (an id, a hash). A private key header
 * counts only with a base64 body below it, not quoted in code or prose.
 *
 * generic-secret looks at assignments (YAML "key: value", JSON, env and
 * shell "KEY=value", INI and TOML "key = value", Go "key := value"): the
 * key, lower-cased and without "_", "-" and ".", ends with a secret's name
 * (password, passwd, pass, pwd, secret, token, apikey, accesskey, secretkey,
 * privatekey, clientsecret, authtoken, credentials); the value, without its
 * quotes, has 12 or more characters, no blank, 3.5 or more bits of entropy
 * a character, and mixes two of lower case, upper case, digit and symbol
 * ("-", "_" and "." join words: "db-password" is a name); it is no
 * reference ("$", "{{", "<", "%(", "ENC[", "vault:", "!vault", "age1", "/",
 * "file:", "env:") and no token of another rule, which reports it instead.
 *
 * A finding never holds the secret: its mask keeps at most the public,
 * fixed prefix of the format ("ghp_", "AKIA", the "-----BEGIN ... PRIVATE
 * KEY-----" line) and shows the rest as "****". Findings are safe to print
 * and to log.
 *
 * Two ways to accept what a rule reports:
 *   - the annotation "plumb:allow-secret" anywhere on the line (typically
 *     in a comment) silences that line;
 *   - the allow file ".plumb-allow-secrets" at the top of the tree names
 *     paths, one entry a line ("#" starts a comment): "PATTERN" skips the
 *     matching files, "PATTERN RULE" only that rule's findings in them.
 *     PATTERN is a glob matched against the whole path with fnmatch(3) and
 *     FNM_PATHNAME, so that "*" stops at "/" ("*.pem" covers "a.pem", not
 *     "keys/a.pem"); a PATTERN ending in "/" covers every file below a
 *     folder it matches ("keys/" covers "keys/a.pem" and "keys/b/c.pem").
 *     Paths are from the top of the tree ("/keys/" is "keys/").
 */
#ifndef PLUMB_LEAK_H
#define PLUMB_LEAK_H

#include <stddef.h>
#include <stdio.h>

#include "source/source.h"
#include "util/diag.h"

/* Blobs larger than this are not scanned (vendored archives, images, dumps). */
#define PLUMB_LEAK_MAX_BLOB (8u << 20)

/* The allow file, at the top of the tree; read from the commit being scanned. */
#define PLUMB_LEAK_ALLOW_FILE ".plumb-allow-secrets"

/* A line holding this is never reported. */
#define PLUMB_LEAK_ANNOTATION "plumb:allow-secret"

/* One rule: its name (as findings and the allow file spell it) and what it looks for, in one line. */
typedef struct {
	const char *name;
	const char *description;
} plumb_leak_rule;

/* Every rule, in a fixed order; *count is set to how many. The table is static. */
const plumb_leak_rule *plumb_leak_rules(size_t *count);

typedef struct {
	char *path;       /* the file in the repository (owned) */
	unsigned line;    /* 1-based, counting "\n" (a CRLF file counts the same) */
	unsigned column;  /* 1-based byte offset of the secret in its line */
	const char *rule; /* a rule's name: static, from plumb_leak_rules() */
	char *masked;     /* the public prefix of the format then "****"; owned */
} plumb_leak;

typedef struct {
	plumb_leak *items;
	size_t count;
	size_t capacity;
} plumb_leaks;

#define PLUMB_LEAKS_INIT { NULL, 0, 0 }

void plumb_leaks_release(plumb_leaks *leaks);

/*
 * Scan one text (len bytes, need not be NUL-terminated) and append a
 * finding per secret to out, in the order they appear; path is copied into
 * each. Binary content - a NUL in the first 8000 bytes, as git decides - is
 * skipped. Lines holding PLUMB_LEAK_ANNOTATION are skipped. The allow file
 * is not consulted here.
 */
void plumb_leak_scan_text(plumb_leaks *out, const char *path, const char *text, size_t len);

/*
 * Scan every blob in the tree of commit (regular and executable files;
 * symlinks and submodules are skipped, and so are blobs larger than
 * PLUMB_LEAK_MAX_BLOB), honouring the commit's PLUMB_LEAK_ALLOW_FILE.
 * Appends the findings to out and sorts out by path, line and column.
 *
 * An allow-file entry naming an unknown rule is dropped with a diagnostic
 * ".plumb-allow-secrets:LINE:COL: unknown rule "x" (known: ...)" added to
 * diags; the caller decides whether that fails the check.
 *
 * Returns 0 whether or not anything was found, or a negative code with a
 * message when the repository could not be read.
 */
int plumb_leak_scan_commit(plumb_leaks *out, plumb_source *source, const char *commit, plumb_diags *diags);

/* Print each finding as "FILE:LINE: RULE MASKED". */
void plumb_leaks_print(const plumb_leaks *leaks, FILE *to);

#endif
