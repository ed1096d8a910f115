#include "util/common.h"
#include "statcache.h"
#include "test.h"

#include <stdio.h>

static const char blob_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char blob_b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* Stat data of a file last changed at second `changed`. */
static struct stat stat_at(long long changed, long long inode, long long size)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_dev = 8;
	st.st_ino = (ino_t)inode;
	st.st_size = (off_t)size;
	st.st_mode = S_IFREG | 0644;
	st.st_mtim.tv_sec = st.st_ctim.tv_sec = (time_t)changed;
	st.st_mtim.tv_nsec = st.st_ctim.tv_nsec = 500;
	return st;
}

static const long long second = 1000000000LL;

static int count_changed(const char *key, const plumb_stat_entry *entry, void *payload)
{
	(void)key;
	int *counts = payload;
	counts[entry ? 0 : 1]++;
	return 0;
}

static void settled_entries_answer_while_the_stat_data_is_the_same(void)
{
	plumb_stat_cache *cache = plumb_stat_cache_new();
	struct stat st = stat_at(1000, 42, 200);

	CHECK(plumb_stat_cache_lookup(cache, "etc/motd", &st) == NULL);
	plumb_stat_cache_remember(cache, "etc/motd", &st, blob_a, 1010 * second);
	CHECK_STR(plumb_stat_cache_lookup(cache, "etc/motd", &st), blob_a);

	/* Any field of the stat data that differs: the content is not known. */
	struct stat other = st;
	other.st_size = 201;
	CHECK(plumb_stat_cache_lookup(cache, "etc/motd", &other) == NULL);
	other = st;
	other.st_ctim.tv_nsec++;
	CHECK(plumb_stat_cache_lookup(cache, "etc/motd", &other) == NULL);
	other = st;
	other.st_ino = 43;
	CHECK(plumb_stat_cache_lookup(cache, "etc/motd", &other) == NULL);
	other = st;
	other.st_mode = S_IFREG | 0600;
	CHECK(plumb_stat_cache_lookup(cache, "etc/motd", &other) == NULL);
	CHECK(plumb_stat_cache_lookup(cache, "etc/other", &st) == NULL);
	plumb_stat_cache_free(cache);
}

static void a_file_changed_just_before_the_look_is_not_kept(void)
{
	plumb_stat_cache *cache = plumb_stat_cache_new();
	struct stat st = stat_at(1000, 42, 200);
	int counts[2] = { 0, 0 };

	/* Changed one second before plumb looked: within the settle time, so a change in the same tick could hide. */
	plumb_stat_cache_remember(cache, "etc/motd", &st, blob_a, 1001 * second);
	CHECK(plumb_stat_cache_lookup(cache, "etc/motd", &st) == NULL);
	CHECK_INT(plumb_stat_cache_each_changed(cache, count_changed, counts), 0);
	CHECK_INT(counts[0] + counts[1], 0);

	/* A settled entry, then the file changes and is hashed again right away: the entry goes. */
	plumb_stat_cache_remember(cache, "etc/motd", &st, blob_a, 1010 * second);
	struct stat fresh = stat_at(2000, 42, 200);
	plumb_stat_cache_remember(cache, "etc/motd", &fresh, blob_b, 2000 * second + 1);
	CHECK(plumb_stat_cache_lookup(cache, "etc/motd", &st) == NULL);
	CHECK(plumb_stat_cache_lookup(cache, "etc/motd", &fresh) == NULL);
	CHECK_INT(plumb_stat_cache_each_changed(cache, count_changed, counts), 0);
	CHECK_INT(counts[0], 0);
	CHECK_INT(counts[1], 1);
	plumb_stat_cache_free(cache);
}

static void only_what_changed_is_saved(void)
{
	plumb_stat_cache *cache = plumb_stat_cache_new();
	plumb_stat_entry loaded;
	struct stat st = stat_at(1000, 1, 10);
	char key[32];
	int counts[2] = { 0, 0 };

	/* Enough entries to make the table grow several times. */
	for (int i = 0; i < 5000; i++) {
		st.st_ino = (ino_t)i;
		plumb_stat_entry_from(&loaded, &st);
		memcpy(loaded.blob, blob_a, sizeof(loaded.blob));
		snprintf(key, sizeof(key), "files/f%05d", i);
		plumb_stat_cache_put(cache, key, &loaded);
	}
	/* Each is found again after the table grew, by its own stat data only. */
	int found = 0, crossed = 0;
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "files/f%05d", i);
		st.st_ino = (ino_t)i;
		found += plumb_stat_cache_lookup(cache, key, &st) != NULL;
		st.st_ino = (ino_t)(i + 1);
		crossed += plumb_stat_cache_lookup(cache, key, &st) != NULL;
	}
	CHECK_INT(found, 5000);
	CHECK_INT(crossed, 0);
	st.st_ino = 4321;
	CHECK_STR(plumb_stat_cache_lookup(cache, "files/f04321", &st), blob_a);
	/* The same again changes nothing; a new blob, a new key and a forgotten key do. */
	plumb_stat_cache_remember(cache, "files/f04321", &st, blob_a, 2000 * second);
	plumb_stat_cache_remember(cache, "files/f04321", &st, blob_b, 2000 * second);
	plumb_stat_cache_remember(cache, "files/new", &st, blob_a, 2000 * second);
	plumb_stat_cache_forget(cache, "files/f00007");
	plumb_stat_cache_forget(cache, "files/never");
	CHECK_INT(plumb_stat_cache_each_changed(cache, count_changed, counts), 0);
	CHECK_INT(counts[0], 2);
	CHECK_INT(counts[1], 1);
	st.st_ino = 7;
	CHECK(plumb_stat_cache_lookup(cache, "files/f00007", &st) == NULL);
	/* Saved once: nothing is left to save. */
	counts[0] = counts[1] = 0;
	CHECK_INT(plumb_stat_cache_each_changed(cache, count_changed, counts), 0);
	CHECK_INT(counts[0] + counts[1], 0);
	plumb_stat_cache_free(cache);
}

int main(void)
{
	RUN(settled_entries_answer_while_the_stat_data_is_the_same);
	RUN(a_file_changed_just_before_the_look_is_not_kept);
	RUN(only_what_changed_is_saved);
	TEST_EXIT();
}
