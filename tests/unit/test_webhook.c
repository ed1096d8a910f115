#include "util/common.h"
#include "serve/webhook.h"
#include "test.h"

#include <unistd.h>

/*
 * Known answers: GitHub's documented example ("Validating webhook
 * deliveries") and RFC 4231 test case 2, both checked with
 * `printf %s BODY | openssl dgst -sha256 -hmac SECRET`.
 */
#define GITHUB_SECRET "It's a Secret to Everybody"
#define GITHUB_BODY "Hello, World!"
#define GITHUB_HMAC "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
#define RFC_SECRET "Jefe"
#define RFC_BODY "what do ya want for nothing?"
#define RFC_HMAC "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
/* HMAC-SHA256("s3cret", "") */
#define EMPTY_BODY_HMAC "91dfac70c5348b04e1babb8b421ac92cec08b565b49ca16130dccb72503647b7"

static int verify(plumb_webhook_kind kind, const char *secret, const char *header, const char *body)
{
	return plumb_webhook_verify(kind, secret, secret ? strlen(secret) : 0, header, body, body ? strlen(body) : 0);
}

static void test_names(void)
{
	CHECK_INT(plumb_webhook_kind_from_name("github"), PLUMB_WEBHOOK_GITHUB);
	CHECK_INT(plumb_webhook_kind_from_name("gitea"), PLUMB_WEBHOOK_GITEA);
	CHECK_INT(plumb_webhook_kind_from_name("gitlab"), PLUMB_WEBHOOK_GITLAB);
	CHECK_INT(plumb_webhook_kind_from_name("generic"), PLUMB_WEBHOOK_GENERIC);
	CHECK_INT(plumb_webhook_kind_from_name("GitHub"), -1);
	CHECK_INT(plumb_webhook_kind_from_name(""), -1);
	CHECK_INT(plumb_webhook_kind_from_name("bitbucket"), -1);
	CHECK_INT(plumb_webhook_kind_from_name(NULL), -1);

	CHECK_STR(plumb_webhook_header(PLUMB_WEBHOOK_GITHUB), "X-Hub-Signature-256");
	CHECK_STR(plumb_webhook_header(PLUMB_WEBHOOK_GITEA), "X-Gitea-Signature");
	CHECK_STR(plumb_webhook_header(PLUMB_WEBHOOK_GITLAB), "X-Gitlab-Token");
	CHECK_STR(plumb_webhook_header(PLUMB_WEBHOOK_GENERIC), "X-Plumb-Signature");
}

static void test_known_answers(void)
{
	CHECK(verify(PLUMB_WEBHOOK_GITHUB, GITHUB_SECRET, "sha256=" GITHUB_HMAC, GITHUB_BODY));
	CHECK(verify(PLUMB_WEBHOOK_GENERIC, GITHUB_SECRET, "sha256=" GITHUB_HMAC, GITHUB_BODY));
	CHECK(verify(PLUMB_WEBHOOK_GITEA, GITHUB_SECRET, GITHUB_HMAC, GITHUB_BODY));
	CHECK(verify(PLUMB_WEBHOOK_GITHUB, RFC_SECRET, "sha256=" RFC_HMAC, RFC_BODY));
	CHECK(verify(PLUMB_WEBHOOK_GITEA, RFC_SECRET, RFC_HMAC, RFC_BODY));
	/* Hex digits in either case are the same signature. */
	CHECK(verify(PLUMB_WEBHOOK_GITEA, RFC_SECRET,
		     "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843", RFC_BODY));
	/* An empty body is still signed. */
	CHECK(plumb_webhook_verify(PLUMB_WEBHOOK_GITHUB, "s3cret", 6, "sha256=" EMPTY_BODY_HMAC, "", 0));
	CHECK(plumb_webhook_verify(PLUMB_WEBHOOK_GITEA, "s3cret", 6, EMPTY_BODY_HMAC, NULL, 0));
}

