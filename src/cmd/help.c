#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>

#define SOURCE_OPTIONS                                                                                   \
	"  --repo PATH|URL     the repository: a local path, or file://, git://, http(s)://, ssh:// URL\n" \
	"  --credentials FILE  how to reach private repositories: a credentials: list (tokens, SSH\n"    \
	"                      keys, CAs; see docs/repositories.md)\n"                                    \
	"  --submodules        fetch the repository's submodules and read them as folders\n"             \
	"  --revision REV      a branch, tag or commit (default: the repository's HEAD)\n"                  \
	"  --path P            the folder or file of manifests in the repository (default: the top)\n"     \
	"  --state DIR         state directory (default: /var/lib/plumb as root, else\n"                   \
	"                      $XDG_STATE_HOME/plumb)\n"                                                   \
	"  --kustomize PROG    the kustomize that renders a folder with a kustomization (default:\n"        \
	"                      $PLUMB_KUSTOMIZE, else kustomize in PATH)\n"                                \
	"  --helm PROG         the helm that renders a folder with a Chart.yaml (default: $PLUMB_HELM,\n" \
	"                      else helm in PATH)\n"                                                      \
	"  --cluster N=CTX     an Argo CD destination's name or server N is kubeconfig context CTX\n"      \
	"                      (repeatable)\n"                                                             \
	"  --repo-alias URL    an Argo CD repoURL that means the repository being read (repeatable)\n"      \
	"  --render-timeout D  how long kustomize or helm may run (default: 60s)\n"                      \
	"  --render-output-max SIZE   how much it may print (default: 64M)\n"                           \
	"  --allow-chart-fetch let helm fetch charts over the network: dependencies charts/ lacks, an\n"   \
	"                      Argo CD chart: source, a Flux HelmRepository's, a kustomization's helmCharts\n"

#define IDENTITY_OPTION "  --identity FILE     the age identity that opens Secrets (default: STATE/identity)\n"

#define CLUSTER_OPTIONS                                                                                        \
	"  --kubeconfig FILE   a cluster instead of a host root: the kubeconfig (default: $KUBECONFIG,\n"        \
	"                      ~/.kube/config, else the pod's ServiceAccount); an Application whose\n"         \
	"                      destination is kubernetes uses it too\n"                                        \
	"  --context NAME      the kubeconfig context (default: its current one, or the Application's)\n"      \
	"  --namespace NS      where namespaced objects without a namespace go (default: the context's)\n"    \
	"  --create-namespace  make that namespace when it does not exist (as syncPolicy.createNamespace)\n"  \
	"  --force-conflicts   take over the fields another field manager owns (as syncPolicy.syncOptions:\n" \
	"                      [ServerSideApply.ForceConflicts]); else such a field is a conflict\n" \
	"  --allow-mass-prune  let a sync delete more than half of what the application manages there\n" \
	"  --health-timeout D  how long a wave waits for the one before it to be healthy (default: the\n" \
	"                      Application's syncPolicy.healthTimeout, else 5m)\n" \
	"  --allow-exec-credentials  let a kubeconfig run its exec credential plugin\n"

#define CLUSTER_NAME_OPTIONS                                                                              \
	"  --kubeconfig FILE   a cluster instead of a host root: the kubeconfig (default: $KUBECONFIG,\n"   \
	"                      ~/.kube/config); the cluster is named by its server, as the sync named it\n" \
	"  --context NAME      the kubeconfig context (default: its current one)\n"

/* What each command is for and its options; main.c holds what runs it. */
typedef struct {
	const char *name;
	const char *summary;
	const char *usage; /* the full help text */
} command_help;

