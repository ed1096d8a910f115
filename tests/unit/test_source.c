/*
 * test_source.c - source.c against real repositories made by the git
 * command line, and a real git daemon for the fetch path.
 */
#include "util/common.h"
#include "util/buf.h"
#include "util/hash.h"
#include "source/source.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HEX (PLUMB_OID_HEXSZ + 1)
#define DEEP_LEVELS 260

static char root[] = "/tmp/plumb-test-source-XXXXXX";
/* Paths below root are short; buffers sized to match keep -Wformat-truncation quiet. */
static char work[64];   /* the fixture work tree */
static char served[64]; /* what the daemon serves: served/repo.git */
static char first[HEX], second[HEX], first_tree[HEX], second_tree[HEX];
static char readme_first[HEX], readme_second[HEX], link_blob[HEX], empty_blob[HEX], tag_object[HEX];
static int daemon_port;
static pid_t daemon_pid;

/* Run a shell command built printf-style; 0 when it exits with status 0. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	plumb_buf cmd = PLUMB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	plumb_buf_vprintf(&cmd, fmt, ap);
	va_end(ap);
	int status = system(cmd.ptr);
	if (status != 0)
		fprintf(stderr, "  command failed (%d): %s\n", status, cmd.ptr);
	plumb_buf_release(&cmd);
	return status;
}

/* The first line a shell command prints, without its newline. */
static void capture(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void capture(char *out, size_t size, const char *fmt, ...)
{
	plumb_buf cmd = PLUMB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	plumb_buf_vprintf(&cmd, fmt, ap);
	va_end(ap);
	out[0] = '\0';
	FILE *p = popen(cmd.ptr, "r");
	if (p) {
		if (fgets(out, (int)size, p))
			out[strcspn(out, "\n")] = '\0';
		pclose(p);
	}
	if (!out[0])
		fprintf(stderr, "  no output from: %s\n", cmd.ptr);
	plumb_buf_release(&cmd);
}

static int make_fixture(void)
{
	char gitlink_line[256];

	snprintf(work, sizeof(work), "%s/work", root);
	snprintf(served, sizeof(served), "%s/served", root);
	if (sh("cd %s && git init -q -b main work && cd work && mkdir -p bin etc/app && printf 'hello\\n' >README && "
	       ": >empty && printf 'key: value\\n' >etc/app/config.yaml && printf '#!/bin/sh\\necho hi\\n' >bin/run && "
	       "chmod +x bin/run && ln -s etc/app/config.yaml link && git add -A && "
	       "git commit -q -m 'first commit' -m 'A body that is not part of the subject.' && "
	       "git tag -a v1 -m 'release v1' && git tag light",
	       root) != 0)
		return -1;
	capture(first, sizeof(first), "git -C %s rev-parse HEAD", work);
	/* A gitlink, as a submodule leaves in the tree, pointing at the first commit. */
	snprintf(gitlink_line, sizeof(gitlink_line), "160000,%s,vendor/lib", first);
	if (sh("cd %s && printf 'second\\n' >>README && git add README && "
	       "git update-index --add --cacheinfo %s && git commit -q -m 'second commit'",
	       work, gitlink_line) != 0)
		return -1;
	capture(second, sizeof(second), "git -C %s rev-parse HEAD", work);
	capture(first_tree, sizeof(first_tree), "git -C %s rev-parse HEAD~1^{tree}", work);
	capture(second_tree, sizeof(second_tree), "git -C %s rev-parse HEAD^{tree}", work);
	capture(readme_first, sizeof(readme_first), "git -C %s rev-parse HEAD~1:README", work);
	capture(readme_second, sizeof(readme_second), "git -C %s rev-parse HEAD:README", work);
	capture(link_blob, sizeof(link_blob), "git -C %s rev-parse HEAD:link", work);
	capture(empty_blob, sizeof(empty_blob), "git -C %s rev-parse HEAD:empty", work);
	capture(tag_object, sizeof(tag_object), "git -C %s rev-parse v1", work);
	if (sh("mkdir %s && git clone -q --bare %s %s/repo.git && git -C %s push -q %s/repo.git main:old",
	       served, work, served, work, served) != 0)
		return -1;
	return 0;
}

static void test_open_local(void)
{
	plumb_source *source = NULL;
	char path[128];

	CHECK_INT(plumb_source_open(&source, work, NULL), 0);
	CHECK(source != NULL);
	if (source)
		CHECK_STR(plumb_source_name(source), work);
	plumb_source_free(source);

	/* A bare repository opens in place too. */
	snprintf(path, sizeof(path), "%s/repo.git", served);
	source = NULL;
	CHECK_INT(plumb_source_open(&source, path, NULL), 0);
	CHECK(source != NULL);
	plumb_source_free(source);

	/* '@' and ':' after a '/' make no scp-like URL: this is a path, and it needs no state directory. */
	snprintf(path, sizeof(path), "%s/we@ird:name.git", root);
	CHECK_INT(sh("git init -q --bare '%s'", path), 0);
	CHECK_INT(plumb_source_open(&source, path, NULL), 0);
	plumb_source_free(source);
	/* Whereas user@host:path is a URL, which needs one for its cache. */
	CHECK_INT(plumb_source_open(&source, "git@example.invalid:repo.git", NULL), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "git@example.invalid:repo.git") != NULL);

	snprintf(path, sizeof(path), "%s/no-such-repo", root);
	source = (plumb_source *)1;
	CHECK_INT(plumb_source_open(&source, path, NULL), PLUMB_ENOTFOUND);
	CHECK(source == NULL);
	CHECK(strstr(plumb_error_last(), path) != NULL);

	/* A directory inside a work tree is not taken for the repository around it. */
	snprintf(path, sizeof(path), "%s/etc", work);
	CHECK_INT(plumb_source_open(&source, path, NULL), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), path) != NULL);
}

