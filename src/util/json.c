#include "util/common.h"
#include "util/json.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/utf8.h"

json_t *plumb_json_text(const char *text, size_t len)
{
	if (plumb_utf8_valid(text, len))
		return json_stringn(text, len);
	plumb_buf repaired = PLUMB_BUF_INIT;
	plumb_utf8_repair(&repaired, text, len);
	json_t *value = json_stringn(repaired.ptr, repaired.len);
	plumb_buf_release(&repaired);
	return value;
}

json_t *plumb_json_string(const char *text)
{
	return text ? plumb_json_text(text, strlen(text)) : json_string("");
}

json_t *plumb_json_time(int64_t when)
{
	char text[32];
	if (!when)
		return json_null();
	plumb_format_time(text, when);
	return json_string(text);
}