static const command_help commands[] = {
	{ "check", "validate the manifests of a revision",
	  "usage: plumb check [--repo PATH|URL] [--revision REV | --staged] [--path P] [APP]\n\n"
	  "Resolve the revision and load every manifest; report every error as FILE:LINE:COL: message.\n"
	  "Then scan every file of the revision (not only manifests) for plaintext secrets: private\n"
	  "keys, well-known token formats, high-entropy values under keys like password or token; each\n"
	  "is reported as FILE:LINE: RULE with the value masked. A reviewed false positive is allowed by\n"
	  "\"plumb:allow-secret\" on its line or an entry in .plumb-allow-secrets (PATTERN [RULE]).\n"
	  "Exit 0 when the revision is valid and holds no secret, 1 otherwise.\n\n" SOURCE_OPTIONS
	  "  --kubeconfig, --context, --namespace  the implicit application goes to a cluster (no\n"
	  "                      connection is made: the manifests are read as Kubernetes objects)\n"
	  "                      (--repo defaults to the current folder)\n"
	  "  --staged            check what is staged in the index of the work tree, before a commit\n"
	  "                      ('plumb hook install' runs it as a pre-commit hook)\n" },
	{ "render", "print the resources plumb loaded",
	  "usage: plumb render --repo PATH|URL [--revision REV] [--path P] [-o yaml|json] [APP]\n\n"
	  "Print every resource of every application of the revision (or of APP): YAML documents\n"
	  "under a comment naming their application, or one JSON document listing the applications\n"
	  "and their objects.\n\n" SOURCE_OPTIONS
	  "  --kubeconfig, --context, --namespace  the implicit application goes to a cluster (no\n"
	  "                      connection is made: the manifests are read as Kubernetes objects)\n"
	  "  -o, --output FMT    yaml (default) or json\n" },
	{ "plan", "show what a sync would change",
	  "usage: plumb plan --repo PATH|URL [--revision REV] [--path P] --root DIR [-o text|json|FILE]\n\n"
	  "Compare the revision with the live state under DIR and print what would change, with unified\n"
	  "diffs for text. Nothing is changed.\n\n" SOURCE_OPTIONS
	  "  --root DIR          destination root: every managed path lives under it (default: /)\n"
	  "  -o text|json        print the plan for people (default) or as the plan file's JSON\n"
	  "  -o FILE, --out FILE also save the plan file for review and 'plumb apply FILE'\n"
	  "  --detailed-exitcode exit 2 when there are changes, 0 when there are none, 1 on error\n"
	  CLUSTER_OPTIONS IDENTITY_OPTION "  --no-color          no colours even on a terminal (NO_COLOR is respected too)\n" },
	{ "show", "print a saved plan",
	  "usage: plumb show PLAN_FILE [-o text|json]\n\n"
	  "Verify a plan file (format, version, checksum) and print it as 'plumb plan' does, or as JSON.\n" },
	{ "apply", "apply a saved plan, or plan, confirm and apply",
	  "usage: plumb apply PLAN_FILE [--allow-moved-revision] [--state DIR] [--lock-timeout D]\n"
	  "       plumb apply --repo PATH|URL [--revision REV] [--path P] --root DIR [--auto-approve]\n\n"
	  "With a plan file: carry out exactly its actions. The plan is refused, and nothing changes, when\n"
	  "its revision now resolves to another commit (unless --allow-moved-revision: the planned commit\n"
	  "is applied) or when any object is no longer as it was observed. A cluster's plan goes to the\n"
	  "kubeconfig, context and namespace it names; another server or context is refused.\n"
	  "Without: plan, show the plan, ask for confirmation (unless --auto-approve), and apply.\n"
	  "Either way the first failing action stops the apply and plumb says what was done and what not.\n\n"
	  SOURCE_OPTIONS "  --root DIR          destination root (default: /)\n"
	  "  --auto-approve      apply without asking\n"
	  "  --lock-timeout D    wait up to D (e.g. 30s, 5m) for another apply to finish (default: 0)\n"
	  "  --capture-max SIZE  keep drifted content up to SIZE (e.g. 512K, 4M; default 1M) before\n"
	  "                      overwriting it; larger content is only noted\n"
	  CLUSTER_OPTIONS IDENTITY_OPTION "  --no-color          no colours\n" },
	{ "sync", "plan and apply without asking",
	  "usage: plumb sync --repo PATH|URL [--revision REV] [--path P] --root DIR\n\n"
	  "Make the live state under DIR match the revision: create, update, and prune what plumb created\n"
	  "and git no longer declares.\n\n" SOURCE_OPTIONS "  --root DIR          destination root (default: /)\n"
	  "  --lock-timeout D    wait up to D for another apply to finish (default: 0, fail at once)\n"
	  "  --capture-max SIZE  keep drifted content up to SIZE before overwriting it (default 1M)\n"
	  CLUSTER_OPTIONS IDENTITY_OPTION "  --no-color          no colours\n" },
	{ "status", "show what plumb manages at a destination, and its applications' last syncs",
	  "usage: plumb status [--root DIR | --kubeconfig FILE --context NAME] [--state DIR] [-o text|json]\n\n"
	  "Print the last sync into the destination, each application there with its sync state\n"
	  "(synced, failed, running, ahead of git) and last sync, and every object plumb manages there.\n"
	  "Reads only the store: a cluster is named from the kubeconfig, never reached.\n\n"
	  "  --root DIR          the destination root (default: /)\n"
	  CLUSTER_NAME_OPTIONS
	  "  --state DIR         state directory\n"
	  "  -o text|json        print for people (default) or as JSON\n" },
	{ "history", "list the syncs plumb recorded, or show one",
	  "usage: plumb history [APP] [--root DIR | --kubeconfig FILE --context NAME] [--state DIR] [--limit N]\n"
	  "                     [-o text|json]\n"
	  "       plumb history show ID [--state DIR] [-o text|json]\n\n"
	  "List the syncs recorded in the state directory, newest first: when, which application, how\n"
	  "(operation, trigger, actor), the commit, what changed and the result. With APP only that\n"
	  "application's. 'history show ID' prints one sync with every field and each of its actions.\n\n"
	  "  --root DIR          only the syncs into this destination root (default: every destination)\n"
	  CLUSTER_NAME_OPTIONS
	  "  --state DIR         state directory (default: /var/lib/plumb as root, else\n"
	  "                      $XDG_STATE_HOME/plumb)\n"
	  "  --limit N           at most the N newest syncs\n"
	  "  -o text|json        print for people (default) or as JSON\n" },
	{ "audit", "verify or export the audit log",
	  "usage: plumb audit verify [--state DIR]\n"
	  "       plumb audit export [--state DIR]\n\n"
	  "The audit log records every sync, action and drift event as a hash chain: each entry holds\n"
	  "the SHA-256 of the entry before it and of its own fields, so an entry changed or removed\n"
	  "after the fact breaks the chain there.\n\n"
	  "verify  walk the chain; exit 0 saying 'audit log intact: N entries', or exit 1 naming the\n"
	  "        first entry where it breaks and why\n"
	  "export  print every entry as one JSON object per line (id, at, actor, event, subject,\n"
	  "        detail, previous_hash, hash), to keep a copy where the host cannot reach it\n\n"
	  "An entry's hash is the hex SHA-256 of previous_hash, id, at (unix seconds), actor, event,\n"
	  "subject and detail (compact JSON), joined by newlines; the first previous_hash is 64 zeros.\n\n"
	  "  --state DIR         state directory (default: /var/lib/plumb as root, else\n"
	  "                      $XDG_STATE_HOME/plumb)\n" },
	{ "serve", "keep a destination in sync: the reconciler daemon",
	  "usage: plumb serve [--config FILE] [--repo PATH|URL] [--revision REV] [--path P] [--root DIR]\n"
	  "                   [--listen ADDR] [--interval D] [--tokens FILE] [--webhook-secret FILE] ...\n\n"
	  "Track a repository and keep the destination in sync: poll (every --interval, jittered), accept\n"
	  "push webhooks, repair drift (periodically and on inotify events), and serve the JSON API,\n"
	  "/healthz and /metrics. Every key of the config file (YAML) is also a flag of the same name;\n"
	  "flags win. See docs/serve.md.\n\n"
	  "  --config FILE              settings as YAML: the keys below\n"
	  "  --repo, --revision, --path, --root, --state   as for sync\n"
	  "  --listen ADDR              default 127.0.0.1:8080 (loopback unless told otherwise)\n"
	  "  --interval D               poll interval, default 3m\n"
	  "  --self-heal-interval D     periodic drift check, default 1m\n"
	  "  --tokens FILE              API tokens: NAME ROLE SHA256HEX a line\n"
	  "  --webhook-secret FILE      the shared secret of push webhooks\n"
	  "  --prune B, --no-prune      delete what git no longer declares (default true)\n"
	  "  --self-heal B, --no-self-heal   repair drift (default true); without, only report it\n"
	  "  --approval MODE            auto (default), prompted (plumb approve ID), manual\n"
	  "  --capture-max BYTES        drifted content kept before it is overwritten (default 1048576)\n"
	  "  --identity FILE            the age identity that opens Secrets (default: STATE/identity)\n"
	  "  --kubeconfig FILE          the clusters of Applications bound for one (default: $KUBECONFIG,\n"
	  "                             ~/.kube/config, else the pod's ServiceAccount)\n"
	  "  --allow-exec-credentials B let a kubeconfig's exec credential plugin run (default false)\n"
	  "  --kustomize PROG           the program that renders kustomizations (default:\n"
	  "                             $PLUMB_KUSTOMIZE, else kustomize on PATH)\n"
	  "  --helm PROG                the program that renders charts (default: $PLUMB_HELM, else\n"
	  "                             helm on PATH)\n"
	  "  --clusters N=CTX,...       Argo CD destinations (name or server) and their kubeconfig contexts\n"
	  "  --repo-aliases URL,...     Argo CD repoURLs that mean the repository served\n"
	  "  --render-timeout D         how long kustomize or helm may run (default: 60s)\n"
	  "  --render-output-max BYTES  how much it may print (default: 67108864)\n"
	  "  --allow-chart-fetch B      let helm fetch charts over the network (dependencies, chart:\n"
	  "                             sources, HelmRepository charts, helmCharts; default false)\n"
	  "  --submodules B             fetch and read the repository's submodules (default false)\n"
	  "  --credentials FILE         a file of credentials: entries; in the config file, the entries\n"
	  "                             themselves (docs/repositories.md). A password in the repository\n"
	  "                             URL is refused: give it there\n\n"
	  "SIGTERM finishes the sync in flight and exits; SIGHUP reloads the config and the tokens.\n" },
	{ "drift", "find, list and export what changed by hand",
	  "usage: plumb drift [check] [--root DIR | --kubeconfig FILE --context NAME --namespace NS]\n"
	  "                   [--state DIR] [--identity FILE] [-o text|json]\n"
	  "       plumb drift log [--root DIR | --kubeconfig FILE --context NAME] [--limit N] [-o text|json]\n"
	  "       plumb drift show ID\n"
	  "       plumb drift export ID [--out FILE]\n\n"
	  "plumb drift (check) compares every object plumb manages at the destination (under DIR, or in\n"
	  "a cluster) with what plumb last applied there, planning each application's last synced commit\n"
	  "again, and lists what drifted (changed, removed, mode or owner changed) with diffs; it exits\n"
	  "2 when anything did, so monitoring can call it. A cluster's objects are placed as the sync\n"
	  "placed them: give the namespace it used. Before a sync overwrites or removes such an object,\n"
	  "plumb keeps what it found in the state directory and records a drift event:\n\n"
	  "log     the drift events, newest first\n"
	  "show    one event: what was found, the kept content, and its difference from git\n"
	  "export  a patch against the repository at the commit then in force that carries the manual\n"
	  "        change into git ('git apply' it, review, commit); a Kubernetes object's document in\n"
	  "        its manifest is replaced by the object as it was found\n\n"
	  "  --root DIR          the destination root (default: /)\n"
	  "  --kubeconfig FILE, --context NAME, --namespace NS  a cluster, as for sync (no connection\n"
	  "                      for log, show and export)\n"
	  "  --allow-exec-credentials  let the kubeconfig run its exec credential plugin\n" },
	{ "rollback", "restore an application to a revision through git",
	  "usage: plumb rollback [APP] --to REV --repo PATH|URL [--revision BRANCH] [--path P]\n"
	  "                      [--root DIR | --kubeconfig FILE ...] [--author 'Name <email>'] [--no-commit]\n\n"
	  "Restore the application's path (APP, or --path; default: the whole repository) to what it was\n"
	  "at REV by a new commit on the tracked branch: its tree is the branch tip's with that path as in\n"
	  "REV, and its message names REV and the commits it reverts. A remote repository gets the commit\n"
	  "pushed (it must fast-forward); then plumb syncs it. Git stays the source of truth: nothing is\n"
	  "rewritten. An application bound for a cluster has that commit's objects applied there, and\n"
	  "what the commit does not have pruned, as a sync does.\n\n"
	  "  --to REV            the revision to restore (a tag, a commit, a branch)\n"
	  "  --revision BRANCH   the branch to commit on (default: the default branch)\n"
	  "  --author A          'Name <email>' of the commit (default: plumb <plumb@HOST>)\n"
	  "  --no-commit         emergency: sync REV directly without a commit; the application is\n"
	  "                      ahead of git until the branch catches up (plumb status says so)\n"
	  SOURCE_OPTIONS "  --root DIR          destination root (default: /)\n"
	  "  --lock-timeout D    wait up to D for another apply to finish\n" CLUSTER_OPTIONS IDENTITY_OPTION },
	{ "approvals", "list the plans awaiting approval, or show one",
	  "usage: plumb approvals [--root DIR] [--state DIR] [--limit N] [-o text|json]\n"
	  "       plumb approvals show ID [--state DIR] [-o text|json]\n\n"
	  "An application with syncPolicy approval: prompted does not apply a plan until a person approves\n"
	  "it. List those plans, newest first, with their state (pending, approved, rejected, applied,\n"
	  "superseded) and who decided; 'approvals show ID' prints one plan's actions and diffs.\n\n"
	  "  --root DIR          only the plans for this destination root (default: every root)\n"
	  "  --state DIR         state directory (default: /var/lib/plumb as root, else\n"
	  "                      $XDG_STATE_HOME/plumb)\n"
	  "  --limit N           at most the N newest plans\n"
	  "  -o text|json        print for people (default) or as JSON\n" },
	{ "approve", "approve a pending plan",
	  "usage: plumb approve ID [--state DIR] [--note TEXT]\n\n"
	  "Approve pending plan ID (see 'plumb approvals'), recorded with you as user@host and the note.\n"
	  "Exit 1 when there is no such plan or it is not pending.\n" },
	{ "reject", "reject a pending plan",
	  "usage: plumb reject ID [--state DIR] [--note TEXT]\n\n"
	  "Reject pending plan ID: it is never applied. The note says why.\n"
	  "Exit 1 when there is no such plan or it is not pending.\n" },
	{ "secret", "make an age identity and seal secrets for the repository",
	  "usage: plumb secret keygen [-o FILE] [--state DIR]\n"
	  "       plumb secret seal -r RECIPIENT... [-R FILE] [-a] [FILE]\n"
	  "       plumb secret recipient [--identity FILE] [--state DIR]\n\n"
	  "Secrets live in git only encrypted with age (the format of the age tool), to the X25519\n"
	  "recipients of the hosts that apply them; a Secret manifest names the file (spec.age), and a\n"
	  "File takes its content from it (contentFrom: {secret: NAME}). See docs/secrets.md.\n\n"
	  "keygen     make an identity, write it 0600 to FILE (default: STATE/identity; never over an\n"
	  "           existing one) and print its public recipient (age1...) on standard output\n"
	  "seal       encrypt FILE (default: standard input) to every -r RECIPIENT and the recipients\n"
	  "           of -R FILE (age1... lines), writing the age file to standard output; -a armors it\n"
	  "           as text\n"
	  "recipient  print the public recipient of an identity file\n" },
	{ "hook", "install git hooks that run plumb check before commit and push",
	  "usage: plumb hook install [--repo DIR] [--path P] [--force]\n\n"
	  "Install a pre-commit hook that runs 'plumb check --staged' (what is about to be committed:\n"
	  "plaintext secrets and invalid manifests stop the commit) and a pre-push hook that runs\n"
	  "'plumb check' on every commit being pushed, in the repository of the work tree DIR (default:\n"
	  "the current folder; core.hooksPath is honoured). The hooks call this plumb binary by its\n"
	  "absolute path.\n\n"
	  "  --path P    the folder of manifests the hooks check (default: the top)\n"
	  "  --force     replace hooks that plumb did not write (else they are left alone, and it fails)\n" },
	{ "version", "print the version", "usage: plumb version\n" },
	{ "help", "show help for a command", "usage: plumb help [COMMAND]\n" },
	{ NULL, NULL, NULL },
};

static const command_help *find(const char *name)
{
	for (const command_help *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int plumb_cmd_help(int argc, char **argv)
{
	if (argc > 1) {
		const command_help *c = find(argv[1]);
		if (!c) {
			fprintf(stderr, "plumb help: unknown command '%s'\n", argv[1]);
			return PLUMB_EXIT_ERROR;
		}
		fputs(c->usage, stdout);
		return PLUMB_EXIT_OK;
	}
	printf("usage: plumb COMMAND [OPTIONS]\n\n"
	       "plumb makes a host match a git repository.\n\nCommands:\n");
	for (const command_help *c = commands; c->name; c++)
		printf("  %-9s %s\n", c->name, c->summary);
	printf("\nRun 'plumb help COMMAND' for the options of one.\n"
	       "Exit codes: 0 success, 1 error, 2 plan found changes (with --detailed-exitcode).\n");
	return PLUMB_EXIT_OK;
}

int plumb_cmd_version(int argc, char **argv)
{
	printf("plumb %s\n", PLUMB_VERSION);
	return PLUMB_EXIT_OK;
}