/* Against the openssl command line, on a body holding NUL bytes: lengths count, not strlen. */
static void test_binary_body_against_openssl(void)
{
	char path[] = "/tmp/plumb-test-webhook-XXXXXX";
	const char body[] = "{\"a\":1}\0after the NUL\n\x01\xff";
	size_t body_len = sizeof(body) - 1;
	char line[256] = "", header[128];

	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_INT(write(fd, body, body_len), (long long)body_len);
	close(fd);
	char *command = plumb_xprintf("openssl dgst -sha256 -hmac 'key with spaces' -r '%s' 2>/dev/null", path);
	FILE *p = popen(command, "r");
	if (p) {
		if (!fgets(line, sizeof(line), p))
			line[0] = '\0';
		pclose(p);
	}
	free(command);
	unlink(path);
	if (strlen(line) < 64) {
		fprintf(stderr, "  openssl gave no digest; skipped\n");
		return;
	}
	line[64] = '\0';
	snprintf(header, sizeof(header), "sha256=%s", line);
	CHECK(plumb_webhook_verify(PLUMB_WEBHOOK_GITHUB, "key with spaces", 15, header, body, body_len));
	CHECK(plumb_webhook_verify(PLUMB_WEBHOOK_GITEA, "key with spaces", 15, line, body, body_len));
	/* Cut at the NUL, the body is another one. */
	CHECK(!plumb_webhook_verify(PLUMB_WEBHOOK_GITHUB, "key with spaces", 15, header, body, strlen(body)));
}

