/*
 * fixture.h - real git repositories for unit tests, made with the git
 * command line in a temporary directory.
 */
#ifndef PLUMB_TEST_FIXTURE_H
#define PLUMB_TEST_FIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/diag.h"

static char fixture_dir[64];

/* Run a shell command in the fixture directory; returns its exit status. */
static int fixture_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fixture_sh(const char *fmt, ...)
{
	char cmd[8192];
	int n = snprintf(cmd, sizeof(cmd), "cd %s && ", fixture_dir);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Write a file of the work tree (parents created). */
static void fixture_write(const char *path, const char *content)
{
	char full[512];
	snprintf(full, sizeof(full), "%s/repo/%s", fixture_dir, path);
	for (char *p = full + strlen(fixture_dir) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(full, 0755);
			*p = '/';
		}
	}
	FILE *f = fopen(full, "w");
	if (!f) {
		fprintf(stderr, "cannot write %s\n", full);
		exit(2);
	}
	fputs(content, f);
	fclose(f);
}

/* Create an empty repository in FIXTURE/repo. */
static void fixture_init(const char *name)
{
	snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/plumb-%s.XXXXXX", name);
	if (!mkdtemp(fixture_dir) || fixture_sh("git init -q -b main repo") != 0)
		exit(2);
}

/* Commit everything in the work tree; returns 0 on success. */
static int fixture_commit(const char *message)
{
	return fixture_sh("cd repo && git add -A && GIT_AUTHOR_DATE=2026-01-01T00:00:00Z "
			  "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z git -c user.name=test -c user.email=t@example.invalid "
			  "commit -q --allow-empty -m '%s'",
			  message);
}

static char *fixture_path(const char *sub)
{
	return plumb_xprintf("%s/%s", fixture_dir, sub);
}

/* A diagnostic at FILE:LINE:COL whose message holds text; prints them all when there is none. */
static inline int has_diag(const plumb_diags *d, const char *file, unsigned line, unsigned column, const char *text)
{
	for (size_t i = 0; i < d->count; i++)
		if (!strcmp(d->items[i].file ? d->items[i].file : "", file) && d->items[i].line == line &&
		    d->items[i].column == column && strstr(d->items[i].message, text))
			return 1;
	fprintf(stderr, "  missing %s:%u:%u: ...%s... among:\n", file, line, column, text);
	plumb_diags_print(d, stderr);
	return 0;
}

static void fixture_cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fixture_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fixture_dir);
}

#endif
