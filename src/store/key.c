#include "util/common.h"
#include "store/key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

int plumb_state_key_load(unsigned char key[PLUMB_STATE_KEY_SIZE], const char *state_dir)
{
	char *path = plumb_xprintf("%s/fingerprint.key", state_dir);
	int error = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		unsigned char fresh[PLUMB_STATE_KEY_SIZE];
		if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh)) {
			error = plumb_error_set(PLUMB_ERROR, "cannot get random bytes: %s", strerror(errno));
			goto done;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			int written = write(fd, fresh, sizeof(fresh)) == (ssize_t)sizeof(fresh) && fsync(fd) == 0;
			close(fd);
			explicit_bzero(fresh, sizeof(fresh));
			if (!written) {
				unlink(path);
				error = plumb_error_set(PLUMB_ERROR, "cannot write %s", path);
				goto done;
			}
		}
		/* Made here or by a plumb that raced us: read what is there. */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 || read(fd, key, PLUMB_STATE_KEY_SIZE) != PLUMB_STATE_KEY_SIZE)
		error = plumb_error_set(PLUMB_ERROR, "cannot read %s: %s", path, fd < 0 ? strerror(errno) : "too short");
	if (fd >= 0)
		close(fd);
done:
	free(path);
	return error;
}
