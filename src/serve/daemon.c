#include "util/common.h"
#include "serve/daemon.h"
#include "pipeline/pipeline.h"
#include "serve/api.h"
#include "serve/internal.h"
#include "serve/log.h"
#include "serve/reconcile.h"
#include "serve/server.h"
#include "serve/watch.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* The loop looks at the store (approvals decided from the command line) at least this often. */
#define TICK_MS 1000
/* A manual edit is repaired this long after the last change event, so one edit is one repair. */
#define DEBOUNCE_MS 300
/* A webhook secret file is read up to this size. */
#define MAX_SECRET 4096

/* Read the webhook secret (its last newlines dropped) into d, wiping the one it replaces. */
static int read_secret(daemon_state *d, const char *path)
{
	plumb_buf text = PLUMB_BUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot read the webhook secret %s: %s", path, strerror(errno));
	int error = plumb_buf_read_fd(&text, fd, MAX_SECRET);
	close(fd);
	if (error < 0)
		return plumb_error_wrap(error, "webhook secret %s", path);
	while (text.len && (text.ptr[text.len - 1] == '\n' || text.ptr[text.len - 1] == '\r'))
		plumb_buf_truncate(&text, text.len - 1);
	if (!text.len) {
		plumb_buf_release(&text);
		return plumb_error_set(PLUMB_EINVALID, "the webhook secret %s is empty", path);
	}
	pthread_mutex_lock(&d->mutex);
	if (d->secret) {
		OPENSSL_cleanse(d->secret, d->secret_len);
		free(d->secret);
	}
	d->secret_len = text.len;
	d->secret = plumb_buf_detach(&text, NULL);
	pthread_mutex_unlock(&d->mutex);
	return 0;
}

/*
 * How often to look at the repository: serve's interval, or an
 * application's own when it asks for a shorter one (a Flux interval).
 */
static unsigned poll_interval(const daemon_state *d)
{
	unsigned interval = d->options.interval_ms;
	for (size_t i = 0; i < d->app_count; i++) {
		unsigned own = d->apps[i]->declared.interval_ms;
		if (d->apps[i]->present && own && own < interval)
			interval = own;
	}
	return interval;
}

