/*
 * Unit tests of leak: every rule on its own (found, and not found where it
 * must not be), masks, the annotation, binary content, positions, and the
 * scan of a real commit with its allow file.
 *
 * The secrets are fake but well-formed, built from pieces so that their
 * lengths are right by construction.
 */
#include "util/common.h"
#include "secrets/leak.h"
#include "source/source.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "fixture.h"

#define UPPER_DIGITS "FAKE0123456789TESTKYZ"
#define ALNUM "Fake0123456789TestValueXyz"
#define BASE64URL "Fake_Test-0123456789xyz"
#define BECH32 "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
/* {"alg":"HS256"} . {"sub":"fake"} . "signature-fake" */
#define JWT_HEADER "eyJhbGciOiJIUzI1NiJ9"
#define JWT_PAYLOAD "eyJzdWIiOiJmYWtlIn0"
#define JWT_SIGNATURE "c2lnbmF0dXJlLWZha2U"
#define FAKE_JWT JWT_HEADER "." JWT_PAYLOAD "." JWT_SIGNATURE

static plumb_source *source;
static char *repo;

/* Strings made by a test, freed together at its end. */
static char *made[64];
static size_t made_count;

static const char *keep(char *s)
{
	if (made_count == PLUMB_ARRAY_SIZE(made)) {
		fprintf(stderr, "too many strings in one test\n");
		exit(2);
	}
	return made[made_count++] = s;
}

#define F(...) keep(plumb_xprintf(__VA_ARGS__))

static void free_made(void)
{
	while (made_count)
		free(made[--made_count]);
}

/* prefix, then n characters taken in turn from alphabet. */
static const char *fake(const char *prefix, const char *alphabet, size_t n)
{
	plumb_buf b = PLUMB_BUF_INIT;
	plumb_buf_puts(&b, prefix);
	for (size_t i = 0; i < n; i++)
		plumb_buf_putc(&b, alphabet[i % strlen(alphabet)]);
	return keep(plumb_buf_detach(&b, NULL));
}

static void scan(plumb_leaks *out, const char *text)
{
	plumb_leaks_release(out);
	plumb_leak_scan_text(out, "f.txt", text, strlen(text));
}

static void show(const char *text, const plumb_leaks *leaks)
{
	fprintf(stderr, "  in \"%s\" found %zu:\n", text, leaks->count);
	plumb_leaks_print(leaks, stderr);
}

/* text holds exactly one secret, of rule, masked as masked. */
static int finds(const char *text, const char *rule, const char *masked)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	scan(&leaks, text);
	int ok = leaks.count == 1 && !strcmp(leaks.items[0].rule, rule) && !strcmp(leaks.items[0].masked, masked);
	if (!ok) {
		fprintf(stderr, "  expected one %s %s\n", rule, masked);
		show(text, &leaks);
	}
	plumb_leaks_release(&leaks);
	return ok;
}

static int finds_nothing(const char *text)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	scan(&leaks, text);
	int ok = leaks.count == 0;
	if (!ok)
		show(text, &leaks);
	plumb_leaks_release(&leaks);
	return ok;
}

/* --- one rule at a time ------------------------------------------------------------------------- */

