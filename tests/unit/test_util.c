/* Unit tests of src/util: paths, buffers, string pools, diagnostics, blob ids and confined file operations. */
#include "util/common.h"
#include "util/buf.h"
#include "util/diag.h"
#include "util/fs.h"
#include "util/fs_batch.h"
#include "util/fs_cursor.h"
#include "util/hash.h"
#include "util/path.h"
#include "util/strpool.h"
#include "util/utf8.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char scratch[64];

static void normalize_accepts_and_canonicalises(void)
{
	char *out = NULL;
	CHECK_INT(plumb_path_normalize(&out, "/etc//nginx/./sites/", 1), 0);
	CHECK_STR(out, "etc/nginx/sites");
	free(out);
	CHECK_INT(plumb_path_normalize(&out, "files/motd", 0), 0);
	CHECK_STR(out, "files/motd");
	free(out);
	CHECK_INT(plumb_path_normalize(&out, "/", 1), 0);
	CHECK_STR(out, "");
	free(out);
}

static void normalize_refuses_escapes(void)
{
	char *out = NULL;
	CHECK_INT(plumb_path_normalize(&out, "/etc/../../passwd", 1), PLUMB_EUNSAFE);
	CHECK(out == NULL);
	CHECK(strstr(plumb_error_last(), "'..'") != NULL);
	CHECK_INT(plumb_path_normalize(&out, "a/..", 1), PLUMB_EUNSAFE);
	CHECK_INT(plumb_path_normalize(&out, "/etc/motd", 0), PLUMB_EINVALID);
	CHECK_INT(plumb_path_normalize(&out, "", 1), PLUMB_EINVALID);
	/* ".." inside a name is just a name. */
	CHECK_INT(plumb_path_normalize(&out, "a/..b/c..", 1), 0);
	CHECK_STR(out, "a/..b/c..");
	free(out);
}

static void path_helpers(void)
{
	CHECK(plumb_path_is_within("etc/nginx/a", "etc/nginx"));
	CHECK(plumb_path_is_within("etc/nginx", "etc/nginx"));
	CHECK(!plumb_path_is_within("etc/nginx2", "etc/nginx"));
	CHECK(plumb_path_is_within("anything", ""));
	CHECK(plumb_path_compare("a/b", "a-c") < 0);
	CHECK(plumb_path_compare("a", "a/b") < 0);
	CHECK(plumb_path_compare("b", "a/z") > 0);
	CHECK_INT(plumb_path_compare("x/y", "x/y"), 0);
	char *d = plumb_path_dirname("a/b/c");
	CHECK_STR(d, "a/b");
	free(d);
	d = plumb_path_join("", "x");
	CHECK_STR(d, "x");
	free(d);
	CHECK_INT(plumb_path_depth("a/b/c"), 3);
	CHECK_INT(plumb_path_depth(""), 0);
}

static void buf_grows_and_detaches(void)
{
	plumb_buf b = PLUMB_BUF_INIT;
	CHECK_STR(b.ptr, "");
	for (int i = 0; i < 1000; i++)
		plumb_buf_printf(&b, "%d,", i);
	CHECK(b.len > 3000);
	CHECK(b.ptr[b.len] == '\0');
	plumb_buf_truncate(&b, 4);
	CHECK_STR(b.ptr, "0,1,");
	size_t len;
	char *p = plumb_buf_detach(&b, &len);
	CHECK_INT(len, 4);
	CHECK_STR(b.ptr, "");
	free(p);
	plumb_buf_release(&b);
}

static void buf_read_fd_is_capped(void)
{
	plumb_buf b = PLUMB_BUF_INIT;
	int fds[2];
	CHECK(pipe(fds) == 0);
	CHECK(write(fds[1], "0123456789", 10) == 10);
	close(fds[1]);
	CHECK_INT(plumb_buf_read_fd(&b, fds[0], 5), PLUMB_EINVALID);
	CHECK_INT(b.len, 0);
	close(fds[0]);
	plumb_buf_release(&b);
}