static void check_resolves(plumb_source *source, const char *revision, const char *expected)
{
	char id[HEX] = "unset";
	int error = plumb_source_resolve(id, source, revision);
	if (error != 0)
		fprintf(stderr, "  resolve '%s': %s\n", revision ? revision : "(NULL)", plumb_error_last());
	CHECK_INT(error, 0);
	CHECK_STR(id, expected);
}

static void test_resolve_local(void)
{
	plumb_source *source = NULL;
	char id[HEX], abbreviated[8], expected[160];

	CHECK_INT(plumb_source_open(&source, work, NULL), 0);
	if (!source)
		return;
	check_resolves(source, NULL, second);
	check_resolves(source, "", second);
	check_resolves(source, "HEAD", second);
	check_resolves(source, "main", second);
	check_resolves(source, "HEAD~1", first);
	check_resolves(source, "v1", first); /* annotated: peeled from the tag object to its commit */
	check_resolves(source, "light", first);
	check_resolves(source, second, second);
	snprintf(abbreviated, sizeof(abbreviated), "%.7s", first);
	check_resolves(source, abbreviated, first);
	CHECK(strcmp(tag_object, first) != 0); /* the tag really is a separate object */

	memcpy(id, "x", 2);
	CHECK_INT(plumb_source_resolve(id, source, "no-such-branch"), PLUMB_ENOTFOUND);
	snprintf(expected, sizeof(expected), "revision 'no-such-branch' not found in %s", work);
	CHECK_STR(plumb_error_last(), expected);
	CHECK_STR(id, "");
	CHECK_INT(plumb_source_resolve(id, source, "0123456789012345678901234567890123456789"), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "'0123456789012345678901234567890123456789'") != NULL);
	CHECK_INT(plumb_source_resolve(id, source, "main@{{"), PLUMB_ENOTFOUND);

	/* Revisions that exist but are not commits. */
	CHECK_INT(plumb_source_resolve(id, source, "HEAD^{tree}"), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "not a commit") != NULL);
	CHECK(strstr(plumb_error_last(), "HEAD^{tree}") != NULL);
	CHECK_INT(plumb_source_resolve(id, source, "HEAD:README"), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "blob") != NULL);
	plumb_source_free(source);
}