static void private_key_blocks(void)
{
	const char *body = fake("", "MIIEpAIBAAKCAQEAfake0123456789+/", 64);
	CHECK(finds(F("-----BEGIN RSA PRIVATE KEY-----\n%s\n-----END RSA PRIVATE KEY-----\n", body), "private-key",
		    "-----BEGIN RSA PRIVATE KEY-----****"));
	CHECK(finds(F("-----BEGIN OPENSSH PRIVATE KEY-----\r\n%s\r\n", body), "private-key",
		    "-----BEGIN OPENSSH PRIVATE KEY-----****"));
	CHECK(finds(F("-----BEGIN EC PRIVATE KEY-----\n%s\n", body), "private-key",
		    "-----BEGIN EC PRIVATE KEY-----****"));
	CHECK(finds(F("-----BEGIN DSA PRIVATE KEY-----\n%s\n", body), "private-key",
		    "-----BEGIN DSA PRIVATE KEY-----****"));
	CHECK(finds(F("-----BEGIN ENCRYPTED PRIVATE KEY-----\n%s\n", body), "private-key",
		    "-----BEGIN ENCRYPTED PRIVATE KEY-----****"));
	CHECK(finds(F("-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n%s\n", body), "private-key",
		    "-----BEGIN PGP PRIVATE KEY BLOCK-----****"));
	/* Indented in a YAML block, and escaped in a JSON service account file. */
	CHECK(finds(F("tls.key: |\n  -----BEGIN PRIVATE KEY-----\n  %s\n", body), "private-key",
		    "-----BEGIN PRIVATE KEY-----****"));
	CHECK(finds(F("{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n%s\\n-----END PRIVATE KEY-----\\n\"}\n", body),
		    "private-key", "-----BEGIN PRIVATE KEY-----****"));

	CHECK(finds_nothing(F("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", body)));
	CHECK(finds_nothing(F("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", body)));
	CHECK(finds_nothing(F("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n%s\n", body)));
	CHECK(finds_nothing(F("-----BEGIN AGE ENCRYPTED FILE-----\n%s\n-----END AGE ENCRYPTED FILE-----\n", body)));
	CHECK(finds_nothing(F("-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n")));
	CHECK(finds_nothing(F("if (strstr(pem, \"-----BEGIN RSA PRIVATE KEY-----\"))\n\treturn %s;\n", body)));
	free_made();
}

static void age_secret_key(void)
{
	CHECK(finds(fake("AGE-SECRET-KEY-1", BECH32, 58), "age-secret-key", "AGE-SECRET-KEY-1****"));
	CHECK(finds(F("# public key: age1fake\n%s\n", fake("AGE-SECRET-KEY-1", BECH32, 58)), "age-secret-key",
		    "AGE-SECRET-KEY-1****"));
	CHECK(finds_nothing(fake("AGE-SECRET-KEY-1", BECH32, 57)));
	CHECK(finds_nothing(fake("AGE-SECRET-KEY-1", BECH32, 59)));
	CHECK(finds_nothing(fake("AGE-SECRET-KEY-1", "QPZRYB", 58))); /* B is no bech32 character */
	free_made();
}

static void aws_access_key_id(void)
{
	CHECK(finds(F("aws_access_key_id = %s\n", fake("AKIA", UPPER_DIGITS, 16)), "aws-access-key-id", "AKIA****"));
	CHECK(finds(F("\"%s\"", fake("ASIA", UPPER_DIGITS, 16)), "aws-access-key-id", "ASIA****"));
	CHECK(finds_nothing(F("id: x%s\n", fake("AKIA", UPPER_DIGITS, 16))));
	CHECK(finds_nothing(F("id: %s\n", fake("AKIA", UPPER_DIGITS, 15))));
	CHECK(finds_nothing(F("id: %s\n", fake("AKIA", UPPER_DIGITS, 17))));
	CHECK(finds_nothing(F("id: %sx\n", fake("AKIA", UPPER_DIGITS, 16))));
	free_made();
}

static void aws_secret_access_key(void)
{
	const char *secret = fake("", "wJalrXUtnFEMIK7MDENGbPxRfiCYFAKE+/0123456789", 40);
	CHECK(finds(F("aws_secret_access_key = %s\n", secret), "aws-secret-access-key", "****"));
	CHECK(finds(F("  AWS_SECRET_ACCESS_KEY: \"%s\"\n", secret), "aws-secret-access-key", "****"));
	CHECK(finds(F("{\"SecretAccessKey\": \"%s\"}", secret), "aws-secret-access-key", "****"));
	CHECK(finds_nothing(F("aws_access_key_id = %s\n", secret)));
	CHECK(finds_nothing(F("checksum = %s\n", secret)));
	/* Not the format, but still a random literal under a secret's name. */
	CHECK(finds(F("aws_secret_access_key = %.39s\n", secret), "generic-secret", "****"));
	free_made();
}

