#include "util/common.h"
#include "cmd/cmd.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

/* Every hook plumb writes carries this line: only those are ever replaced without --force. */
#define HOOK_MARKER "# installed by plumb hook install"

/* value in single quotes for sh: ' becomes '\'' */
static void shell_quote(plumb_buf *out, const char *value)
{
	plumb_buf_putc(out, '\'');
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			plumb_buf_puts(out, "'\\''");
		else
			plumb_buf_putc(out, *p);
	}
	plumb_buf_putc(out, '\'');
}

/* The pre-commit hook checks what is staged; the pre-push hook checks every commit about to be pushed. */
static void hook_script(plumb_buf *out, const char *name, const char *plumb, const char *path)
{
	plumb_buf command = PLUMB_BUF_INIT;
	shell_quote(&command, plumb);
	plumb_buf_puts(&command, " check --repo \"$top\"");
	if (path) {
		plumb_buf_puts(&command, " --path ");
		shell_quote(&command, path);
	}
	plumb_buf_printf(out, "#!/bin/sh\n" HOOK_MARKER "\n");
	if (!strcmp(name, "pre-commit")) {
		plumb_buf_printf(out,
				 "# Stops plaintext secrets and invalid manifests before they are committed.\n"
				 "top=$(git rev-parse --show-toplevel) || exit 1\n"
				 "exec %s --staged\n",
				 command.ptr);
	} else {
		/*
		 * Every commit the remote does not have yet: a secret added in one commit and
		 * removed in the next would still reach the remote with the first.
		 */
		plumb_buf_printf(out,
				 "# Checks every commit about to be pushed (standard input: LOCAL_REF LOCAL_SHA REMOTE_REF "
				 "REMOTE_SHA).\n"
				 "top=$(git rev-parse --show-toplevel) || exit 1\n"
				 "remote=$1\n"
				 "while read -r local_ref local_sha remote_ref remote_sha; do\n"
				 "\tcase $local_sha in *[!0]*) ;; *) continue ;; esac # a deletion pushes nothing\n"
				 "\tknown=\n"
				 "\tif git cat-file -e \"$remote_sha^{commit}\" 2>/dev/null; then known=^$remote_sha; fi\n"
				 "\tcommits=$(git rev-list \"$local_sha\" $known --not --remotes=\"$remote\") || exit 1\n"
				 "\tfor commit in $commits; do\n"
				 "\t\t%s --revision \"$commit\" || exit 1\n"
				 "\tdone\n"
				 "done\n"
				 "exit 0\n",
				 command.ptr);
	}
	plumb_buf_release(&command);
}

/* Whether the hook at path may be written: absent, or written by plumb, or --force. */
static int may_replace(const char *path, int force)
{
	plumb_buf text = PLUMB_BUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : (plumb_error_set(PLUMB_ERROR, "%s: %s", path, strerror(errno)), 0);
	int ours = plumb_buf_read_fd(&text, fd, 1u << 20) == 0 && strstr(text.ptr, HOOK_MARKER) != NULL;
	close(fd);
	plumb_buf_release(&text);
	if (!ours && !force)
		plumb_error_set(PLUMB_ECONFLICT, "%s exists and was not written by plumb: merge it by hand, or pass --force "
						 "to replace it",
				path);
	return ours || force;
}

static int install(const char *repo, const char *path, int force)
{
	static const char *const hooks[] = { "pre-commit", "pre-push" };
	char self[PATH_MAX];
	char *dir = NULL;
	plumb_source *source = NULL;
	int error = 0;

	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return plumb_error_set(PLUMB_ERROR, "cannot tell where plumb is: %s", strerror(errno));
	self[n] = '\0';
	if ((error = plumb_source_open(&source, repo, NULL)) < 0 || (error = plumb_source_hooks_dir(&dir, source)) < 0 ||
	    (error = plumb_fs_make_directories(dir, 0755)) < 0)
		goto done;
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(hooks) && error == 0; i++) {
		char *file = plumb_xprintf("%s/%s", dir, hooks[i]);
		if (!may_replace(file, force)) {
			error = PLUMB_ECONFLICT;
		} else {
			plumb_buf script = PLUMB_BUF_INIT;
			hook_script(&script, hooks[i], self, path);
			if ((error = plumb_fs_write_path(file, script.ptr, script.len, 0755)) == 0)
				printf("installed %s\n", file);
			plumb_buf_release(&script);
		}
		free(file);
	}
done:
	free(dir);
	plumb_source_free(source);
	return error;
}

int plumb_cmd_hook(int argc, char **argv)
{
	struct option options[] = { { "repo", required_argument, NULL, 'r' },
				    { "path", required_argument, NULL, 'p' },
				    { "force", no_argument, NULL, 'f' },
				    { "help", no_argument, NULL, 'h' },
				    { 0 } };
	const char *repo = ".", *path = NULL;
	int force = 0;

	if (argc < 2 || strcmp(argv[1], "install") != 0) {
		fprintf(stderr, "usage: plumb hook install [--repo DIR] [--path P] [--force]\n");
		return PLUMB_EXIT_ERROR;
	}
	optind = 1;
	opterr = 0;
	for (int c; (c = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1;) {
		if (c == 'r')
			repo = optarg;
		else if (c == 'p')
			path = optarg;
		else if (c == 'f')
			force = 1;
		else if (c == 'h')
			return plumb_cmd_help(2, (char *[]){ "help", "hook", NULL });
		else {
			fprintf(stderr, "plumb hook install: %s %s\n", c == ':' ? "option needs a value:" : "unknown option",
				argv[optind]);
			return PLUMB_EXIT_ERROR;
		}
	}
	if (optind < argc - 1) {
		fprintf(stderr, "plumb hook install: unexpected argument '%s'\n", argv[optind + 1]);
		return PLUMB_EXIT_ERROR;
	}
	if (install(repo, path, force) < 0) {
		fprintf(stderr, "plumb hook install: %s\n", plumb_error_last());
		return PLUMB_EXIT_ERROR;
	}
	return PLUMB_EXIT_OK;
}