static void test_commit_subject(void)
{
	plumb_source *source = NULL;
	char *subject = NULL;

	CHECK_INT(plumb_source_open(&source, work, NULL), 0);
	if (!source)
		return;
	CHECK_INT(plumb_source_commit_subject(&subject, source, first), 0);
	CHECK_STR(subject, "first commit");
	free(subject);
	subject = NULL;
	CHECK_INT(plumb_source_commit_subject(&subject, source, second), 0);
	CHECK_STR(subject, "second commit");
	free(subject);
	subject = NULL;
	CHECK_INT(plumb_source_commit_subject(&subject, source, "main"), PLUMB_EINVALID);
	CHECK(subject == NULL);
	CHECK_INT(plumb_source_commit_subject(&subject, source, "0123456789012345678901234567890123456789"),
		  PLUMB_ENOTFOUND);
	/* A tree id is not a commit. */
	CHECK_INT(plumb_source_commit_subject(&subject, source, second_tree), PLUMB_ENOTFOUND);
	plumb_source_free(source);
}

static void check_stat(plumb_source *source, const char *commit, const char *path, plumb_entry_type type,
		       const char *id)
{
	plumb_source_entry entry;
	int error = plumb_source_stat(&entry, source, commit, path);
	if (error != 0)
		fprintf(stderr, "  stat '%s': %s\n", path, plumb_error_last());
	CHECK_INT(error, 0);
	CHECK_INT(entry.type, type);
	CHECK(entry.path == path);
	if (id)
		CHECK_STR(entry.id, id);
}

static void test_stat(void)
{
	plumb_source *source = NULL;
	plumb_source_entry entry;
	char bin_tree[HEX];

	capture(bin_tree, sizeof(bin_tree), "git -C %s rev-parse HEAD:bin", work);
	CHECK_INT(plumb_source_open(&source, work, NULL), 0);
	if (!source)
		return;
	check_stat(source, second, "README", PLUMB_ENTRY_FILE, readme_second);
	check_stat(source, second, "empty", PLUMB_ENTRY_FILE, empty_blob);
	check_stat(source, second, "bin/run", PLUMB_ENTRY_EXECUTABLE, NULL);
	check_stat(source, second, "link", PLUMB_ENTRY_SYMLINK, link_blob);
	check_stat(source, second, "bin", PLUMB_ENTRY_TREE, bin_tree);
	check_stat(source, second, "etc/app", PLUMB_ENTRY_TREE, NULL);
	check_stat(source, second, "", PLUMB_ENTRY_TREE, second_tree);
	check_stat(source, second, "./etc//app/config.yaml", PLUMB_ENTRY_FILE, NULL);
	check_stat(source, second, "vendor/lib", PLUMB_ENTRY_SUBMODULE, first);
	/* Another commit: the cached tree must be replaced, not reused. */
	check_stat(source, first, "README", PLUMB_ENTRY_FILE, readme_first);
	check_stat(source, first, "", PLUMB_ENTRY_TREE, first_tree);
	check_stat(source, second, "README", PLUMB_ENTRY_FILE, readme_second);

	CHECK_INT(plumb_source_stat(&entry, source, second, "missing"), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "'missing'") != NULL);
	CHECK_INT(plumb_source_stat(&entry, source, first, "vendor/lib"), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_source_stat(&entry, source, second, "README/below"), PLUMB_ENOTFOUND);
	CHECK(plumb_source_stat(&entry, source, second, "../README") < 0);
	CHECK_INT(plumb_source_stat(&entry, source, "0123456789012345678901234567890123456789", "README"),
		  PLUMB_ENOTFOUND);
	CHECK_INT(plumb_source_stat(&entry, source, "HEAD", "README"), PLUMB_EINVALID);
	plumb_source_free(source);
}

struct collect {
	plumb_buf listing;
	int calls;
	int stop_after; /* 0: never stop */
	plumb_source *source;
	int ids_ok;
};

static int collect_entry(const plumb_source_entry *entry, void *payload)
{
	static const char letters[] = { 'F', 'X', 'L', 'T', 'S' };
	struct collect *c = payload;
	plumb_buf_printf(&c->listing, "%c %s\n", letters[entry->type], entry->path);
	if (strlen(entry->id) != PLUMB_OID_HEXSZ)
		c->ids_ok = 0;
	c->calls++;
	if (c->source) {
		/* Looking up another commit replaces the cached tree while the walk reads its own. */
		plumb_source_entry other;
		CHECK_INT(plumb_source_stat(&other, c->source, c->calls % 2 ? first : second, "README"), 0);
	}
	return c->stop_after && c->calls == c->stop_after ? 42 : 0;
}

