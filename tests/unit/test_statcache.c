#include "util/common.h"
#include "store/statcache.h"
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

/* Count the keys files/f00000.. (count of them) whose own stat data finds their entry. */
static int count_found(plumb_stat_cache *cache, int count, int stride)
{
	char key[32];
	int found = 0;
	for (int n = 0; n < count; n++) {
		int i = (int)(((long long)n * stride) % count);
		struct stat st = stat_at(1000, i, 10);
		snprintf(key, sizeof(key), "files/f%05d", i);
		found += plumb_stat_cache_lookup(cache, key, &st) != NULL;
	}
	return found;
}

/*
 * Entries come in key order from the store and are asked for in much the
 * same order; in any other order, or added out of order, they are found
 * all the same.
 */
static void any_order_finds_every_entry(void)
{
	plumb_stat_cache *cache = plumb_stat_cache_new();
	plumb_stat_entry loaded;
	char key[32];
	struct stat st;
	int counts[2] = { 0, 0 };

	/* In order, as the store gives them: asked for in order, backwards, and scattered. */
	for (int i = 0; i < 3000; i++) {
		st = stat_at(1000, i, 10);
		plumb_stat_entry_from(&loaded, &st);
		memcpy(loaded.blob, blob_a, sizeof(loaded.blob));
		snprintf(key, sizeof(key), "files/f%05d", i);
		plumb_stat_cache_put(cache, key, &loaded);
	}
	CHECK_INT(count_found(cache, 3000, 1), 3000);
	CHECK_INT(count_found(cache, 3000, 2999), 3000);
	CHECK_INT(count_found(cache, 3000, 7919), 3000);
	st = stat_at(1000, 0, 10);
	CHECK(plumb_stat_cache_lookup(cache, "files/f", &st) == NULL);
	CHECK(plumb_stat_cache_lookup(cache, "files/f99999", &st) == NULL);
	CHECK(plumb_stat_cache_lookup(cache, "a", &st) == NULL);

	/* One out of order among them (before the first); then more, scattered, and a few again. */
	st = stat_at(1000, 77777, 10);
	plumb_stat_cache_remember(cache, "early", &st, blob_b, 2000 * second);
	CHECK_STR(plumb_stat_cache_lookup(cache, "early", &st), blob_b);
	for (int n = 0; n < 3000; n++) {
		int i = 3000 + (int)(((long long)n * 7919) % 3000);
		st = stat_at(1000, i, 10);
		snprintf(key, sizeof(key), "files/f%05d", i);
		plumb_stat_cache_remember(cache, key, &st, blob_a, 2000 * second);
	}
	st = stat_at(1000, 5, 10);
	plumb_stat_cache_remember(cache, "files/f00005", &st, blob_b, 2000 * second);
	CHECK_INT(count_found(cache, 6000, 1), 6000);
	CHECK_INT(count_found(cache, 6000, 7919), 6000);
	CHECK_STR(plumb_stat_cache_lookup(cache, "files/f00005", &st), blob_b);
	struct stat other = stat_at(1000, 1, 10);
	CHECK(plumb_stat_cache_lookup(cache, "early", &other) == NULL);
	st = stat_at(1000, 77777, 10);
	CHECK_STR(plumb_stat_cache_lookup(cache, "early", &st), blob_b);
	/* Saved: the 3,000 new ones, "early" and the one that changed; none twice. */
	CHECK_INT(plumb_stat_cache_each_changed(cache, count_changed, counts), 0);
	CHECK_INT(counts[0], 3002);
	CHECK_INT(counts[1], 0);
	plumb_stat_cache_free(cache);
}

int main(void)
{
	RUN(settled_entries_answer_while_the_stat_data_is_the_same);
	RUN(a_file_changed_just_before_the_look_is_not_kept);
	RUN(only_what_changed_is_saved);
	RUN(any_order_finds_every_entry);
	TEST_EXIT();
}
