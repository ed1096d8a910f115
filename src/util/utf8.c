#include "util/common.h"
#include "util/utf8.h"

/* The length of the well-formed sequence at p (at most end - p bytes), or 0 when there is none. */
static size_t sequence_length(const unsigned char *p, const unsigned char *end)
{
	size_t avail = (size_t)(end - p);
	unsigned char c = p[0];
	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f)) /* overlong; surrogate */
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f)) /* overlong; beyond U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

int plumb_utf8_valid(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	while (p < end) {
		size_t n = sequence_length(p, end);
		if (!n)
			return 0;
		p += n;
	}
	return 1;
}

void plumb_utf8_repair(plumb_buf *out, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	while (p < end) {
		size_t n = sequence_length(p, end);
		if (n) {
			plumb_buf_add(out, p, n);
			p += n;
		} else {
			plumb_buf_puts(out, "\xef\xbf\xbd");
			p++;
		}
	}
}