static void test_walk(void)
{
	plumb_source *source = NULL;
	struct collect c = { PLUMB_BUF_INIT, 0, 0, NULL, 1 };

	CHECK_INT(plumb_source_open(&source, work, NULL), 0);
	if (!source)
		return;
	CHECK_INT(plumb_source_walk(source, second, "", collect_entry, &c), 0);
	CHECK_STR(c.listing.ptr, "F README\n"
				 "T bin\n"
				 "X bin/run\n"
				 "F empty\n"
				 "T etc\n"
				 "T etc/app\n"
				 "F etc/app/config.yaml\n"
				 "L link\n"
				 "T vendor\n"
				 "S vendor/lib\n");
	CHECK(c.ids_ok);

	plumb_buf_clear(&c.listing);
	c.source = source;
	CHECK_INT(plumb_source_walk(source, second, "etc", collect_entry, &c), 0);
	CHECK_STR(c.listing.ptr, "T app\nF app/config.yaml\n");
	c.source = NULL;

	plumb_buf_clear(&c.listing);
	CHECK_INT(plumb_source_walk(source, first, "etc/app/", collect_entry, &c), 0);
	CHECK_STR(c.listing.ptr, "F config.yaml\n");

	/* A non-zero return from the callback stops the walk and is handed back. */
	plumb_buf_clear(&c.listing);
	c.calls = 0;
	c.stop_after = 3;
	CHECK_INT(plumb_source_walk(source, second, "", collect_entry, &c), 42);
	CHECK_INT(c.calls, 3);
	CHECK_STR(c.listing.ptr, "F README\nT bin\nX bin/run\n");

	c.calls = 0;
	CHECK_INT(plumb_source_walk(source, second, "README", collect_entry, &c), PLUMB_EINVALID);
	CHECK_INT(plumb_source_walk(source, second, "nope", collect_entry, &c), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_source_walk(source, first, "vendor", collect_entry, &c), PLUMB_ENOTFOUND);
	CHECK_INT(c.calls, 0);
	plumb_buf_release(&c.listing);
	plumb_source_free(source);
}

static int count_entry(const plumb_source_entry *entry, void *payload)
{
	(*(int *)payload)++;
	return 0;
}

static void test_walk_depth_limit(void)
{
	plumb_source *source = NULL;
	plumb_buf nested = PLUMB_BUF_INIT;
	char repo[128], commit[HEX];
	int count = 0;

	for (int i = 0; i < DEEP_LEVELS; i++)
		plumb_buf_puts(&nested, i ? "/a" : "a");
	snprintf(repo, sizeof(repo), "%s/deep", root);
	CHECK_INT(sh("git init -q %s && cd %s && mkdir -p %s && : >%s/file && git add -A && git commit -q -m deep",
		     repo, repo, nested.ptr, nested.ptr),
		  0);
	capture(commit, sizeof(commit), "git -C %s rev-parse HEAD", repo);
	CHECK_INT(plumb_source_open(&source, repo, NULL), 0);
	if (source) {
		/* 260 directories and a file: 261 levels below the top, 256 below a/a/a/a/a. */
		CHECK_INT(plumb_source_walk(source, commit, "", count_entry, &count), PLUMB_EINVALID);
		CHECK(strstr(plumb_error_last(), "256") != NULL);
		CHECK_INT(count, 256);
		count = 0;
		CHECK_INT(plumb_source_walk(source, commit, "a/a/a/a", count_entry, &count), PLUMB_EINVALID);
		count = 0;
		CHECK_INT(plumb_source_walk(source, commit, "a/a/a/a/a", count_entry, &count), 0);
		CHECK_INT(count, DEEP_LEVELS - 5 + 1);
		/* stat has no such limit to meet: one lookup per component of a bounded path. */
		plumb_buf_puts(&nested, "/file");
		plumb_source_entry entry;
		CHECK_INT(plumb_source_stat(&entry, source, commit, nested.ptr), 0);
		CHECK_INT(entry.type, PLUMB_ENTRY_FILE);
	}
	plumb_source_free(source);
	plumb_buf_release(&nested);
}

