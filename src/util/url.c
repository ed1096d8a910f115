#include "util/common.h"
#include "util/url.h"

#include <strings.h>

/* The length of url without what two spellings of one URL differ by: a trailing "/" or ".git". */
static size_t url_length(const char *url)
{
	size_t n = strlen(url);
	while (n > 1 && url[n - 1] == '/')
		n--;
	if (n > 4 && !strncmp(url + n - 4, ".git", 4))
		n -= 4;
	return n;
}

int plumb_url_same(const char *a, const char *b)
{
	size_t n = url_length(a);
	return n == url_length(b) && !strncasecmp(a, b, n);
}
