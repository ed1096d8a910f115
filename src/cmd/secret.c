#include "util/common.h"
#include "cmd/cmd.h"
#include "secrets/secret.h"
#include "secrets/age.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Recipients files and identity files are small; anything bigger is a mistake. */
#define KEY_FILE_MAX (64u << 10)

static int read_file(plumb_buf *out, const char *path, size_t max)
{
	int fd = !strcmp(path, "-") ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return plumb_error_set(errno == ENOENT ? PLUMB_ENOTFOUND : PLUMB_ERROR, "cannot read %s: %s", path,
				       strerror(errno));
	int error = plumb_buf_read_fd(out, fd, max);
	if (fd != STDIN_FILENO)
		close(fd);
	if (error == PLUMB_EINVALID)
		return plumb_error_set(error, "%s is larger than %zu bytes", strcmp(path, "-") ? path : "standard input",
				       max);
	return error < 0 ? plumb_error_wrap(error, "cannot read %s", path) : 0;
}

static char *identity_path(const char *option, const char *state)
{
	if (option)
		return plumb_xstrdup(option);
	char *dir = state ? plumb_xstrdup(state) : plumb_default_state_dir();
	char *path = plumb_xprintf("%s/identity", dir);
	free(dir);
	return path;
}

/* Write a new identity file (never over an existing one: what was sealed to it would be lost). */
static int write_identity(const char *path, const char *identity, const char *recipient)
{
	char when[32], *dir = plumb_path_dirname(path);
	int error = 0;
	plumb_format_time(when, (int64_t)time(NULL));
	if (*dir && (error = plumb_fs_make_directories(dir, 0700)) < 0)
		goto done;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		error = plumb_error_set(errno == EEXIST ? PLUMB_ECONFLICT : PLUMB_ERROR, "%s: %s", path,
					errno == EEXIST ? "already exists; plumb never replaces an identity "
							  "(what was sealed to it could no longer be opened)"
							: strerror(errno));
		goto done;
	}
	FILE *f = fdopen(fd, "w");
	fprintf(f, "# created: %s\n# public key: %s\n%s\n", when, recipient, identity);
	if (fflush(f) != 0 || fsync(fd) != 0)
		error = plumb_error_set(PLUMB_ERROR, "%s: %s", path, strerror(errno));
	fclose(f);
done:
	free(dir);
	return error;
}