static void test_read_blob(void)
{
	plumb_source *source = NULL;
	plumb_buf out = PLUMB_BUF_INIT;
	size_t size = 99;

	CHECK_INT(plumb_source_open(&source, work, NULL), 0);
	if (!source)
		return;
	plumb_buf_puts(&out, "kept:");
	CHECK_INT(plumb_source_read_blob(&out, source, readme_second, 13), 0);
	CHECK_STR(out.ptr, "kept:hello\nsecond\n");
	CHECK_INT(out.len, 18);

	CHECK_INT(plumb_source_read_blob(&out, source, readme_second, 12), PLUMB_EINVALID);
	CHECK_STR(out.ptr, "kept:hello\nsecond\n");
	CHECK(strstr(plumb_error_last(), "13 bytes") != NULL);

	plumb_buf_clear(&out);
	CHECK_INT(plumb_source_read_blob(&out, source, link_blob, 4096), 0);
	CHECK_STR(out.ptr, "etc/app/config.yaml");
	plumb_buf_clear(&out);
	CHECK_INT(plumb_source_read_blob(&out, source, empty_blob, 0), 0);
	CHECK_INT(out.len, 0);

	CHECK_INT(plumb_source_read_blob(&out, source, "0123456789012345678901234567890123456789", 100),
		  PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "0123456789012345678901234567890123456789") != NULL);
	CHECK_INT(plumb_source_read_blob(&out, source, second_tree, 1 << 20), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_source_read_blob(&out, source, "abc", 100), PLUMB_EINVALID);
	CHECK_INT(out.len, 0);

	CHECK_INT(plumb_source_blob_size(&size, source, readme_second), 0);
	CHECK_INT(size, 13);
	CHECK_INT(plumb_source_blob_size(&size, source, readme_first), 0);
	CHECK_INT(size, 6);
	CHECK_INT(plumb_source_blob_size(&size, source, empty_blob), 0);
	CHECK_INT(size, 0);
	CHECK_INT(plumb_source_blob_size(&size, source, first), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_source_blob_size(&size, source, "zz23456789012345678901234567890123456789"), PLUMB_EINVALID);
	plumb_buf_release(&out);
	plumb_source_free(source);
}

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
static int free_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t len = sizeof(addr);
	int port = -1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
		port = ntohs(addr.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int port_accepts(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void stop_daemon(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	daemon_pid = 0;
}

/*
 * Run git daemon as our own child, not --detach'ed, so that stop_daemon
 * can reap it: a detached daemon is left to an init that may not.
 */
static int start_daemon(void)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };

	for (int attempt = 0; attempt < 5 && !daemon_pid; attempt++) {
		char port_option[32], base_option[96];
		daemon_port = free_port();
		if (daemon_port < 0)
			return -1;
		snprintf(port_option, sizeof(port_option), "--port=%d", daemon_port);
		snprintf(base_option, sizeof(base_option), "--base-path=%s", served);
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			/* The readiness probes hang up at once, which the daemon reports: keep that out of TAP. */
			char log[96];
			snprintf(log, sizeof(log), "%s/daemon.log", root);
			int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
			if (fd >= 0) {
				dup2(fd, STDERR_FILENO);
				close(fd);
			}
			execlp("git", "git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", port_option,
			       base_option, served, (char *)NULL);
			_exit(127);
		}
		daemon_pid = pid;
		/* Up to a minute (1200 pauses): only a failure waits that long, however busy the machine. */
		for (int i = 0; i < 1200 && daemon_pid && !port_accepts(daemon_port); i++) {
			if (waitpid(pid, NULL, WNOHANG) == pid)
				daemon_pid = 0; /* it died (the port was taken?): try another */
			else
				nanosleep(&pause, NULL);
		}
		if (daemon_pid && !port_accepts(daemon_port))
			stop_daemon();
	}
	return daemon_pid > 0 ? 0 : -1;
}

