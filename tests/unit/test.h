/*
 * test.h - the unit test harness.
 *
 * Each tests/unit/test_*.c is one program: it defines test functions and
 * lists them in main with RUN(). Every test prints one TAP line,
 * "ok - FILE: NAME" or "not ok - FILE: NAME", which tests/run counts.
 * A failed CHECK prints where and why and marks the running test failed.
 */
#ifndef PLUMB_TEST_H
#define PLUMB_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed;
static int test_any_failed;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			test_failed = 1;                                                 \
		}                                                                        \
	} while (0)

#define CHECK_STR(actual, expected)                                                             \
	do {                                                                                    \
		const char *a_ = (actual), *e_ = (expected);                                    \
		if (!a_ || strcmp(a_, e_) != 0) {                                               \
			fprintf(stderr, "  %s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, e_, \
				a_ ? a_ : "(null)");                                            \
			test_failed = 1;                                                        \
		}                                                                               \
	} while (0)

#define CHECK_INT(actual, expected)                                                                      \
	do {                                                                                             \
		long long a_ = (long long)(actual), e_ = (long long)(expected);                          \
		if (a_ != e_) {                                                                          \
			fprintf(stderr, "  %s:%d: %s: expected %lld, got %lld\n", __FILE__, __LINE__, #actual, e_, a_); \
			test_failed = 1;                                                                 \
		}                                                                                        \
	} while (0)

/* text holds part (text may be NULL: then it fails). */
#define CHECK_CONTAINS(text, part)                                                                        \
	do {                                                                                              \
		const char *t_ = (text), *p_ = (part);                                                    \
		if (!t_ || !strstr(t_, p_)) {                                                             \
			fprintf(stderr, "  %s:%d: \"%s\" not in \"%s\"\n", __FILE__, __LINE__, p_, t_ ? t_ : "(null)"); \
			test_failed = 1;                                                                  \
		}                                                                                         \
	} while (0)

/* text does not hold part. */
#define CHECK_LACKS(text, part)                                                                       \
	do {                                                                                          \
		const char *t_ = (text), *p_ = (part);                                                \
		if (t_ && strstr(t_, p_)) {                                                           \
			fprintf(stderr, "  %s:%d: \"%s\" found in \"%s\"\n", __FILE__, __LINE__, p_, t_); \
			test_failed = 1;                                                              \
		}                                                                                     \
	} while (0)

#define RUN(fn)                                                                          \
	do {                                                                             \
		test_failed = 0;                                                         \
		fn();                                                                    \
		printf("%s - %s: %s\n", test_failed ? "not ok" : "ok", __FILE__, #fn);  \
		fflush(stdout);                                                          \
		test_any_failed |= test_failed;                                          \
	} while (0)

#define TEST_EXIT() return test_any_failed ? 1 : 0

#endif