static void diags_sort_by_position(void)
{
	plumb_diags d = PLUMB_DIAGS_INIT;
	plumb_position b2 = { "b.yaml", 2, 1 }, a9 = { "a.yaml", 9, 3 }, a1 = { "a.yaml", 1, 7 };
	plumb_diags_add(&d, b2, "third");
	plumb_diags_add(&d, a9, "second");
	plumb_diags_add(&d, a1, "first %d", 1);
	plumb_diags_sort(&d);
	CHECK_STR(d.items[0].message, "first 1");
	CHECK_STR(d.items[1].file, "a.yaml");
	CHECK_INT(d.items[1].line, 9);
	CHECK_STR(d.items[2].message, "third");
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	plumb_diags_print(&d, out);
	fclose(out);
	CHECK_STR(text, "a.yaml:1:7: first 1\na.yaml:9:3: second\nb.yaml:2:1: third\n");
	free(text);
	plumb_diags_release(&d);
}

static void blob_id_matches_git(void)
{
	char id[PLUMB_OID_HEXSZ + 1];
	/* `printf 'hello\n' | git hash-object --stdin` */
	plumb_hash_blob_buf(id, "hello\n", 6);
	CHECK_STR(id, "ce013625030ba8dba906f756967f9e9ca394464a");
	plumb_hash_blob_buf(id, "", 0);
	CHECK_STR(id, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
}

static void utf8_checked_and_repaired(void)
{
	static const char mixed[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa7";
	CHECK(plumb_utf8_valid(mixed, sizeof(mixed) - 1));
	CHECK(!plumb_utf8_valid("caf\xe9", 4));          /* Latin-1 */
	CHECK(!plumb_utf8_valid("\xc0\xaf", 2));         /* overlong "/" */
	CHECK(!plumb_utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
	CHECK(!plumb_utf8_valid("a\0b", 3));            /* NUL */
	CHECK(!plumb_utf8_valid("\xe2\x82", 2));         /* cut short */
	plumb_buf b = PLUMB_BUF_INIT;
	static const char latin1[] = "caf\xe9 ok \xc3\xa9";
	plumb_utf8_repair(&b, latin1, sizeof(latin1) - 1);
	CHECK_STR(b.ptr, "caf\xef\xbf\xbd ok \xc3\xa9");
	CHECK(plumb_utf8_valid(b.ptr, b.len));
	plumb_buf_release(&b);
}

static int open_scratch_root(void)
{
	int fd = -1;
	CHECK_INT(plumb_fs_open_root(&fd, scratch, 0), 0);
	return fd;
}

static void fs_write_is_atomic_with_mode(void)
{
	int root = open_scratch_root();
	struct stat st;
	char id[PLUMB_OID_HEXSZ + 1];
	CHECK_INT(plumb_fs_write_file(root, "etc/deep/motd", "hello\n", 6, 0640, (uid_t)-1, (gid_t)-1), 0);
	plumb_fs_cursor cursor;
	plumb_fs_cursor_init(&cursor, root);
	CHECK_INT(plumb_fs_cursor_hash(&cursor, id, &st, "etc/deep/motd"), 0);
	/* Read through the cursor as plumb_fs_read reads: a regular file only, never through a symlink. */
	plumb_buf read = PLUMB_BUF_INIT;
	CHECK_INT(plumb_fs_cursor_read(&cursor, &read, "etc/deep/motd", 64), 0);
	CHECK_STR(read.ptr, "hello\n");
	CHECK_INT(plumb_fs_cursor_read(&cursor, &read, "etc/deep/motd", 3), PLUMB_EINVALID);
	CHECK_STR(read.ptr, "hello\n");
	CHECK_INT(plumb_fs_write_symlink(root, "etc/deep/link", "motd"), 0);
	CHECK_INT(plumb_fs_cursor_read(&cursor, &read, "etc/deep/link", 64), PLUMB_ECONFLICT);
	CHECK_INT(plumb_fs_cursor_read(&cursor, &read, "etc/deep/none", 64), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_fs_remove(root, "etc/deep/link", 0), 0);
	plumb_buf_release(&read);
	plumb_fs_cursor_release(&cursor);
	CHECK_STR(id, "ce013625030ba8dba906f756967f9e9ca394464a");
	CHECK_INT(st.st_mode & 07777, 0640);
	/* Replacing keeps the mode when none is asked for. */
	CHECK_INT(plumb_fs_write_file(root, "etc/deep/motd", "x", 1, PLUMB_FS_KEEP, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_lstat(&st, root, "etc/deep/motd"), 0);
	CHECK_INT(st.st_mode & 07777, 0640);
	CHECK_INT(st.st_size, 1);
	/* No temporary file is left behind. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ls -A %s/etc/deep | grep -q plumb-tmp", scratch);
	CHECK(system(cmd) != 0);
	/* A directory is never replaced by a file. */
	CHECK_INT(plumb_fs_make_directory(root, "etc/dir", 0700, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_write_file(root, "etc/dir", "x", 1, PLUMB_FS_KEEP, (uid_t)-1, (gid_t)-1), PLUMB_ECONFLICT);
	CHECK_INT(plumb_fs_lstat(&st, root, "etc/dir"), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0700);
	close(root);
}

/* How many temporary files plumb left in dir below the scratch root. */
static int temporaries_in(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "exit $(ls -A %s/%s | grep -c plumb-tmp)", scratch, dir);
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void fs_batch_puts_every_write_in_place_at_commit(void)
{
	int root = open_scratch_root();
	plumb_buf content = PLUMB_BUF_INIT;
	struct stat st;
	size_t done = 99;

	CHECK_INT(plumb_fs_write_file(root, "b/one", "old\n", 4, 0644, (uid_t)-1, (gid_t)-1), 0);
	plumb_fs_batch *batch = plumb_fs_batch_new(root);
	CHECK_INT(plumb_fs_batch_write(batch, "b/one", "new one\n", 8, 0600, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_batch_write(batch, "b/sub/two", "two\n", 4, PLUMB_FS_KEEP, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_batch_write(batch, "b/three", "three\n", 6, 0640, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_batch_count(batch), 3);
	/* Staged: nothing is in place yet, only temporary files beside the targets. */
	CHECK_INT(plumb_fs_read(&content, root, "b/one", 64), 0);
	CHECK_STR(content.ptr, "old\n");
	CHECK_INT(plumb_fs_lstat(&st, root, "b/three"), PLUMB_ENOTFOUND);
	CHECK_INT(temporaries_in("b"), 2);
	CHECK_INT(plumb_fs_batch_commit(batch, &done), 0);
	CHECK_INT(done, 3);
	plumb_buf_clear(&content);
	CHECK_INT(plumb_fs_read(&content, root, "b/one", 64), 0);
	CHECK_STR(content.ptr, "new one\n");
	CHECK_INT(plumb_fs_lstat(&st, root, "b/one"), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(plumb_fs_lstat(&st, root, "b/sub/two"), 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	CHECK_INT(temporaries_in("b"), 0);
	CHECK_INT(temporaries_in("b/sub"), 0);
	CHECK_INT(plumb_fs_batch_count(batch), 0);

	/* A write whose target became a directory meanwhile fails; the writes after it are taken back. */
	CHECK_INT(plumb_fs_batch_write(batch, "b/one", "newer\n", 6, 0600, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_batch_write(batch, "b/three", "3\n", 2, 0600, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_batch_write(batch, "b/sub/two", "2\n", 2, 0600, (uid_t)-1, (gid_t)-1), 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm %s/b/three && mkdir %s/b/three && touch %s/b/three/inside", scratch, scratch,
		 scratch);
	CHECK_INT(system(cmd), 0);
	CHECK_INT(plumb_fs_batch_commit(batch, &done), PLUMB_ERROR);
	CHECK(strstr(plumb_error_last(), "/b/three") != NULL);
	CHECK_INT(done, 1);
	plumb_buf_clear(&content);
	CHECK_INT(plumb_fs_read(&content, root, "b/one", 64), 0);
	CHECK_STR(content.ptr, "newer\n");
	plumb_buf_clear(&content);
	CHECK_INT(plumb_fs_read(&content, root, "b/sub/two", 64), 0);
	CHECK_STR(content.ptr, "two\n");
	CHECK_INT(temporaries_in("b"), 0);
	CHECK_INT(temporaries_in("b/sub"), 0);

	/* Freed before commit: nothing goes in place, no temporary file stays. */
	CHECK_INT(plumb_fs_batch_write(batch, "b/one", "never\n", 6, 0600, (uid_t)-1, (gid_t)-1), 0);
	plumb_fs_batch_free(batch);
	plumb_buf_clear(&content);
	CHECK_INT(plumb_fs_read(&content, root, "b/one", 64), 0);
	CHECK_STR(content.ptr, "newer\n");
	CHECK_INT(temporaries_in("b"), 0);
	plumb_buf_release(&content);
	close(root);
}

static void fs_batch_makes_directories_at_once(void)
{
	int root = open_scratch_root();
	struct stat st;
	size_t done = 99;
	char cmd[256];

	plumb_fs_batch *batch = plumb_fs_batch_new(root);
	CHECK_INT(plumb_fs_batch_make_directory(batch, "m/made", 0750, (uid_t)-1, (gid_t)-1), 0);
	/* There at once, with its mode, to be written into. */
	CHECK_INT(plumb_fs_lstat(&st, root, "m/made"), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0750);
	CHECK_INT(plumb_fs_batch_count(batch), 0);
	CHECK_INT(plumb_fs_batch_commit(batch, &done), 0);
	CHECK_INT(done, 0);

	/* As plumb_fs_make_directory: a symlink gives way, a file does not. */
	snprintf(cmd, sizeof(cmd), "ln -s made %s/m/link && echo x > %s/m/file", scratch, scratch);
	CHECK_INT(system(cmd), 0);
	CHECK_INT(plumb_fs_batch_make_directory(batch, "m/link", PLUMB_FS_KEEP, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_lstat(&st, root, "m/link"), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0755);
	CHECK_INT(plumb_fs_batch_make_directory(batch, "m/file", PLUMB_FS_KEEP, (uid_t)-1, (gid_t)-1), PLUMB_ECONFLICT);
	CHECK_INT(plumb_fs_batch_write(batch, "m/link/inside", "in\n", 3, 0644, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_batch_commit(batch, &done), 0);
	CHECK_INT(done, 1);
	CHECK_INT(plumb_fs_lstat(&st, root, "m/link/inside"), 0);
	CHECK_INT(plumb_fs_lstat(&st, root, "m/made/inside"), PLUMB_ENOTFOUND);
	plumb_fs_batch_free(batch);
	close(root);
}

static void fs_read_head_reads_the_start_of_a_file(void)
{
	int root = open_scratch_root();
	plumb_buf content = PLUMB_BUF_INIT;
	int truncated = -1;

	CHECK_INT(plumb_fs_write_file(root, "h/ten", "0123456789", 10, 0644, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(plumb_fs_read_head(&content, &truncated, root, "h/ten", 10), 0);
	CHECK_STR(content.ptr, "0123456789");
	CHECK_INT(truncated, 0);
	plumb_buf_clear(&content);
	CHECK_INT(plumb_fs_read_head(&content, &truncated, root, "h/ten", 4), 0);
	CHECK_STR(content.ptr, "0123");
	CHECK_INT(content.len, 4);
	CHECK_INT(truncated, 1);
	/* Appended to what the buffer holds. */
	CHECK_INT(plumb_fs_read_head(&content, &truncated, root, "h/ten", 100), 0);
	CHECK_STR(content.ptr, "01230123456789");
	CHECK_INT(truncated, 0);
	plumb_buf_clear(&content);
	CHECK_INT(plumb_fs_read_head(&content, &truncated, root, "h/missing", 4), PLUMB_ENOTFOUND);
	CHECK_INT(content.len, 0);
	CHECK_INT(plumb_fs_read_head(&content, &truncated, root, "h", 4), PLUMB_ECONFLICT);
	plumb_buf_release(&content);
	close(root);
}

static void fs_never_follows_symlinks(void)
{
	int root = open_scratch_root();
	char outside[128], link[128];
	struct stat st;
	plumb_buf b = PLUMB_BUF_INIT;

	snprintf(outside, sizeof(outside), "%s-outside", scratch);
	CHECK(mkdir(outside, 0755) == 0);
	snprintf(link, sizeof(link), "%s/escape", scratch);
	CHECK(symlink(outside, link) == 0);

	CHECK_INT(plumb_fs_write_file(root, "escape/owned", "x", 1, 0644, (uid_t)-1, (gid_t)-1), PLUMB_EUNSAFE);
	CHECK(strstr(plumb_error_last(), "/escape is a symlink") != NULL);
	CHECK_INT(plumb_fs_make_directory(root, "escape/dir", PLUMB_FS_KEEP, (uid_t)-1, (gid_t)-1), PLUMB_EUNSAFE);
	CHECK_INT(plumb_fs_lstat(&st, root, "escape/x"), PLUMB_EUNSAFE);
	/* Nothing appeared outside the root. */
	char probe[160];
	snprintf(probe, sizeof(probe), "%s/owned", outside);
	CHECK(access(probe, F_OK) != 0);

	/* A symlink to a file is not read through either. */
	CHECK(symlink("/etc/passwd", (snprintf(link, sizeof(link), "%s/passwd", scratch), link)) == 0);
	CHECK_INT(plumb_fs_read(&b, root, "passwd", 1 << 20), PLUMB_ECONFLICT);
	CHECK_INT(b.len, 0);
	/* Removing the link removes the link, not its target. */
	CHECK_INT(plumb_fs_remove(root, "escape", 1), 0);
	CHECK(access(outside, F_OK) == 0);
	rmdir(outside);
	plumb_buf_release(&b);
	close(root);
}

/*
 * A cursor going through a tree in path order, back and forth between a
 * folder and those it holds, finds what plain lookups find, and a symlink
 * met beneath a folder it holds is refused, named by its whole path.
 */
static void fs_cursor_walks_a_tree(void)
{
	int root = open_scratch_root();
	static const char *const files[] = { "walk/top", "walk/a/one", "walk/a/two", "walk/a/b/three", "walk/c/four" };
	static const char *const order[] = { "walk",	 "walk/a",	   "walk/a/b",	"walk/a/b/three", "walk/a/one",
					     "walk/a/two", "walk/c",	   "walk/c/four", "walk/c/gone",    "walk/gone/x",
					     "walk/top",   "walk/trap/x", "walk/a/b/three", "walk/c/four" };
	char outside[128], link[128];
	struct stat st, plain;
	plumb_fs_cursor cursor;

	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(files); i++)
		CHECK_INT(plumb_fs_write_file(root, files[i], files[i], strlen(files[i]), 0644, (uid_t)-1, (gid_t)-1), 0);
	snprintf(outside, sizeof(outside), "%s-walk", scratch);
	CHECK(mkdir(outside, 0755) == 0);
	snprintf(link, sizeof(link), "%s/walk/trap", scratch);
	CHECK(symlink(outside, link) == 0);

	plumb_fs_cursor_init(&cursor, root);
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(order); i++) {
		int error = plumb_fs_cursor_lstat(&cursor, &st, order[i]);
		int expected = plumb_fs_lstat(&plain, root, order[i]);
		CHECK_INT(error, expected);
		if (error == 0 && expected == 0)
			CHECK(st.st_ino == plain.st_ino && st.st_mode == plain.st_mode);
		if (!strcmp(order[i], "walk/trap/x")) {
			CHECK_INT(error, PLUMB_EUNSAFE);
			CHECK(strstr(plumb_error_last(), "/walk/trap is a symlink") != NULL);
		}
	}
	/* Read through one as well. */
	char id[PLUMB_OID_HEXSZ + 1];
	CHECK_INT(plumb_fs_cursor_hash(&cursor, id, &st, "walk/a/b/three"), 0);
	plumb_fs_cursor_release(&cursor);
	CHECK_INT(plumb_fs_remove(root, "walk", 1), 0);
	rmdir(outside);
	close(root);
}

static void fs_remove_and_symlinks(void)
{
	int root = open_scratch_root();
	char *target = NULL;
	struct stat st;
	CHECK_INT(plumb_fs_write_symlink(root, "links/a", "/srv/app/app.conf"), 0);
	CHECK_INT(plumb_fs_readlink(&target, root, "links/a"), 0);
	CHECK_STR(target, "/srv/app/app.conf");
	free(target);
	CHECK_INT(plumb_fs_write_symlink(root, "links/a", "other"), 0);
	CHECK_INT(plumb_fs_readlink(&target, root, "links/a"), 0);
	CHECK_STR(target, "other");
	free(target);
	/* A non-empty directory goes only when asked for recursively. */
	CHECK_INT(plumb_fs_remove(root, "links", 0), PLUMB_ECONFLICT);
	CHECK_INT(plumb_fs_remove(root, "links", 1), 0);
	CHECK_INT(plumb_fs_lstat(&st, root, "links"), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_fs_remove(root, "links/never", 0), 0);
	/* A missing root plans as empty. */
	CHECK_INT(plumb_fs_lstat(&st, -1, "anything"), PLUMB_ENOTFOUND);
	close(root);
}

static void fs_lookup_owner(void)
{
	uid_t uid;
	gid_t gid;
	CHECK_INT(plumb_fs_lookup_user(&uid, "root"), 0);
	CHECK_INT(uid, 0);
	CHECK_INT(plumb_fs_lookup_user(&uid, "1234"), 0);
	CHECK_INT(uid, 1234);
	CHECK_INT(plumb_fs_lookup_group(&gid, "root"), 0);
	CHECK_INT(plumb_fs_lookup_user(&uid, "no-such-user-plumb"), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "no-such-user-plumb") != NULL);
}

static void strpool_copies_and_shares(void)
{
	plumb_strpool *pool = plumb_strpool_new();
	char *keys[3000];
	char text[64];

	/* A copy of exactly len bytes, terminated: the source need not be. */
	char *a = plumb_strpool_add(pool, "etc/motd and more", 8);
	CHECK_STR(a, "etc/motd");
	char *b = plumb_strpool_add(pool, "etc/motd", 8);
	CHECK(a != b);
	/* Interned: one copy per text, apart from the added ones. */
	char *host = plumb_strpool_intern(pool, "host", 4);
	CHECK_STR(host, "host");
	CHECK(plumb_strpool_intern(pool, "hostname", 4) == host);
	CHECK(plumb_strpool_intern(pool, "File", 4) != host);
	CHECK(plumb_strpool_intern(pool, "etc/motd", 8) != a);
	CHECK(plumb_strpool_intern(pool, "", 0) == plumb_strpool_intern(pool, "x", 0));

	/* Many strings, interned ones among them, and some too long to share a block: each stays as it was. */
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(keys); i++) {
		int n = snprintf(text, sizeof(text), "srv/files/d%04zu/f%05zu.txt", i / 50, i);
		keys[i] = plumb_strpool_add(pool, text, (size_t)n);
		char *kind = plumb_strpool_intern(pool, i % 2 ? "File" : "Directory", i % 2 ? 4 : 9);
		CHECK_STR(kind, i % 2 ? "File" : "Directory");
		n = snprintf(text, sizeof(text), "resource-%zu", i % 300);
		CHECK(plumb_strpool_intern(pool, text, (size_t)n) == plumb_strpool_intern(pool, text, (size_t)n));
	}
	size_t long_len = 10000;
	char *long_text = plumb_xmalloc(long_len);
	memset(long_text, 'z', long_len);
	char *long_copy = plumb_strpool_add(pool, long_text, long_len);
	char *after = plumb_strpool_add(pool, "after", 5);
	CHECK_INT(strlen(long_copy), long_len);
	CHECK(!memcmp(long_copy, long_text, long_len));
	CHECK_STR(after, "after");
	/* Room for a string written in place. */
	char *joined = plumb_strpool_alloc(pool, 8);
	memcpy(joined, "srv/", 4);
	memcpy(joined + 4, "key", 4);
	CHECK_STR(joined, "srv/key");
	CHECK_STR(after, "after");
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(keys); i++) {
		snprintf(text, sizeof(text), "srv/files/d%04zu/f%05zu.txt", i / 50, i);
		if (strcmp(keys[i], text) != 0) {
			CHECK_STR(keys[i], text);
			break;
		}
	}
	CHECK_STR(a, "etc/motd");
	CHECK_STR(host, "host");
	free(long_text);
	plumb_strpool_free(pool);
	plumb_strpool_free(NULL);
}

int main(void)
{
	snprintf(scratch, sizeof(scratch), "/tmp/plumb-test-util.XXXXXX");
	if (!mkdtemp(scratch))
		return 1;
	RUN(normalize_accepts_and_canonicalises);
	RUN(normalize_refuses_escapes);
	RUN(path_helpers);
	RUN(buf_grows_and_detaches);
	RUN(buf_read_fd_is_capped);
	RUN(strpool_copies_and_shares);
	RUN(diags_sort_by_position);
	RUN(blob_id_matches_git);
	RUN(utf8_checked_and_repaired);
	RUN(fs_write_is_atomic_with_mode);
	RUN(fs_batch_puts_every_write_in_place_at_commit);
	RUN(fs_batch_makes_directories_at_once);
	RUN(fs_read_head_reads_the_start_of_a_file);
	RUN(fs_never_follows_symlinks);
	RUN(fs_cursor_walks_a_tree);
	RUN(fs_remove_and_symlinks);
	RUN(fs_lookup_owner);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s-outside", scratch, scratch);
	if (system(cmd) != 0)
		return 1;
	TEST_EXIT();
}
