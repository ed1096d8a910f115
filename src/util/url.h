/*
 * url.h - repository URLs compared as people write them: one repository
 * is spelled with or without ".git" and a trailing "/", its host in any
 * case.
 */
#ifndef PLUMB_UTIL_URL_H
#define PLUMB_UTIL_URL_H

/* True when a and b name one repository: equal but for a trailing "/" or ".git", and letter case. */
int plumb_url_same(const char *a, const char *b);

#endif