static void test_remote_git_daemon(void)
{
	plumb_source *source = NULL;
	char url[64], state[128], cache[256], digest[65], id[HEX], third[HEX], line[256];
	struct stat st;

	if (!daemon_pid) {
		CHECK(!"git daemon is running");
		return;
	}
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/repo.git", daemon_port);
	snprintf(state, sizeof(state), "%s/state/nested", root);
	CHECK_INT(plumb_source_open(&source, url, state), 0);
	if (!source) {
		fprintf(stderr, "  open: %s\n", plumb_error_last());
		return;
	}
	CHECK_STR(plumb_source_name(source), url);

	/* The cache: one bare repository per URL, named after its SHA-256, in a private state directory. */
	plumb_hash_sha256_hex(digest, url, strlen(url));
	snprintf(cache, sizeof(cache), "%s/repos/%s.git", state, digest);
	CHECK(stat(cache, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(cache, sizeof(cache), "%s/repos/%s.git/objects", state, digest);
	CHECK(stat(cache, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(stat(state, &st) == 0 && (st.st_mode & 0777) == 0700);
	snprintf(cache, sizeof(cache), "%s/repos", state);
	CHECK(stat(cache, &st) == 0 && (st.st_mode & 0777) == 0700);
	/* An ordinary repository that git can fetch into too: "origin" names the URL and its default branch. */
	snprintf(cache, sizeof(cache), "%s/repos/%s.git", state, digest);
	capture(line, sizeof(line), "git -C %s config remote.origin.url", cache);
	CHECK_STR(line, url);
	capture(line, sizeof(line), "git -C %s symbolic-ref refs/remotes/origin/HEAD", cache);
	CHECK_STR(line, "refs/remotes/origin/main");

	check_resolves(source, NULL, second);
	check_resolves(source, "HEAD", second);
	check_resolves(source, "main", second);
	check_resolves(source, "old", second);
	check_resolves(source, "HEAD~1", first);
	check_resolves(source, "v1", first);
	check_resolves(source, "light", first);
	CHECK_INT(plumb_source_resolve(id, source, "feature"), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), url) != NULL);
	CHECK(strstr(plumb_error_last(), "'feature'") != NULL);

	/* Objects were fetched: trees and blobs read from the cache. */
	plumb_source_entry entry;
	CHECK_INT(plumb_source_stat(&entry, source, second, "README"), 0);
	CHECK_STR(entry.id, readme_second);
	plumb_buf content = PLUMB_BUF_INIT;
	CHECK_INT(plumb_source_read_blob(&content, source, readme_second, 100), 0);
	CHECK_STR(content.ptr, "hello\nsecond\n");
	plumb_buf_release(&content);
	plumb_source_free(source);
	source = NULL;

	/* Upstream moves: a new commit, a new branch, a deleted branch, a moved tag, a new default branch. */
	CHECK_INT(sh("cd %s && printf 'third\\n' >>README && git commit -q -am 'third commit' && "
		     "git push -q %s/repo.git main main:feature && git tag -f light >/dev/null && "
		     "git push -q -f %s/repo.git light && git -C %s/repo.git branch -q -D old",
		     work, served, served, served),
		  0);
	capture(third, sizeof(third), "git -C %s rev-parse HEAD", work);
	CHECK(strcmp(third, second) != 0);
	CHECK_INT(plumb_source_open(&source, url, state), 0);
	if (!source)
		return;
	check_resolves(source, NULL, third);
	check_resolves(source, "main", third);
	check_resolves(source, "feature", third);
	check_resolves(source, "light", third);
	check_resolves(source, "v1", first);
	CHECK_INT(plumb_source_resolve(id, source, "old"), PLUMB_ENOTFOUND);
	plumb_source_free(source);
	source = NULL;

	/* The remote's default branch is followed, not assumed. */
	CHECK_INT(sh("cd %s && git checkout -q -b other HEAD~2 && printf 'other\\n' >other && git add other && "
		     "git commit -q -m other && git push -q %s/repo.git other && "
		     "git -C %s/repo.git symbolic-ref HEAD refs/heads/other && git checkout -q main",
		     work, served, served),
		  0);
	capture(id, sizeof(id), "git -C %s rev-parse other", work);
	CHECK_INT(plumb_source_open(&source, url, state), 0);
	if (!source)
		return;
	check_resolves(source, NULL, id);
	check_resolves(source, "main", third);
	capture(line, sizeof(line), "git -C %s symbolic-ref refs/remotes/origin/HEAD", cache);
	CHECK_STR(line, "refs/remotes/origin/other");
	plumb_source_free(source);
	CHECK_INT(sh("git -C %s/repo.git symbolic-ref HEAD refs/heads/main", served), 0);
}

static void test_remote_file_url(void)
{
	plumb_source *source = NULL;
	char url[128], state[128], cache[256], digest[65], id[HEX];
	struct stat st;

	snprintf(url, sizeof(url), "file://%s/repo.git", served);
	snprintf(state, sizeof(state), "%s/state-file", root);
	capture(id, sizeof(id), "git -C %s/repo.git rev-parse main", served);
	CHECK_INT(plumb_source_open(&source, url, state), 0);
	if (!source) {
		fprintf(stderr, "  open: %s\n", plumb_error_last());
		return;
	}
	plumb_hash_sha256_hex(digest, url, strlen(url));
	snprintf(cache, sizeof(cache), "%s/repos/%s.git", state, digest);
	CHECK(stat(cache, &st) == 0 && S_ISDIR(st.st_mode));
	check_resolves(source, NULL, id);
	check_resolves(source, "v1", first);
	plumb_source_free(source);

	/* A URL needs somewhere to keep its cache. */
	source = (plumb_source *)1;
	CHECK_INT(plumb_source_open(&source, url, NULL), PLUMB_EINVALID);
	CHECK(source == NULL);
}

static void test_remote_unreachable(void)
{
	plumb_source *source = (plumb_source *)1;
	char url[128], expected[160], state[128], config[256];
	int port = free_port();

	snprintf(state, sizeof(state), "%s/state-unreachable", root);
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/x.git", port);
	CHECK_INT(plumb_source_open(&source, url, state), PLUMB_ERROR);
	CHECK(source == NULL);
	snprintf(expected, sizeof(expected), "cannot fetch %s: ", url);
	CHECK(strncmp(plumb_error_last(), expected, strlen(expected)) == 0);
	CHECK(strlen(plumb_error_last()) > strlen(expected));
	CHECK(strchr(plumb_error_last(), '\n') == NULL);

	/* A password in the URL shows in no message and lands in no file. */
	snprintf(url, sizeof(url), "git://deploy:s3cret@127.0.0.1:%d/x.git", port);
	CHECK_INT(plumb_source_open(&source, url, state), PLUMB_ERROR);
	snprintf(expected, sizeof(expected), "cannot fetch git://deploy:***@127.0.0.1:%d/x.git: ", port);
	CHECK(strncmp(plumb_error_last(), expected, strlen(expected)) == 0);
	CHECK(strstr(plumb_error_last(), "s3cret") == NULL);
	snprintf(config, sizeof(config), "grep -rq s3cret %s", state);
	CHECK(system(config) != 0);
	snprintf(config, sizeof(config), "grep -rq 'url = git://deploy@127.0.0.1' %s/repos", state);
	CHECK(system(config) == 0);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	/* Git on both sides reads no configuration of the user running the tests. */
	setenv("HOME", root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "Plumb Test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@plumb.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "Plumb Test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@plumb.invalid", 1);
	if (plumb_source_global_init() < 0 || make_fixture() < 0) {
		fprintf(stderr, "cannot set up: %s\n", plumb_error_last());
		sh("rm -rf %s", root);
		return 1;
	}

	RUN(test_open_local);
	RUN(test_resolve_local);
	RUN(test_commit_subject);
	RUN(test_stat);
	RUN(test_walk);
	RUN(test_walk_depth_limit);
	RUN(test_read_blob);
	if (start_daemon() < 0)
		fprintf(stderr, "cannot start git daemon\n");
	RUN(test_remote_git_daemon);
	stop_daemon();
	RUN(test_remote_file_url);
	RUN(test_remote_unreachable);

	plumb_source_global_shutdown();
	sh("rm -rf %s", root);
	TEST_EXIT();
}
