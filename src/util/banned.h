/*
 * banned.h - functions plumb never calls.
 *
 * Each of these either cannot bound its output or keeps hidden state; the
 * replacements are plumb_buf (util/buf.h), snprintf and strtok_r. Included
 * last by every source file through util/common.h, so a use fails to compile.
 */
#ifndef PLUMB_UTIL_BANNED_H
#define PLUMB_UTIL_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_plumb

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#undef strtok
#define strtok(x, y) BANNED(strtok)

#endif