/* interval_ms, give or take a tenth: daemons started together do not poll the server together. */
static unsigned jittered(unsigned interval_ms)
{
	unsigned spread = interval_ms / 10, r = 0;
	if (!spread || getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return interval_ms;
	return interval_ms - spread + r % (2 * spread + 1);
}

/* Take the gathered requests once they are due; *due_ms says when otherwise (0: none waits). */
static int take_request(daemon_state *d, char **trigger_out, int64_t *due_ms)
{
	pthread_mutex_lock(&d->mutex);
	int requested = d->sync_requested && plumb_monotonic_ms() >= d->request_due_ms;
	*due_ms = d->sync_requested ? d->request_due_ms : 0;
	*trigger_out = NULL;
	if (requested) {
		d->sync_requested = 0;
		*trigger_out = d->requested_by;
		d->requested_by = NULL;
	}
	pthread_mutex_unlock(&d->mutex);
	return requested;
}

/* Read the wake-ups the pipe at fd holds, until it would block. */
static void drain(int fd)
{
	char buffer[4096];
	while (read(fd, buffer, sizeof(buffer)) > 0)
		;
}

/* Read SIGHUP's new options: policy, intervals, tokens, the webhook secret. Where they point stays. */
static void reload_options(daemon_state *d, plumb_server *server, plumb_daemon_reload reload, void *payload)
{
	plumb_daemon_options fresh;
	plumb_daemon_options_init(&fresh);
	if (!reload || reload(&fresh, payload) < 0) {
		plumb_log_event("error", "reload failed; keeping the configuration", "error", plumb_error_last(), NULL);
		plumb_daemon_options_release(&fresh);
		return;
	}
	pthread_mutex_lock(&d->mutex);
	d->options.interval_ms = fresh.interval_ms;
	d->options.self_heal_interval_ms = fresh.self_heal_interval_ms;
	/* The implicit application takes them at the next reconcile; Applications keep their own. */
	d->options.prune = fresh.prune;
	d->options.self_heal = fresh.self_heal;
	d->options.approval = fresh.approval;
	d->options.capture_max = fresh.capture_max;
	/* New credentials (a token moved to another file, a new entry) serve the next fetch. */
	plumb_credentials *old_credentials = d->options.credentials;
	d->options.credentials = fresh.credentials;
	fresh.credentials = old_credentials;
	pthread_mutex_unlock(&d->mutex);
	/* No source keeps the old table, which goes with fresh below. */
	plumb_serve_use_credentials(d, d->source);
	for (size_t i = 0; i < d->app_count; i++)
		if (d->apps[i]->source)
			plumb_serve_use_credentials(d, d->apps[i]->source);
	int kept_old = 0;
	if (plumb_server_reload_tokens(server) < 0) {
		plumb_log_event("error", "cannot reload the tokens", "error", plumb_error_last(), NULL);
		kept_old = 1;
	}
	if (fresh.webhook_secret_file && read_secret(d, fresh.webhook_secret_file) < 0) {
		plumb_log_event("error", "cannot reload the webhook secret", "error", plumb_error_last(), NULL);
		kept_old = 1;
	}
	/* Said only of a reload that took everything: one that kept old tokens or an old secret says so. */
	if (kept_old)
		plumb_log_event("warn", "configuration reloaded in part; what could not be read is kept as it was", NULL);
	else
		plumb_log_event("info", "configuration reloaded", NULL);
	plumb_daemon_options_release(&fresh);
}

int plumb_daemon_run(const plumb_daemon_options *options, plumb_daemon_reload reload, void *payload)
{
	daemon_state state, *d = &state;
	plumb_server *server = NULL;
	sigset_t signals;
	int signal_fd = -1, error = 0;
	plumb_route table[PLUMB_API_ROUTE_COUNT];

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->mutex, NULL);
	plumb_daemon_options_copy(&d->options, options);
	d->watch = plumb_watch_new();
	d->wake_pipe[0] = d->wake_pipe[1] = -1;
	d->root = plumb_destination_path(d->options.root);

	/* Signals arrive through a descriptor, so a sync in flight is never interrupted. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
	if (signal_fd < 0 || pipe2(d->wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot set up signals: %s", strerror(errno));
		goto done;
	}
	char *state_dir = plumb_serve_state_dir(d);
	error = plumb_store_open(&d->store, state_dir);
	if (error == 0)
		error = plumb_source_open_cached(&d->source, d->options.repo, state_dir);
	if (error == 0) {
		plumb_render_options render = plumb_serve_render_options(d, state_dir);
		plumb_load_set_render(d->source, &render);
	}
	free(state_dir);
	if (error < 0)
		goto done;
	/* The implicit application is named after its path, or its repository for the top. */
	if (plumb_source_branch(&d->branch, d->source, d->options.revision) < 0)
		d->branch = NULL; /* a tag, a commit, or a cache not fetched yet: every push wakes a fetch */
	if (d->options.webhook_secret_file && (error = read_secret(d, d->options.webhook_secret_file)) < 0)
		goto done;
	plumb_api_routes(table, d);
	if ((error = plumb_server_start(&server, d->options.listen ? d->options.listen : "127.0.0.1:8080",
					d->options.tokens_file, table, PLUMB_API_ROUTE_COUNT)) < 0)
		goto done;
	{
		char port[16];
		snprintf(port, sizeof(port), "%u", plumb_server_port(server));
		plumb_log_event("info", "serving", "repo", plumb_source_name(d->source), "path",
				d->options.path ? d->options.path : "", "destination", d->root, "port", port, NULL);
	}
	int64_t next_poll = plumb_monotonic_ms(), request_due = 0;
	int64_t next_heal = next_poll + d->options.self_heal_interval_ms;
	for (;;) {
		int64_t now = plumb_monotonic_ms();
		int64_t due = next_poll < next_heal ? next_poll : next_heal;
		if (request_due && request_due < due)
			due = request_due;
		int timeout = due <= now ? 0 : (int)(due - now > TICK_MS ? TICK_MS : due - now);
		int watch_fd = plumb_watch_fd(d->watch);
		struct pollfd fds[3] = { { signal_fd, POLLIN, 0 }, { d->wake_pipe[0], POLLIN, 0 }, { watch_fd, POLLIN, 0 } };
		poll(fds, watch_fd >= 0 ? 3 : 2, timeout);

		struct signalfd_siginfo info;
		int stop = 0;
		while (read(signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
			if (info.ssi_signo == SIGHUP)
				reload_options(d, server, reload, payload);
			else
				stop = 1;
		}
		if (stop) {
			plumb_log_event("info", "stopping", NULL);
			break;
		}
		drain(d->wake_pipe[0]);
		/* An object of a cluster changed (a watch said so): look soon, as for a file. */
		pthread_mutex_lock(&d->mutex);
		int cluster_changed = d->cluster_changed;
		d->cluster_changed = 0;
		pthread_mutex_unlock(&d->mutex);
		if (cluster_changed)
			next_heal = plumb_monotonic_ms() + DEBOUNCE_MS;
		/* A change under a managed directory: look soon, to repair with selfHeal, to report without. */
		if (watch_fd >= 0 && (fds[2].revents & POLLIN) && plumb_watch_changed(d->watch))
			next_heal = plumb_monotonic_ms() + DEBOUNCE_MS;
		char *requested = NULL;
		int worked = 1;
		now = plumb_monotonic_ms();
		if (take_request(d, &requested, &request_due)) {
			request_due = 0;
			char trigger[32];
			snprintf(trigger, sizeof(trigger), "%s", requested ? requested : "api");
			*strchrnul(trigger, ' ') = '\0';
			plumb_reconcile(d, trigger, 1);
			next_poll = plumb_monotonic_ms() + (d->backoff_ms ? d->backoff_ms : jittered(poll_interval(d)));
		} else if (now >= next_poll) {
			plumb_reconcile(d, "poll", 1);
			next_poll = plumb_monotonic_ms() + (d->backoff_ms ? d->backoff_ms : jittered(poll_interval(d)));
		} else if (now >= next_heal) {
			plumb_reconcile(d, "drift", 0);
			next_heal = plumb_monotonic_ms() + d->options.self_heal_interval_ms;
		} else {
			worked = 0;
		}
		free(requested);
		if (plumb_reconcile_approved(d))
			worked = 1;
		/*
		 * A round that planned thousands of objects freed what it held for
		 * them; the pages go back to the system rather than stay with a
		 * daemon that may not plan as much again for hours.
		 */
		if (worked)
			malloc_trim(0);
		/*
		 * The watches follow what is managed after every round, whatever
		 * it changed. A directory watched for the first time may have
		 * changed before its watch was set, and a change seen while the
		 * round ran (before an apply) has no event left to wake the loop:
		 * look soon.
		 */
		if (worked && (plumb_watch_update(d->watch, d) > 0 || plumb_watch_changed(d->watch)))
			next_heal = plumb_monotonic_ms() + DEBOUNCE_MS;
	}
done:
	if (error < 0)
		plumb_log_event("error", "cannot start", "error", plumb_error_last(), NULL);
	plumb_server_stop(server);
	if (signal_fd >= 0)
		close(signal_fd);
	if (d->wake_pipe[0] >= 0) {
		close(d->wake_pipe[0]);
		close(d->wake_pipe[1]);
	}
	plumb_watch_free(d->watch);
	plumb_source_free(d->source);
	plumb_store_free(d->store);
	if (d->secret) {
		OPENSSL_cleanse(d->secret, d->secret_len);
		free(d->secret);
	}
	for (size_t i = 0; i < d->app_count; i++)
		plumb_serve_app_free(d->apps[i]);
	free(d->apps);
	free(d->root);
	free(d->branch);
	free(d->requested_by);
	plumb_daemon_options_release(&d->options);
	pthread_mutex_destroy(&d->mutex);
	return error;
}
