/*
 * test_known_hosts.c - known_hosts.c: host names with ports, plain and
 * hashed lines (as ssh-keygen -H writes them), patterns, changed, revoked
 * and other-type keys, fingerprints as ssh-keygen -l prints them, lines to
 * add, and appending.
 */
#include "util/common.h"
#include "util/buf.h"
#include "source/known_hosts.h"
#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

/* Public keys made with ssh-keygen; K1's fingerprint as ssh-keygen -l shows it. */
#define K1 "AAAAC3NzaC1lZDI1NTE5AAAAIFh5pCawrXXv0xPu8hPi29Gt4WQ+B+ckin7QxLp0wVT2"
#define K1_FINGERPRINT "SHA256:zkTe7uJploqGQTvfGB+p9CYibNE8yP4LiM1JnwlWhA0"
#define K2 "AAAAC3NzaC1lZDI1NTE5AAAAIPDNu4DdzYgx4FtnkWY924ncRLPVOlByrdOUyQihlNUv"
#define K3_RSA                                                                                                  \
	"AAAAB3NzaC1yc2EAAAADAQABAAAAgQC+nOj2PLjGjHmtx739QchxYYxRey/EwC1grTvvtNKUdBu7mrkFvrKnBeUDs+N4Nb/PaXRdMKL4Ekn9" \
	"FIqd5zM6B/Ab+kVnr7x7shu/LDNU6g0+l5xgbfcIXYvMcJvqwqjkQtiZ/j8DI2d4Rej1j1Ojtp0QMER3mCaXxVvHeHV3vw=="
/* "[git.example.com]:2222 ssh-ed25519 K1" after ssh-keygen -H. */
#define HASHED "|1|EshVRslOUndKN9DUtZWOVppsltc=|4pb2Kqb5qE3QYqWaKNLl2Y13DM4="

static char dir[] = "/tmp/plumb-test-known-hosts-XXXXXX";
static char file_a[128], file_b[128];

static size_t decode(unsigned char *out, const char *b64)
{
	size_t len = strlen(b64);
	int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (b64[len - 1] == '=')
		n--;
	if (b64[len - 2] == '=')
		n--;
	return (size_t)n;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		CHECK(!"cannot write the fixture");
	if (fd >= 0)
		close(fd);
}

/* The verdict for name and key (base64) against file_a, then file_b. */
static plumb_known_host verdict(const char *name, const char *key_b64)
{
	unsigned char key[1024];
	size_t len = decode(key, key_b64);
	const char *files[] = { file_a, file_b };
	plumb_known_host out = PLUMB_KNOWN_HOST_UNKNOWN;
	CHECK_INT(plumb_known_hosts_check(&out, files, 2, name, key, len), 0);
	return out;
}

static void test_names(void)
{
	char *name = plumb_known_hosts_name("github.com", 22);
	CHECK_STR(name, "github.com");
	free(name);
	name = plumb_known_hosts_name("127.0.0.1", 2222);
	CHECK_STR(name, "[127.0.0.1]:2222");
	free(name);
}

static void test_fingerprint_and_line(void)
{
	unsigned char key[1024];
	size_t len = decode(key, K1);
	char *fingerprint = plumb_known_hosts_fingerprint(key, len);
	CHECK_STR(fingerprint, K1_FINGERPRINT);
	free(fingerprint);
	char *line = plumb_known_hosts_line("[h]:2", key, len);
	CHECK_STR(line, "[h]:2 ssh-ed25519 " K1);
	free(line);
}

static void test_plain_and_ports(void)
{
	write_file(file_a, "# comment\n\ngit.example.com ssh-ed25519 " K1 " a comment\n"
			   "[git.example.com]:2222 ssh-ed25519 " K2 "\n");
	unlink(file_b);
	CHECK_INT(verdict("git.example.com", K1), PLUMB_KNOWN_HOST_MATCH);
	CHECK_INT(verdict("GIT.example.COM", K1), PLUMB_KNOWN_HOST_MATCH);
	CHECK_INT(verdict("[git.example.com]:2222", K2), PLUMB_KNOWN_HOST_MATCH);
	/* The brackets are part of the name, not a pattern. */
	CHECK_INT(verdict("g", K1), PLUMB_KNOWN_HOST_UNKNOWN);
	CHECK_INT(verdict("other.example.com", K1), PLUMB_KNOWN_HOST_UNKNOWN);
	CHECK_INT(verdict("git.example.com", K2), PLUMB_KNOWN_HOST_CHANGED);
	CHECK_INT(verdict("git.example.com", K3_RSA), PLUMB_KNOWN_HOST_OTHER);
}