static void gcp_api_key(void)
{
	CHECK(finds(F("key=%s&q=x\n", fake("AIza", BASE64URL, 35)), "gcp-api-key", "AIza****"));
	CHECK(finds_nothing(F("key=%s\n", fake("AIza", BASE64URL, 34))));
	CHECK(finds_nothing(F("key=%s\n", fake("AIza", BASE64URL, 36))));
	CHECK(finds_nothing(F("key=x%s\n", fake("AIza", BASE64URL, 35))));
	free_made();
}

static void github_token(void)
{
	CHECK(finds(fake("ghp_", ALNUM, 36), "github-token", "ghp_****"));
	CHECK(finds(F("token: '%s'\n", fake("gho_", ALNUM, 36)), "github-token", "gho_****"));
	CHECK(finds(F("git clone https://x:%s@github.com/a/b\n", fake("ghs_", ALNUM, 36)), "github-token", "ghs_****"));
	CHECK(finds(fake("github_pat_", ALNUM "_", 82), "github-token", "github_pat_****"));
	CHECK(finds_nothing(fake("ghp_", ALNUM, 35)));
	CHECK(finds_nothing(fake("ghp_", ALNUM, 37)));
	CHECK(finds_nothing(F("x%s", fake("ghp_", ALNUM, 36))));
	CHECK(finds_nothing(fake("ghx_", ALNUM, 36)));
	CHECK(finds_nothing(fake("github_pat_", ALNUM, 81)));
	free_made();
}

static void gitlab_token(void)
{
	CHECK(finds(F("GITLAB=%s\n", fake("glpat-", BASE64URL, 20)), "gitlab-token", "glpat-****"));
	CHECK(finds_nothing(F("GITLAB=%s\n", fake("glpat-", BASE64URL, 19))));
	CHECK(finds_nothing(F("GITLAB=my%s\n", fake("glpat-", BASE64URL, 20))));
	free_made();
}

static void slack_token_and_webhook(void)
{
	CHECK(finds(fake("xoxb-", "1234567890-Fake", 40), "slack-token", "xoxb-****"));
	CHECK(finds(fake("xoxp-", ALNUM, 10), "slack-token", "xoxp-****"));
	CHECK(finds_nothing(fake("xoxb-", ALNUM, 9)));
	CHECK(finds_nothing(fake("xoxz-", ALNUM, 30)));
	CHECK(finds_nothing(F("a%s", fake("xoxb-", ALNUM, 30))));

	const char *hook = F("https://hooks.slack.com/services/%s/%s/%s", fake("T", UPPER_DIGITS, 8),
			     fake("B", UPPER_DIGITS, 10), fake("", ALNUM, 24));
	CHECK(finds(F("url: %s\n", hook), "slack-webhook", "https://hooks.slack.com/services/****"));
	CHECK(finds_nothing("url: https://hooks.slack.com/services/T000/B000/XXXX\n"));
	CHECK(finds_nothing("see https://hooks.slack.com/services/ for details\n"));
	free_made();
}

static void telegram_bot_token(void)
{
	CHECK(finds(F("BOT=%s\n", fake("123456789:AA", BASE64URL, 33)), "telegram-bot-token", "****"));
	CHECK(finds(F("bot%s/getMe\n", fake("/1234567890:AA", BASE64URL, 33)), "telegram-bot-token", "****"));
	CHECK(finds_nothing(F("BOT=%s\n", fake("1234567:AA", BASE64URL, 33))));
	CHECK(finds_nothing(F("BOT=%s\n", fake("12345678901:AA", BASE64URL, 33))));
	CHECK(finds_nothing(F("BOT=%s\n", fake("123456789:AA", BASE64URL, 32))));
	CHECK(finds_nothing(F("BOT=%s\n", fake("123456789:AA", BASE64URL, 34))));
	CHECK(finds_nothing(F("BOT=x%s\n", fake("123456789:AA", BASE64URL, 33))));
	free_made();
}