static int keygen(int argc, char **argv)
{
	const char *out = NULL, *state = NULL;
	struct option options[] = { { "out", required_argument, NULL, 'o' },
				    { "state", required_argument, NULL, 's' },
				    { "help", no_argument, NULL, 'h' },
				    { 0 } };
	char *identity = NULL, *recipient = NULL, *path = NULL;
	int code = PLUMB_EXIT_ERROR;

	optind = 1;
	opterr = 0;
	for (int c; (c = getopt_long(argc, argv, ":o:h", options, NULL)) != -1;) {
		if (c == 'o')
			out = optarg;
		else if (c == 's')
			state = optarg;
		else if (c == 'h')
			return plumb_cmd_help(2, (char *[]){ "help", "secret", NULL });
		else {
			fprintf(stderr, "plumb secret keygen: %s %s\n", c == ':' ? "option needs a value:" : "unknown option",
				argv[optind - 1]);
			return PLUMB_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usage: plumb secret keygen [-o FILE] [--state DIR]\n");
		return PLUMB_EXIT_ERROR;
	}
	path = identity_path(out, state);
	if (plumb_age_keygen(&identity, &recipient) < 0 || write_identity(path, identity, recipient) < 0) {
		fprintf(stderr, "plumb secret keygen: %s\n", plumb_error_last());
		goto done;
	}
	fprintf(stderr, "Identity written to %s (keep it there; never commit it)\n", path);
	printf("%s\n", recipient);
	code = PLUMB_EXIT_OK;
done:
	if (identity)
		explicit_bzero(identity, strlen(identity));
	free(identity);
	free(recipient);
	free(path);
	return code;
}

/* Append the recipients of a recipients file ("age1..." lines, "#" comments) to list. */
static int read_recipients(char ***list, size_t *count, size_t *capacity, const char *path)
{
	plumb_buf text = PLUMB_BUF_INIT;
	int error = read_file(&text, path, KEY_FILE_MAX);
	unsigned number = 0;
	for (char *line = text.ptr; error == 0 && *line;) {
		char *end = strchrnul(line, '\n');
		char saved = *end;
		number++;
		*end = '\0';
		if (end > line && end[-1] == '\r')
			end[-1] = '\0';
		if (*line && *line != '#') {
			if (plumb_age_recipient_valid(line) < 0)
				error = plumb_error_wrap(PLUMB_EINVALID, "%s:%u", path, number);
			PLUMB_GROW(*list, *count, *capacity);
			(*list)[(*count)++] = plumb_xstrdup(line);
		}
		*end = saved;
		line = *end ? end + 1 : end;
	}
	plumb_buf_release(&text);
	return error;
}

static int seal(int argc, char **argv)
{
	struct option options[] = { { "recipient", required_argument, NULL, 'r' },
				    { "recipients-file", required_argument, NULL, 'R' },
				    { "armor", no_argument, NULL, 'a' },
				    { "help", no_argument, NULL, 'h' },
				    { 0 } };
	char **recipients = NULL;
	size_t count = 0, capacity = 0;
	plumb_buf plain = PLUMB_BUF_INIT, sealed = PLUMB_BUF_INIT;
	int armor = 0, code = PLUMB_EXIT_ERROR, error = 0;

	optind = 1;
	opterr = 0;
	for (int c; error == 0 && (c = getopt_long(argc, argv, ":r:R:ah", options, NULL)) != -1;) {
		if (c == 'r') {
			if ((error = plumb_age_recipient_valid(optarg)) == 0) {
				PLUMB_GROW(recipients, count, capacity);
				recipients[count++] = plumb_xstrdup(optarg);
			}
		} else if (c == 'R') {
			error = read_recipients(&recipients, &count, &capacity, optarg);
		} else if (c == 'a') {
			armor = 1;
		} else if (c == 'h') {
			code = plumb_cmd_help(2, (char *[]){ "help", "secret", NULL });
			goto done;
		} else {
			fprintf(stderr, "plumb secret seal: %s %s\n", c == ':' ? "option needs a value:" : "unknown option",
				argv[optind - 1]);
			goto done;
		}
	}
	if (error < 0) {
		fprintf(stderr, "plumb secret seal: %s\n", plumb_error_last());
		goto done;
	}
	if (!count || argc - optind > 1) {
		fprintf(stderr, "usage: plumb secret seal -r RECIPIENT... [-R FILE] [-a] [FILE]\n");
		goto done;
	}
	if (isatty(STDOUT_FILENO) && !armor) {
		fprintf(stderr, "plumb secret seal: not writing binary to a terminal (redirect it, or pass -a)\n");
		goto done;
	}
	if (read_file(&plain, optind < argc ? argv[optind] : "-", PLUMB_SECRET_MAX) < 0 ||
	    plumb_age_encrypt(&sealed, (const char *const *)recipients, count, plain.ptr, plain.len, armor) < 0) {
		fprintf(stderr, "plumb secret seal: %s\n", plumb_error_last());
		goto done;
	}
	if (fwrite(sealed.ptr, 1, sealed.len, stdout) != sealed.len || fflush(stdout) != 0) {
		fprintf(stderr, "plumb secret seal: cannot write: %s\n", strerror(errno));
		goto done;
	}
	code = PLUMB_EXIT_OK;
done:
	for (size_t i = 0; i < count; i++)
		free(recipients[i]);
	free(recipients);
	plumb_buf_wipe(&plain);
	plumb_buf_release(&sealed);
	return code;
}

static int recipient(int argc, char **argv)
{
	const char *file = NULL, *state = NULL;
	struct option options[] = { { "identity", required_argument, NULL, 'i' },
				    { "state", required_argument, NULL, 's' },
				    { 0 } };
	plumb_buf text = PLUMB_BUF_INIT;
	char *path = NULL;
	int code = PLUMB_EXIT_ERROR, found = 0;

	optind = 1;
	opterr = 0;
	for (int c; (c = getopt_long(argc, argv, ":i:", options, NULL)) != -1;) {
		if (c == 'i')
			file = optarg;
		else if (c == 's')
			state = optarg;
		else {
			fprintf(stderr, "usage: plumb secret recipient [--identity FILE] [--state DIR]\n");
			return PLUMB_EXIT_ERROR;
		}
	}
	path = identity_path(file, state);
	if (read_file(&text, path, KEY_FILE_MAX) < 0) {
		fprintf(stderr, "plumb secret recipient: %s\n", plumb_error_last());
		goto done;
	}
	unsigned number = 0;
	for (char *line = text.ptr; *line;) {
		char *end = strchrnul(line, '\n'), saved = *end, *public_key = NULL;
		number++;
		*end = '\0';
		if (end > line && end[-1] == '\r')
			end[-1] = '\0';
		if (*line && *line != '#') {
			if (plumb_age_recipient_of(&public_key, line) < 0) {
				fprintf(stderr, "plumb secret recipient: %s:%u: not an age identity\n", path, number);
				goto done;
			}
			printf("%s\n", public_key);
			free(public_key);
			found++;
		}
		*end = saved;
		line = *end ? end + 1 : end;
	}
	if (!found) {
		fprintf(stderr, "plumb secret recipient: %s holds no identity\n", path);
		goto done;
	}
	code = PLUMB_EXIT_OK;
done:
	plumb_buf_wipe(&text);
	free(path);
	return code;
}

int plumb_cmd_secret(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";
	if (!strcmp(verb, "keygen"))
		return keygen(argc - 1, argv + 1);
	if (!strcmp(verb, "seal"))
		return seal(argc - 1, argv + 1);
	if (!strcmp(verb, "recipient"))
		return recipient(argc - 1, argv + 1);
	fprintf(stderr, "usage: plumb secret keygen [-o FILE] | seal -r RECIPIENT... [-a] [FILE] | recipient "
			"[--identity FILE]\n");
	return PLUMB_EXIT_ERROR;
}