static void test_hashed(void)
{
	write_file(file_a, HASHED " ssh-ed25519 " K1 "\n");
	unlink(file_b);
	CHECK_INT(verdict("[git.example.com]:2222", K1), PLUMB_KNOWN_HOST_MATCH);
	CHECK_INT(verdict("[git.example.com]:2222", K2), PLUMB_KNOWN_HOST_CHANGED);
	CHECK_INT(verdict("git.example.com", K1), PLUMB_KNOWN_HOST_UNKNOWN);
}

static void test_patterns(void)
{
	write_file(file_a, "*.example.com,!bad.example.com,git?.lan ssh-ed25519 " K1 "\n");
	unlink(file_b);
	CHECK_INT(verdict("a.example.com", K1), PLUMB_KNOWN_HOST_MATCH);
	CHECK_INT(verdict("git1.lan", K1), PLUMB_KNOWN_HOST_MATCH);
	CHECK_INT(verdict("bad.example.com", K1), PLUMB_KNOWN_HOST_UNKNOWN);
	CHECK_INT(verdict("git12.lan", K1), PLUMB_KNOWN_HOST_UNKNOWN);
	CHECK_INT(verdict("example.com", K1), PLUMB_KNOWN_HOST_UNKNOWN);
}

static void test_revoked_and_order(void)
{
	write_file(file_a, "@revoked * ssh-ed25519 " K2 "\n@cert-authority * ssh-ed25519 " K1 "\n");
	write_file(file_b, "h ssh-ed25519 " K2 "\nh2 ssh-ed25519 " K1 "\n");
	CHECK_INT(verdict("h", K2), PLUMB_KNOWN_HOST_REVOKED);
	/* A CA line does not make a host known. */
	CHECK_INT(verdict("h3", K1), PLUMB_KNOWN_HOST_UNKNOWN);
	CHECK_INT(verdict("h2", K1), PLUMB_KNOWN_HOST_MATCH);
	/* The first file knows the host with this key; a changed key in the second still wins. */
	write_file(file_a, "h ssh-ed25519 " K1 "\n");
	write_file(file_b, "h ssh-ed25519 " K2 "\n");
	CHECK_INT(verdict("h", K1), PLUMB_KNOWN_HOST_CHANGED);
	write_file(file_b, "garbage\n\nh ssh-ed25519 not-base64!\n");
	CHECK_INT(verdict("h", K1), PLUMB_KNOWN_HOST_MATCH);
}

static void test_add(void)
{
	char path[192];
	snprintf(path, sizeof(path), "%s/new/known_hosts", dir);
	CHECK_INT(plumb_known_hosts_add(path, "[h]:2 ssh-ed25519 " K1), 0);
	CHECK_INT(plumb_known_hosts_add(path, "h ssh-ed25519 " K2), 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	unsigned char key[1024];
	size_t len = decode(key, K1);
	const char *files[] = { path };
	plumb_known_host out;
	CHECK_INT(plumb_known_hosts_check(&out, files, 1, "[h]:2", key, len), 0);
	CHECK_INT(out, PLUMB_KNOWN_HOST_MATCH);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(file_a, sizeof(file_a), "%s/a", dir);
	snprintf(file_b, sizeof(file_b), "%s/b", dir);
	RUN(test_names);
	RUN(test_fingerprint_and_line);
	RUN(test_plain_and_ports);
	RUN(test_hashed);
	RUN(test_patterns);
	RUN(test_revoked_and_order);
	RUN(test_add);
	char command[160];
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	if (system(command) != 0)
		return 1;
	TEST_EXIT();
}