static void stripe_key(void)
{
	CHECK(finds(F("STRIPE=%s\n", fake("sk_live_", ALNUM, 24)), "stripe-key", "sk_live_****"));
	CHECK(finds(F("STRIPE=%s\n", fake("rk_live_", ALNUM, 99)), "stripe-key", "rk_live_****"));
	CHECK(finds_nothing(F("STRIPE=%s\n", fake("sk_live_", ALNUM, 23))));
	CHECK(finds_nothing(F("STRIPE=%s\n", fake("sk_test_", ALNUM, 24))));
	CHECK(finds_nothing(F("STRIPE=ask_live_%s\n", fake("", ALNUM, 24))));
	free_made();
}

static void jwt(void)
{
	CHECK(finds("Authorization: Bearer " FAKE_JWT "\n", "jwt", "eyJ****"));
	CHECK(finds("{\"id_token\":\"" FAKE_JWT "\"}", "jwt", "eyJ****"));
	CHECK(finds_nothing(JWT_HEADER "." JWT_PAYLOAD "\n"));
	CHECK(finds_nothing(JWT_HEADER ".abcdefghijklmnop." JWT_SIGNATURE "\n"));
	CHECK(finds_nothing(JWT_HEADER "." JWT_PAYLOAD ".abc\n"));
	CHECK(finds_nothing("eyJhbGc." JWT_PAYLOAD "." JWT_SIGNATURE "\n"));
	CHECK(finds_nothing("x" FAKE_JWT "\n"));
}

static void generic_secret_found(void)
{
	CHECK(finds("password: \"q8#Zr!v2Lx9@mPw4\"\n", "generic-secret", "****"));
	CHECK(finds("API_TOKEN=Zk3v9QmT7xLp2RwB8nYc\n", "generic-secret", "****"));
	CHECK(finds("{\"user\": \"admin\", \"clientSecret\": \"Zk3v9QmT7xLp2RwB8nYc\"}\n", "generic-secret", "****"));
	CHECK(finds("db_password = 'q8#Zr!v2Lx9@mPw4'\n", "generic-secret", "****"));
	CHECK(finds("export AUTH_TOKEN=\"Zk3v9QmT7xLp2RwB8nYc\"\n", "generic-secret", "****"));
	CHECK(finds("  - --api-key=Zk3v9QmT7xLp2RwB8nYc\n", "generic-secret", "****"));
	CHECK(finds("\tpassword := \"q8#Zr!v2Lx9@mPw4\"\n", "generic-secret", "****"));
	CHECK(finds("spec: {user: app, password: q8#Zr!v2Lx9@mPw4}\n", "generic-secret", "****"));
	CHECK(finds("spec: {password: q8#Zr!v2Lx9@mPw4}\n", "generic-secret", "****"));
	CHECK(finds("{\"db\":{\"password\":\"q8#Zr!v2Lx9@mPw4\"}}\n", "generic-secret", "****"));
	CHECK(finds("[client]\nCREDENTIALS = Zk3v9QmT7xLp2RwB8nYc\n", "generic-secret", "****"));
	CHECK(finds("PRIVATE_KEY=Zk3v9QmT7xLp2RwB8nYc\n", "generic-secret", "****"));
}

