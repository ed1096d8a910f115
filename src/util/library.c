#include "util/common.h"
#include "util/library.h"

#include <dlfcn.h>

int plumb_library_load(const char *soname, const plumb_library_symbol *symbols, size_t count, char *problem,
		       size_t problem_size)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(problem, problem_size, "%s", dlerror());
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		if (!dlsym(lib, symbols[i].name)) {
			snprintf(problem, problem_size, "%s has no %s", soname, symbols[i].name);
			return -1;
		}
	}
	for (size_t i = 0; i < count; i++) {
		void *address = dlsym(lib, symbols[i].name);
		_Static_assert(sizeof(address) == sizeof(void (*)(void)), "POSIX: a function pointer fits in a void *");
		memcpy(symbols[i].slot, &address, sizeof(address));
	}
	return 0;
}
