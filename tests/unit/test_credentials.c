/*
 * test_credentials.c - credentials entries: decoding (every mistake, with
 * its position), which entry a URL gets (the longest prefix, with or
 * without the URL's user), and the values read for a fetch from their
 * Secret sources (env, file, command), trimmed or not.
 */
#include "util/common.h"
#include "cmd/cmd.h"
#include "secrets/credentials.h"
#include "util/buf.h"
#include "test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/plumb-test-credentials-XXXXXX";

static char *write_file(const char *name, const char *text)
{
	char *path = plumb_xprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		CHECK(!"cannot write the fixture");
	if (fd >= 0)
		close(fd);
	return path;
}

/* Load a credentials file of text; NULL when it is refused (the message in the error slot). */
static plumb_credentials *load(const char *text)
{
	char *path = write_file("credentials.yaml", text);
	plumb_credentials *credentials = NULL;
	int error = plumb_cli_load_credentials(&credentials, path);
	free(path);
	return error == 0 ? credentials : NULL;
}

/* Resolve url: 0 with *out filled, or the error. */
static int resolve(plumb_source_access *out, plumb_credentials *credentials, const char *url)
{
	const plumb_source_credentials *table = plumb_credentials_table(credentials);
	memset(out, 0, sizeof(*out));
	return table->resolve(out, url, table->payload);
}

static void test_mistakes(void)
{
	CHECK(!load("credentials:\n"
		    "  - username: x\n"
		    "  - url: https://h/\n"
		    "    password: {env: A, file: /f}\n"
		    "  - url: https://h/\n"
		    "    sshKey: {file: relative}\n"
		    "    caFile: ca.pem\n"
		    "  - url: https://u:secret@h/\n"
		    "    passphrase: {env: P}\n"
		    "    tls: true\n"));
	const char *message = plumb_error_last();
	CHECK_CONTAINS(message, "credentials.yaml:2:5");
	CHECK_CONTAINS(message, "url");
	CHECK_CONTAINS(message, "credentials[1].password: name exactly one of age, env, file and command");
	CHECK_CONTAINS(message, "credentials[2].sshKey.file: 'relative' is not an absolute path");
	CHECK_CONTAINS(message, "credentials[2].caFile: 'ca.pem' is not an absolute path");
	CHECK_CONTAINS(message, "credentials[3].url holds a password");
	CHECK_CONTAINS(message, "credentials[3].passphrase: there is no sshKey for it");
	CHECK_CONTAINS(message, "tls");
	CHECK_LACKS(message, "secret");
	CHECK(!load("credentials: {url: x}\n"));
	CHECK(!load("other: 1\n"));
}

static void test_matching(void)
{
	char *token = write_file("token", "server-token\n");
	char *text = plumb_xprintf("credentials:\n"
				   "  - url: https://git.example.com/\n"
				   "    username: server\n"
				   "    password: {file: %s}\n"
				   "  - url: https://git.example.com/team/\n"
				   "    username: team\n"
				   "    password: {env: PLUMB_TEST_TEAM_TOKEN}\n"
				   "    caFile: /etc/ca.pem\n"
				   "    insecureSkipVerify: true\n",
				   token);
	plumb_credentials *credentials = load(text);
	plumb_source_access access;
	CHECK(credentials != NULL);
	if (!credentials)
		goto done;
	setenv("PLUMB_TEST_TEAM_TOKEN", "team-token\n", 1);

	CHECK_INT(resolve(&access, credentials, "https://git.example.com/team/site.git"), 0);
	CHECK_STR(access.username, "team");
	CHECK_STR(access.password.ptr, "team-token"); /* trimNewline: on by default */
	CHECK_STR(access.ca_file, "/etc/ca.pem");
	CHECK_INT(access.insecure_skip_verify, 1);
	CHECK_STR(access.entry, "https://git.example.com/team/");
	plumb_source_access_release(&access);

	CHECK_INT(resolve(&access, credentials, "https://git.example.com/other/site.git"), 0);
	CHECK_STR(access.username, "server");
	CHECK_STR(access.password.ptr, "server-token");
	CHECK(access.ca_file == NULL);
	plumb_source_access_release(&access);

	/* The URL's user does not keep it from its entry. */
	CHECK_INT(resolve(&access, credentials, "https://deploy@git.example.com/team/x.git"), 0);
	CHECK_STR(access.username, "team");
	plumb_source_access_release(&access);

	/* No entry: nothing, and no error. */
	CHECK_INT(resolve(&access, credentials, "https://elsewhere.example.com/x.git"), 0);
	CHECK(access.entry == NULL && access.username == NULL && access.password.len == 0);
	plumb_source_access_release(&access);

	/* A value that cannot be read fails, naming the entry and the Secret, never a value. */
	unsetenv("PLUMB_TEST_TEAM_TOKEN");
	CHECK(resolve(&access, credentials, "https://git.example.com/team/site.git") < 0);
	CHECK_CONTAINS(plumb_error_last(),
		       "credentials for https://git.example.com/team/: Secret credentials[1].password: environment "
		       "variable PLUMB_TEST_TEAM_TOKEN is not set");
	plumb_source_access_release(&access);
done:
	plumb_credentials_free(credentials);
	free(text);
	free(token);
}

static void test_keys(void)
{
	char *key = write_file("key", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
	char *text = plumb_xprintf("credentials:\n"
				   "  - url: ssh://git@git.example.com/\n"
				   "    sshKey: {file: %s}\n"
				   "    passphrase: {command: [printf, 'pass phrase\\n']}\n"
				   "    acceptNewHostKeys: true\n",
				   key);
	plumb_credentials *credentials = load(text);
	plumb_source_access access;
	CHECK(credentials != NULL);
	if (credentials) {
		CHECK_INT(resolve(&access, credentials, "ssh://git@git.example.com/ops/site.git"), 0);
		/* A key keeps its last line break; a command's value loses it. */
		CHECK_STR(access.ssh_key.ptr,
			  "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
		CHECK_STR(access.passphrase.ptr, "pass phrase");
		CHECK_INT(access.accept_new_host_keys, 1);
		CHECK(access.username == NULL);
		plumb_source_access_release(&access);
		/* Another reference keeps them after the first owner lets go. */
		plumb_credentials *other = plumb_credentials_ref(credentials);
		plumb_credentials_free(credentials);
		CHECK_INT(resolve(&access, other, "ssh://git@git.example.com/x"), 0);
		plumb_source_access_release(&access);
		plumb_credentials_free(other);
	}
	free(text);
	free(key);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_mistakes);
	RUN(test_matching);
	RUN(test_keys);
	char command[96];
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	if (system(command) != 0)
		return 1;
	TEST_EXIT();
}