static void generic_secret_not_found(void)
{
	/* References and placeholders. */
	CHECK(finds_nothing("contentFrom: {secret: db-password}\n"));
	CHECK(finds_nothing("env: DB_PASSWORD\n"));
	CHECK(finds_nothing("password: changeme\n"));
	CHECK(finds_nothing("token: ${TOKEN}\n"));
	CHECK(finds_nothing("token: $GITHUB_TOKEN_FOR_DEPLOYMENTS\n"));
	CHECK(finds_nothing("password: \"{{ .Values.db.password }}\"\n"));
	CHECK(finds_nothing("password: ENC[AES256_GCM,data:Zk3v9QmT7xLp2RwB8nYc,type:str]\n"));
	CHECK(finds_nothing("client_secret: <your-client-secret>\n"));
	CHECK(finds_nothing("private_key: /etc/ssl/private/server-2024.key\n"));
	CHECK(finds_nothing("token: vault:secret/data/app#Token1\n"));
	CHECK(finds_nothing("api_key: file:/run/secrets/Api1\n"));
	CHECK(finds_nothing("api_key: env:API_KEY_PROD_2024\n"));
	CHECK(finds_nothing("pass: \"%(db_pass_Secret1)s\"\n"));
	CHECK(finds_nothing("password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n"));
	CHECK(finds_nothing("AGE_PASSWORD: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"));
	/* Too short, too regular, too uniform, or with blanks. */
	CHECK(finds_nothing("password: Zk3v9QmT7xL\n"));
	CHECK(finds_nothing("api_key: aaaaaaaaaaaaaaaaaaaaaaaa\n"));
	CHECK(finds_nothing("api_key: Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1\n"));
	CHECK(finds_nothing("secret: abcdefghijklmnopqrstuvwx\n"));
	CHECK(finds_nothing("existingSecret: postgres-admin-credentials\n"));
	/* A name with words and digits (a Secret's, a Kubernetes object's) is no value; generated kebab is. */
	CHECK(finds_nothing("contentFrom: {secret: grafana-admin-token-2024}\n"));
	CHECK(finds_nothing("  secret: grafana-admin-token-2024\n"));
	CHECK(finds("secret: x9fk-2kd9-sl3k-dk39-q0a7\n", "generic-secret", "****"));
	CHECK(finds_nothing("password: \"q8#Zr !v2Lx9@mPw4\"\n"));
	/* Not a secret's name, not an assignment. */
	CHECK(finds_nothing("name: Zk3v9QmT7xLp2RwB8nYc\n"));
	CHECK(finds_nothing("password_file: Zk3v9QmT7xLp2RwB8nYc\n"));
	CHECK(finds_nothing("if token == \"Zk3v9QmT7xLp2RwB8nYc\":\n"));
	CHECK(finds_nothing("see https://example.com/token:Zk3v9QmT7xLp2RwB8nYc\n"));
	CHECK(finds_nothing("password:\n"));
	CHECK(finds_nothing("password: \"Zk3v9QmT7xLp2RwB8nYc\n"));
}

/* A token under a secret's name is one finding, of the token's rule. */
static void token_in_assignment_is_reported_once(void)
{
	CHECK(finds(F("GITHUB_TOKEN=%s\n", fake("ghp_", ALNUM, 36)), "github-token", "ghp_****"));
	CHECK(finds("token: " FAKE_JWT "\n", "jwt", "eyJ****"));
	CHECK(finds(F("password = \"%s\"\n", fake("sk_live_", ALNUM, 30)), "stripe-key", "sk_live_****"));
	free_made();
}

/* --- findings ------------------------------------------------------------------------------------ */

/* One of each rule, one per line: the mask never shows more than the format's fixed prefix. */
static void masks_show_only_the_fixed_prefix(void)
{
	static const char *const prefixes[] = { "-----BEGIN RSA PRIVATE KEY-----", "AGE-SECRET-KEY-1", "AKIA", "",
						"AIza", "ghp_", "github_pat_", "glpat-", "xoxb-",
						"https://hooks.slack.com/services/", "", "sk_live_", "eyJ", "" };
	const char *text = F("-----BEGIN RSA PRIVATE KEY-----\n%s\n%s\nid: %s\naws_secret_access_key: %s\n%s\n%s\n"
			     "%s\n%s\n%s\nhook: https://hooks.slack.com/services/%s/%s/%s\n%s\n%s\n"
			     "t: " FAKE_JWT "\nPASSWORD=Zk3v9QmT7xLp2RwB8nYc\n",
			     fake("", "MIIEpAIBAAKCAQEAfake", 64), fake("AGE-SECRET-KEY-1", BECH32, 58),
			     fake("AKIA", UPPER_DIGITS, 16), fake("", "wJalrXUtnFEMIK7MDENG+/", 40),
			     fake("AIza", BASE64URL, 35), fake("ghp_", ALNUM, 36), fake("github_pat_", ALNUM, 82),
			     fake("glpat-", BASE64URL, 20), fake("xoxb-", ALNUM, 30), fake("T", UPPER_DIGITS, 9),
			     fake("B", UPPER_DIGITS, 9), fake("", ALNUM, 24), fake("123456789:AA", BASE64URL, 33),
			     fake("sk_live_", ALNUM, 24));
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	size_t count;

	scan(&leaks, text);
	plumb_leak_rules(&count);
	CHECK_INT(leaks.count, PLUMB_ARRAY_SIZE(prefixes));
	for (size_t i = 0; i < leaks.count && i < PLUMB_ARRAY_SIZE(prefixes); i++) {
		CHECK_STR(leaks.items[i].masked, F("%s****", prefixes[i]));
		/* The key block spans two lines; each other secret is on its own. */
		CHECK_INT(leaks.items[i].line, i ? i + 2 : 1);
	}
	/* Every rule is exercised (github-token twice). */
	CHECK_INT(leaks.count, count + 1);
	plumb_leaks_release(&leaks);
	free_made();
}