static void test_refusals(void)
{
	const plumb_webhook_kind kinds[] = { PLUMB_WEBHOOK_GITHUB, PLUMB_WEBHOOK_GENERIC };
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(kinds); i++) {
		plumb_webhook_kind kind = kinds[i];
		/* Wrong secret, body changed by one byte, a flipped digit. */
		CHECK(!verify(kind, "It's a Secret to Everybody!", "sha256=" GITHUB_HMAC, GITHUB_BODY));
		CHECK(!verify(kind, GITHUB_SECRET, "sha256=" GITHUB_HMAC, "Hello, World?"));
		CHECK(!verify(kind, GITHUB_SECRET, "sha256=" GITHUB_HMAC, "Hello, World!\n"));
		CHECK(!verify(kind, GITHUB_SECRET,
			      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18", GITHUB_BODY));
		/* Truncated, extended, empty, malformed. */
		CHECK(!verify(kind, GITHUB_SECRET,
			      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", GITHUB_BODY));
		CHECK(!verify(kind, GITHUB_SECRET, "sha256=757107ea", GITHUB_BODY));
		CHECK(!verify(kind, GITHUB_SECRET, "sha256=" GITHUB_HMAC "00", GITHUB_BODY));
		CHECK(!verify(kind, GITHUB_SECRET, "sha256=" GITHUB_HMAC " ", GITHUB_BODY));
		CHECK(!verify(kind, GITHUB_SECRET, "sha256=", GITHUB_BODY));
		CHECK(!verify(kind, GITHUB_SECRET, "", GITHUB_BODY));
		CHECK(!verify(kind, GITHUB_SECRET,
			      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043ezz", GITHUB_BODY));
		/* Without the prefix, or with another algorithm's. */
		CHECK(!verify(kind, GITHUB_SECRET, GITHUB_HMAC, GITHUB_BODY));
		CHECK(!verify(kind, GITHUB_SECRET, "sha1=" GITHUB_HMAC, GITHUB_BODY));
		CHECK(!verify(kind, GITHUB_SECRET, "SHA256=" GITHUB_HMAC, GITHUB_BODY));
		/* Missing header, empty or missing secret. */
		CHECK(!verify(kind, GITHUB_SECRET, NULL, GITHUB_BODY));
		CHECK(!verify(kind, "", "sha256=" GITHUB_HMAC, GITHUB_BODY));
		CHECK(!verify(kind, NULL, "sha256=" GITHUB_HMAC, GITHUB_BODY));
	}

	/* Gitea: the bare hex, never a prefix. */
	CHECK(!verify(PLUMB_WEBHOOK_GITEA, GITHUB_SECRET, "sha256=" GITHUB_HMAC, GITHUB_BODY));
	CHECK(!verify(PLUMB_WEBHOOK_GITEA, "wrong", GITHUB_HMAC, GITHUB_BODY));
	CHECK(!verify(PLUMB_WEBHOOK_GITEA, GITHUB_SECRET, GITHUB_HMAC, "Hello, World."));
	CHECK(!verify(PLUMB_WEBHOOK_GITEA, GITHUB_SECRET,
		      "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", GITHUB_BODY));
	CHECK(!verify(PLUMB_WEBHOOK_GITEA, GITHUB_SECRET, "", GITHUB_BODY));
	CHECK(!verify(PLUMB_WEBHOOK_GITEA, GITHUB_SECRET, NULL, GITHUB_BODY));
	CHECK(!verify(PLUMB_WEBHOOK_GITEA, "", GITHUB_HMAC, GITHUB_BODY));

	/* An HMAC made with an empty key is refused even though it is right for that key. */
	CHECK(!plumb_webhook_verify(PLUMB_WEBHOOK_GITHUB, "", 0,
				    "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", "", 0));

	/* An unknown kind proves nothing. */
	CHECK(!verify((plumb_webhook_kind)42, GITHUB_SECRET, "sha256=" GITHUB_HMAC, GITHUB_BODY));
}

static void test_gitlab_token(void)
{
	CHECK(verify(PLUMB_WEBHOOK_GITLAB, "gl-secret-token", "gl-secret-token", "{}"));
	/* The body plays no part in GitLab's proof. */
	CHECK(verify(PLUMB_WEBHOOK_GITLAB, "gl-secret-token", "gl-secret-token", "anything"));
	CHECK(!verify(PLUMB_WEBHOOK_GITLAB, "gl-secret-token", "gl-secret-tokeN", "{}"));
	CHECK(!verify(PLUMB_WEBHOOK_GITLAB, "gl-secret-token", "gl-secret-toke", "{}"));
	CHECK(!verify(PLUMB_WEBHOOK_GITLAB, "gl-secret-token", "gl-secret-token ", "{}"));
	CHECK(!verify(PLUMB_WEBHOOK_GITLAB, "gl-secret-token", "gl-secret-token-and-more", "{}"));
	CHECK(!verify(PLUMB_WEBHOOK_GITLAB, "gl-secret-token", "", "{}"));
	CHECK(!verify(PLUMB_WEBHOOK_GITLAB, "gl-secret-token", NULL, "{}"));
	CHECK(!verify(PLUMB_WEBHOOK_GITLAB, "", "", "{}"));
	/* secret_len is what counts: a secret with a NUL inside is not its prefix. */
	CHECK(!plumb_webhook_verify(PLUMB_WEBHOOK_GITLAB, "ab\0cd", 5, "ab", "{}", 2));
	CHECK(plumb_webhook_verify(PLUMB_WEBHOOK_GITLAB, "abcd", 2, "ab", "{}", 2));
}

static void test_pushed_branch(void)
{
	static const char github_push[] =
		"{\"ref\": \"refs/heads/main\", \"before\": \"6113728f27ae82c7b1a177c8d03f9e96e0adf246\", "
		"\"after\": \"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5\", \"repository\": {\"full_name\": \"o/r\"}, "
		"\"pusher\": {\"name\": \"o\"}, \"commits\": []}";
	char *branch = plumb_webhook_pushed_branch(github_push, strlen(github_push));
	CHECK_STR(branch, "main");
	free(branch);

	const char nested[] = "{\"ref\": \"refs/heads/release/1.2\"}";
	branch = plumb_webhook_pushed_branch(nested, strlen(nested));
	CHECK_STR(branch, "release/1.2");
	free(branch);

	/* Only the given length is parsed. */
	const char trailing[] = "{\"ref\": \"refs/heads/dev\"}garbage";
	branch = plumb_webhook_pushed_branch(trailing, strlen("{\"ref\": \"refs/heads/dev\"}"));
	CHECK_STR(branch, "dev");
	free(branch);

	const char *none[] = {
		"{\"ref\": \"refs/tags/v1.0.0\", \"ref_type\": \"tag\"}",
		"{\"ref\": \"refs/heads/\"}",
		"{\"ref\": \"main\"}",
		"{\"ref\": 42}",
		"{\"ref\": null}",
		"{\"zen\": \"Keep it logically awesome.\", \"hook_id\": 1}",
		"[\"refs/heads/main\"]",
		"\"refs/heads/main\"",
		"ref=refs/heads/main",
		"{\"ref\": \"refs/heads/main\"",
		"",
	};
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(none); i++) {
		branch = plumb_webhook_pushed_branch(none[i], strlen(none[i]));
		if (branch)
			fprintf(stderr, "  \"%s\" gave \"%s\"\n", none[i], branch);
		CHECK(branch == NULL);
		free(branch);
	}
	CHECK(plumb_webhook_pushed_branch(NULL, 0) == NULL);
	CHECK(plumb_webhook_pushed_branch(github_push, 10) == NULL);
}

int main(void)
{
	RUN(test_names);
	RUN(test_known_answers);
	RUN(test_binary_body_against_openssl);
	RUN(test_refusals);
	RUN(test_gitlab_token);
	RUN(test_pushed_branch);
	TEST_EXIT();
}
