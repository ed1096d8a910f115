/*
 * library.h - a shared library loaded when it is first needed (dlopen).
 *
 * plumb links few libraries on purpose: every command pays for loading
 * what it links. A library only one command needs (libmicrohttpd for
 * serve, libcurl for a cluster connection) is loaded by name, its soname,
 * and its functions are reached through pointers typed from its header.
 */
#ifndef PLUMB_UTIL_LIBRARY_H
#define PLUMB_UTIL_LIBRARY_H

#include <stddef.h>

/* One function to look up: slot is the address of the function pointer to set. */
typedef struct {
	const char *name;
	void *slot;
} plumb_library_symbol;

/*
 * Load soname and point every symbol's slot at its function. 0, or -1 with
 * why (dlopen's message, or the first symbol missing) in problem, the
 * slots then left as they were. The library stays loaded: code may run in
 * it until the process exits.
 */
int plumb_library_load(const char *soname, const plumb_library_symbol *symbols, size_t count, char *problem,
		       size_t problem_size);

#endif