static void annotation_silences_its_line(void)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	const char *token = fake("ghp_", ALNUM, 36);

	CHECK(finds_nothing(F("API_TOKEN=Zk3v9QmT7xLp2RwB8nYc  # plumb:allow-secret\n")));
	CHECK(finds_nothing(F("// plumb:allow-secret: a test value\nt = \"%s\"; // plumb:allow-secret\n", token)));
	scan(&leaks, F("# plumb:allow-secret\n%s %s # plumb:allow-secret\n%s\n", token, token, token));
	CHECK_INT(leaks.count, 1);
	CHECK(leaks.count == 1 && leaks.items[0].line == 3);
	plumb_leaks_release(&leaks);
	free_made();
}

static void binary_content_is_skipped(void)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	const char *token = fake("ghp_", ALNUM, 36);
	size_t n = 9000;
	char *blob = plumb_xcalloc(n, 1);

	memcpy(blob + 100, token, strlen(token));
	plumb_leak_scan_text(&leaks, "image.png", blob, n);
	CHECK_INT(leaks.count, 0);

	/* A NUL past the first 8000 bytes: text, as git decides. */
	memset(blob, 'a', n);
	blob[99] = '\n';
	memcpy(blob + 100, token, strlen(token));
	blob[100 + strlen(token)] = '\n';
	blob[8500] = '\0';
	plumb_leak_scan_text(&leaks, "dump.txt", blob, n);
	CHECK_INT(leaks.count, 1);
	CHECK(leaks.count == 1 && leaks.items[0].line == 2);

	plumb_leak_scan_text(&leaks, "empty", "", 0);
	CHECK_INT(leaks.count, 1);
	free(blob);
	plumb_leaks_release(&leaks);
	free_made();
}

static void lines_and_columns(void)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	const char *token = fake("ghp_", ALNUM, 36), *key = fake("AKIA", UPPER_DIGITS, 16);

	/* CRLF, an empty line, and a last line without its newline. */
	scan(&leaks, F("first\r\nsecond\r\nexport TOKEN=%s\r\n\r\nx = 1\r\n  key: %s", token, key));
	CHECK_INT(leaks.count, 2);
	if (leaks.count == 2) {
		CHECK_INT(leaks.items[0].line, 3);
		CHECK_INT(leaks.items[0].column, 14);
		CHECK_INT(leaks.items[1].line, 6);
		CHECK_INT(leaks.items[1].column, 8);
	}
	/* Two on a line, in the order they appear, whatever their rules. */
	scan(&leaks, F("\n\n%s %s\n", key, token));
	CHECK(leaks.count == 2 && leaks.items[0].line == 3 && !strcmp(leaks.items[0].rule, "aws-access-key-id") &&
	      leaks.items[1].line == 3 && leaks.items[1].column == 22);
	plumb_leaks_release(&leaks);
	free_made();
}

static void prints_file_line_rule_mask(void)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	char *printed = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&printed, &size);

	const char *text = "#!/bin/sh\n\nAPI_TOKEN=Zk3v9QmT7xLp2RwB8nYc\n";

	plumb_leak_scan_text(&leaks, "scripts/deploy.sh", text, strlen(text));
	plumb_leaks_print(&leaks, f);
	fclose(f);
	CHECK_STR(printed, "scripts/deploy.sh:3: generic-secret ****\n");
	free(printed);
	plumb_leaks_release(&leaks);
}

static void rules_table(void)
{
	static const char *const expected[] = { "private-key", "age-secret-key", "aws-access-key-id",
						 "aws-secret-access-key", "gcp-api-key", "github-token",
						 "gitlab-token", "slack-token", "slack-webhook",
						 "telegram-bot-token", "stripe-key", "jwt", "generic-secret" };
	size_t count;
	const plumb_leak_rule *rules = plumb_leak_rules(&count);

	CHECK_INT(count, PLUMB_ARRAY_SIZE(expected));
	for (size_t i = 0; i < count && i < PLUMB_ARRAY_SIZE(expected); i++) {
		CHECK_STR(rules[i].name, expected[i]);
		CHECK(rules[i].description && strlen(rules[i].description) > 10);
	}
}

/* --- a commit ------------------------------------------------------------------------------------- */

static int scan_head(plumb_leaks *out, plumb_diags *diags)
{
	char commit[PLUMB_OID_HEXSZ + 1];
	if (fixture_commit("test") != 0 || plumb_source_resolve(commit, source, "main") < 0)
		return -100;
	plumb_leaks_release(out);
	return plumb_leak_scan_commit(out, source, commit, diags);
}

static int has_leak(const plumb_leaks *leaks, size_t i, const char *path, unsigned line, const char *rule)
{
	if (i < leaks->count && !strcmp(leaks->items[i].path, path) && leaks->items[i].line == line &&
	    !strcmp(leaks->items[i].rule, rule))
		return 1;
	fprintf(stderr, "  expected #%zu %s:%u: %s among:\n", i, path, line, rule);
	plumb_leaks_print(leaks, stderr);
	return 0;
}

static void commit_every_file_is_scanned(void)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	const char *token = fake("ghp_", ALNUM, 36);

	fixture_sh("rm -rf repo/* repo/.plumb-allow-secrets");
	fixture_write("manifests/motd.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: motd}\n"
					     "spec: {path: /etc/motd, content: hello}\n");
	fixture_write("scripts/deploy.sh", F("#!/bin/sh\nset -e\nexport GITHUB_TOKEN=%s\n", token));
	fixture_sh("chmod +x repo/scripts/deploy.sh");
	fixture_write("a/b/c/d/settings.ini", "[db]\nuser = app\npassword = q8#Zr!v2Lx9@mPw4\n");
	/* A symlink's blob is its target: not content. */
	fixture_sh("cd repo && ln -s %s link", token);
	/* Beyond PLUMB_LEAK_MAX_BLOB: not read. */
	fixture_sh("{ head -c 9000000 /dev/zero | tr '\\0' a; echo; echo %s; } > repo/big.txt",
		   fake("AKIA", UPPER_DIGITS, 16));

	CHECK_INT(scan_head(&leaks, &diags), 0);
	CHECK_INT(leaks.count, 2);
	CHECK(has_leak(&leaks, 0, "a/b/c/d/settings.ini", 3, "generic-secret"));
	CHECK(has_leak(&leaks, 1, "scripts/deploy.sh", 3, "github-token"));
	CHECK(leaks.count == 2 && !strcmp(leaks.items[1].masked, "ghp_****"));
	CHECK_INT(diags.count, 0);
	plumb_leaks_release(&leaks);
	plumb_diags_release(&diags);
	free_made();
}

static void commit_allow_file_is_honoured(void)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	const char *key = F("-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n-----END OPENSSH PRIVATE KEY-----\n",
			    fake("", "b3BlbnNzaC1rZXktdjEAAAAfake", 70));

	fixture_sh("rm -rf repo/* repo/.plumb-allow-secrets");
	fixture_write(".plumb-allow-secrets", "# test keys, not real ones\n"
					      "/testdata/\n"
					      "*.pem\n"
					      "\n"
					      "\tconfig/*.env   generic-secret\r\n"
					      "docs/*.md jwt # examples in the docs\n");
	fixture_write("testdata/keys/id_ed25519", key);
	fixture_write("server.pem", key);
	fixture_write("keys/server.pem", key);
	fixture_write("config/app.env",
		      F("API_TOKEN=Zk3v9QmT7xLp2RwB8nYc\nGITLAB=%s\n", fake("glpat-", BASE64URL, 20)));
	fixture_write("config/sub/app.env", "API_TOKEN=Zk3v9QmT7xLp2RwB8nYc\n");
	fixture_write("docs/api.md",
		      F("# API\n\nAuthorization: Bearer " FAKE_JWT "\nid: %s\n", fake("AKIA", UPPER_DIGITS, 16)));

	CHECK_INT(scan_head(&leaks, &diags), 0);
	CHECK_INT(leaks.count, 4);
	CHECK(has_leak(&leaks, 0, "config/app.env", 2, "gitlab-token"));
	CHECK(has_leak(&leaks, 1, "config/sub/app.env", 1, "generic-secret"));
	CHECK(has_leak(&leaks, 2, "docs/api.md", 4, "aws-access-key-id"));
	CHECK(has_leak(&leaks, 3, "keys/server.pem", 1, "private-key"));
	CHECK_INT(diags.count, 0);
	plumb_leaks_release(&leaks);
	plumb_diags_release(&diags);
	free_made();
}

static void commit_allow_file_errors_are_diagnostics(void)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;

	fixture_sh("rm -rf repo/* repo/.plumb-allow-secrets");
	fixture_write(".plumb-allow-secrets", "# comment\n"
					      "docs/ jwt\n"
					      "scripts/*.sh  github-tokens\n"
					      "config/ generic-secret extra\n");
	fixture_write("scripts/deploy.sh", F("TOKEN=%s\n", fake("ghp_", ALNUM, 36)));

	CHECK_INT(scan_head(&leaks, &diags), 0);
	CHECK_INT(diags.count, 2);
	CHECK(has_diag(&diags, ".plumb-allow-secrets", 3, 15,
		       "unknown rule \"github-tokens\" (known: private-key, age-secret-key, aws-access-key-id, "));
	CHECK(has_diag(&diags, ".plumb-allow-secrets", 3, 15, ", jwt, generic-secret)"));
	CHECK(has_diag(&diags, ".plumb-allow-secrets", 4, 24, "unexpected \"extra\""));
	/* The dropped entry allows nothing. */
	CHECK_INT(leaks.count, 1);
	CHECK(has_leak(&leaks, 0, "scripts/deploy.sh", 1, "github-token"));
	plumb_leaks_release(&leaks);
	plumb_diags_release(&diags);
	free_made();
}

int main(void)
{
	RUN(private_key_blocks);
	RUN(age_secret_key);
	RUN(aws_access_key_id);
	RUN(aws_secret_access_key);
	RUN(gcp_api_key);
	RUN(github_token);
	RUN(gitlab_token);
	RUN(slack_token_and_webhook);
	RUN(telegram_bot_token);
	RUN(stripe_key);
	RUN(jwt);
	RUN(generic_secret_found);
	RUN(generic_secret_not_found);
	RUN(token_in_assignment_is_reported_once);
	RUN(masks_show_only_the_fixed_prefix);
	RUN(annotation_silences_its_line);
	RUN(binary_content_is_skipped);
	RUN(lines_and_columns);
	RUN(prints_file_line_rule_mask);
	RUN(rules_table);

	fixture_init("leak");
	repo = fixture_path("repo");
	if (plumb_source_global_init() < 0 || fixture_commit("empty") != 0 ||
	    plumb_source_open(&source, repo, NULL) < 0)
		return 2;
	RUN(commit_every_file_is_scanned);
	RUN(commit_allow_file_is_honoured);
	RUN(commit_allow_file_errors_are_diagnostics);
	plumb_source_free(source);
	plumb_source_global_shutdown();
	free(repo);
	fixture_cleanup();
	TEST_EXIT();
}
