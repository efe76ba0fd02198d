/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `stasis doctor`: which container engines are set up to run stasis as their OCI runtime (the
 * stasis binary under the names stasis-crun and stasis-runc, docs/podman.md), read from their
 * configuration files in the order each engine reads them.  Only what decides whether and how
 * stasis runs is looked at; the rest of each file is the engine's business.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/toml.h"
#include "common/xalloc.h"
#include "engine/doctor/doctor-internal.h"
#include "engine/engine-internal.h"

/* the names the stasis binary answers to as an OCI runtime (stasis-crun, stasis-runc) */
#define STASIS_RUNTIME_PREFIX "stasis-"
#define STASIS_RUNTIME_HINT "/usr/local/bin/stasis-crun"
#define STASIS_RUNC_HINT "/usr/local/bin/stasis-runc"
/* these files are a few KiB (Debian's commented containers.conf: 25 KiB); past this, not one */
#define ENGINE_CONF_MAX (4u << 20)
/* the runtime podman 4.3 runs when containers.conf names none (containers/common's default) */
#define PODMAN_DEFAULT_RUNTIME "crun"
/* runtime_supports_json when containers.conf sets none: containers/common's list, as Debian 12's
 * containers.conf shows it in a comment */
#define PODMAN_DEFAULT_JSON "crun", "runc", "kata", "runsc", "krun"

#define PODMAN_CONFS "/usr/share/containers/containers.conf", "/etc/containers/containers.conf"
#define PODMAN_CONF_DIR "/etc/containers/containers.conf.d"
#define CONTAINERD_CONF "/etc/containerd/config.toml"
#define CRIO_CONF "/etc/crio/crio.conf"
#define CRIO_CONF_DIR "/etc/crio/crio.conf.d"

/* one configuration file an engine reads, read */
struct conf {
	char *path; /* as the engine names it (without config_root) */
	struct toml_doc doc;
};

struct conf_list {
	struct conf *c;
	size_t n;
	char *problems; /* files that exist but could not be read: "`f`: line 3: ...; ..." */
};

static void conf_list_clear(struct conf_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->c[i].path);
		toml_doc_clear(&l->c[i].doc);
	}
	free(l->c);
	free(l->problems);
	*l = (struct conf_list){ 0 };
}
DEFINE_CLEANUP_CLEAR(struct conf_list, conf_list_clear)

/* *s += the formatted text, with sep before it when *s has text already */
__attribute__((format(printf, 3, 4))) static void appendf(char **s, const char *sep, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *more = xvasprintf(fmt, ap);
	va_end(ap);
	char *joined = *s ? xasprintf("%s%s%s", *s, sep, more) : xstrdup(more);
	free(*s);
	*s = joined;
}

/* path as seen under root (NULL or "/": the host) */
static char *under_root(const char *root, const char *path)
{
	if (!root || !*root || strcmp(root, "/") == 0)
		return xstrdup(path);
	size_t len = strlen(root);
	while (len > 1 && root[len - 1] == '/')
		len--;
	return xasprintf("%.*s%s", (int)len, root, path);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static bool is_stasis_binary(const char *path)
{
	return strncmp(base_name(path), STASIS_RUNTIME_PREFIX, strlen(STASIS_RUNTIME_PREFIX)) == 0;
}

static bool executable_under(const char *root, const char *path)
{
	cleanup_free char *p = under_root(root, path);
	return access(p, X_OK) == 0;
}

/* Reads path (under root) into l; a missing file is skipped unless must_exist. */
static void conf_read(struct conf_list *l, const char *root, const char *path, bool must_exist)
{
	cleanup_free char *real = under_root(root, path);
	cleanup_free char *text = NULL;
	struct stasis_error *e = NULL;
	int r = read_file_capped(real, ENGINE_CONF_MAX, &text, NULL, &e);
	struct toml_doc doc = { 0 };
	if (r == 0)
		r = toml_parse(text, path, &doc, &e);
	if (r < 0) {
		if (r != -ENOENT || must_exist)
			appendf(&l->problems, "; ", "%s", stasis_error_message(e));
		stasis_error_free(e);
		return;
	}
	l->c = xgrow(l->c, l->n, sizeof(*l->c));
	l->c[l->n++] = (struct conf){ .path = xstrdup(path), .doc = doc };
}

/* Reads dir/ *.conf (under root) into l in the order of their names, as podman and CRI-O do. */
static void conf_read_dir(struct conf_list *l, const char *root, const char *dir)
{
	cleanup_free char *real = under_root(root, dir);
	cleanup_closedir DIR *d = opendir(real);
	if (!d)
		return;
	cleanup_strv char **names = NULL;
	size_t n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] != '.' && len > strlen(".conf") &&
		    strcmp(de->d_name + len - strlen(".conf"), ".conf") == 0)
			strv_push(&names, &n, xasprintf("%s/%s", dir, de->d_name));
	}
	strv_sort(names, n);
	for (size_t i = 0; i < n; i++)
		conf_read(l, root, names[i], false);
}

/* "read `a`, `b`" or what says that no file was there */
static char *files_read(const struct conf_list *l, const char *none)
{
	if (!l->n)
		return xstrdup(none);
	char *s = xstrdup("read");
	for (size_t i = 0; i < l->n; i++)
		appendf(&s, i ? ", " : " ", "`%s`", l->c[i].path);
	return s;
}

/* ---- podman ------------------------------------------------------------------------------------ */

/* an [engine.runtimes] entry: its name and the paths podman tries, first existing one wins */
struct podman_runtime {
	char *name;
	char **paths;
};

/* what podman takes from its files: a later file replaces a value, and adds to or replaces
 * entries of [engine.runtimes] (containers/common decodes each file onto the same struct) */
struct podman_conf {
	char *runtime; /* [engine] runtime; NULL: podman's default */
	char **json;   /* [engine] runtime_supports_json; NULL: podman's own list */
	struct podman_runtime *rt;
	size_t n_rt;
};

static void podman_conf_clear(struct podman_conf *p)
{
	free(p->runtime);
	strv_freep(&p->json);
	for (size_t i = 0; i < p->n_rt; i++) {
		free(p->rt[i].name);
		strv_freep(&p->rt[i].paths);
	}
	free(p->rt);
	*p = (struct podman_conf){ 0 };
}
DEFINE_CLEANUP_CLEAR(struct podman_conf, podman_conf_clear)

static char **strv_dup(char *const *v)
{
	size_t n = 0;
	char **copy = xzalloc(sizeof(*copy));
	for (size_t i = 0; v && v[i]; i++)
		strv_push(&copy, &n, xstrdup(v[i]));
	return copy;
}

static void podman_take(struct podman_conf *p, const struct toml_entry *e)
{
	if (toml_table_is(e, TOML_PATH("engine")) && strcmp(e->key, "runtime") == 0 &&
	    e->kind == TOML_STRING) {
		free(p->runtime);
		p->runtime = xstrdup(e->string);
	} else if (toml_table_is(e, TOML_PATH("engine")) && strcmp(e->key, "runtime_supports_json") == 0 &&
		   e->kind == TOML_ARRAY) {
		strv_freep(&p->json);
		p->json = strv_dup(e->array);
	} else if (toml_table_is(e, TOML_PATH("engine", "runtimes")) && e->kind == TOML_ARRAY) {
		size_t i = 0;
		while (i < p->n_rt && strcmp(p->rt[i].name, e->key) != 0)
			i++;
		if (i == p->n_rt) {
			p->rt = xgrow(p->rt, p->n_rt, sizeof(*p->rt));
			p->rt[p->n_rt++] = (struct podman_runtime){ .name = xstrdup(e->key) };
		}
		strv_freep(&p->rt[i].paths);
		p->rt[i].paths = strv_dup(e->array);
	}
}

static bool runtime_uses_stasis(const struct podman_runtime *rt)
{
	for (size_t i = 0; rt->paths[i]; i++)
		if (is_stasis_binary(rt->paths[i]))
			return true;
	return false;
}

static const struct podman_runtime *podman_runtime_named(const struct podman_conf *p, const char *name)
{
	for (size_t i = 0; i < p->n_rt; i++)
		if (strcmp(p->rt[i].name, name) == 0)
			return &p->rt[i];
	return NULL;
}

/* "name (`path`)", with the path podman takes: the first of the list that exists */
static void describe_runtime(char **s, const char *root, const struct podman_runtime *rt)
{
	const char *taken = NULL;
	for (size_t i = 0; rt->paths[i] && !taken; i++)
		if (executable_under(root, rt->paths[i]))
			taken = rt->paths[i];
	if (!taken)
		appendf(s, ", ", "%s (none of its paths is an executable file here)", rt->name);
	else if (is_stasis_binary(taken))
		appendf(s, ", ", "%s (`%s`)", rt->name, taken);
	else
		appendf(s, ", ", "%s (podman takes `%s`, the first of its paths that exists, not stasis)",
			rt->name, taken);
}

/* podman passes --log-format=json --log FILE (through conmon, for create, restore, exec) only to a
 * runtime whose name is in runtime_supports_json; without it, a failed restore reaches podman only
 * as the one buffer of the runtime's stderr that conmon forwards */
static bool supports_json(const struct podman_conf *p, const char *name)
{
	static const char *const builtin[] = { PODMAN_DEFAULT_JSON };
	if (p->json)
		return strv_has(p->json, name);
	for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
		if (strcmp(builtin[i], name) == 0)
			return true;
	return false;
}

static void check_podman_json(struct stasis_report *r, const struct podman_conf *p, const char *name)
{
	if (supports_json(p, name))
		return;
	cleanup_free char *subject = xasprintf("podman runtime %s", name);
	cleanup_free char *fix =
		xasprintf("add \"%s\" to runtime_supports_json in [engine] of containers.conf "
			  "(docs/podman.md)",
			  name);
	report_addf(r, "engine-podman-json", STASIS_SEVERITY_INFO, subject, fix,
		    "%s is not in runtime_supports_json%s: podman passes it no --log, so a failed create or "
		    "restore reaches podman only as the part of its stderr that conmon forwards",
		    name, p->json ? "" : " (not set: podman's own list, crun, runc, kata, runsc, krun)");
}

static void check_podman(struct stasis_report *r, const char *root, const char *containers_conf)
{
	cleanup_with(conf_list_clear) struct conf_list l = { 0 };
	if (containers_conf) {
		/* podman reads $CONTAINERS_CONF alone, and refuses to run when it is missing */
		conf_read(&l, NULL, containers_conf, true);
	} else {
		static const char *const files[] = { PODMAN_CONFS };
		for (size_t i = 0; i < ARRAY_SIZE(files); i++)
			conf_read(&l, root, files[i], false);
		conf_read_dir(&l, root, PODMAN_CONF_DIR);
	}
	cleanup_with(podman_conf_clear) struct podman_conf p = { 0 };
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = 0; j < l.c[i].doc.n; j++)
			podman_take(&p, &l.c[i].doc.e[j]);

	const char *def = p.runtime ? p.runtime : PODMAN_DEFAULT_RUNTIME;
	/* a path as the runtime is run as it is, under its base name; a name is an [engine.runtimes]
	 * entry (or one of podman's built-in ones) */
	const struct podman_runtime *def_rt = def[0] == '/' ? NULL : podman_runtime_named(&p, def);
	bool def_stasis = def[0] == '/' ? is_stasis_binary(def) : def_rt && runtime_uses_stasis(def_rt);
	cleanup_free char *cause = xasprintf("default runtime %s%s%s", def, def_stasis ? " (stasis)" : "",
					     p.runtime ? "" : " (podman's default)");
	cleanup_free char *stasis_rts = NULL;
	for (size_t i = 0; i < p.n_rt; i++)
		if (runtime_uses_stasis(&p.rt[i]))
			describe_runtime(&stasis_rts, root, &p.rt[i]);
	if (def[0] != '/' && !def_rt && is_stasis_binary(def))
		appendf(&cause, " ", "(no [engine.runtimes] entry has that name: podman cannot find it)");
	if (stasis_rts)
		appendf(&cause, "; ", "runtimes that use stasis: %s", stasis_rts);
	else if (!def_stasis)
		appendf(&cause, "; ",
			"no runtime uses stasis (to use it: podman --runtime " STASIS_RUNTIME_HINT
			", or a runtime in containers.conf, see docs/podman.md)");
	cleanup_free char *read = files_read(&l, "no containers.conf");
	appendf(&cause, "; ", "%s", read);
	if (l.problems)
		appendf(&cause, "; ", "not read: %s", l.problems);
	report_add(r, "engine-podman", STASIS_SEVERITY_INFO, "podman", NULL, cause);

	if (def[0] == '/' && def_stasis)
		check_podman_json(r, &p, base_name(def));
	for (size_t i = 0; i < p.n_rt; i++)
		if (runtime_uses_stasis(&p.rt[i]))
			check_podman_json(r, &p, p.rt[i].name);
}

/* ---- containerd -------------------------------------------------------------------------------- */

/* the runtime a BinaryName belongs to: NAME of [...runtimes.NAME.options], else the whole table */
static char *containerd_runtime_name(const struct toml_entry *e)
{
	size_t n = 0;
	while (e->table[n])
		n++;
	if (n >= 3 && strcmp(e->table[n - 1], "options") == 0 && strcmp(e->table[n - 3], "runtimes") == 0)
		return xstrdup(e->table[n - 2]);
	cleanup_free char *table = toml_table_name(e);
	return xasprintf("[%s]", table);
}

static void check_containerd(struct stasis_report *r, const char *root)
{
	cleanup_with(conf_list_clear) struct conf_list l = { 0 };
	conf_read(&l, root, CONTAINERD_CONF, false);
	cleanup_free char *stasis_rts = NULL, *others = NULL;
	bool imports = false;
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = 0; j < l.c[i].doc.n; j++) {
			const struct toml_entry *e = &l.c[i].doc.e[j];
			if (!e->table[0] && strcmp(e->key, "imports") == 0)
				imports = true;
			if (strcmp(e->key, "BinaryName") != 0 || e->kind != TOML_STRING || !e->string[0])
				continue;
			cleanup_free char *name = containerd_runtime_name(e);
			if (!is_stasis_binary(e->string))
				appendf(&others, ", ", "%s runs `%s`", name, e->string);
			else if (executable_under(root, e->string))
				appendf(&stasis_rts, ", ", "%s runs `%s`", name, e->string);
			else
				appendf(&stasis_rts, ", ", "%s runs `%s` (not an executable file here)", name,
					e->string);
		}
	cleanup_free char *cause = NULL;
	if (stasis_rts)
		appendf(&cause, "; ", "runtimes that use stasis (BinaryName): %s", stasis_rts);
	else
		appendf(&cause, "; ",
			"no BinaryName names stasis (to use it: BinaryName = \"" STASIS_RUNC_HINT
			"\" in a runc runtime's options, or ctr run --runc-binary " STASIS_RUNC_HINT
			", see docs/podman.md)");
	if (others)
		appendf(&cause, "; ", "other runtimes: %s", others);
	cleanup_free char *read = files_read(&l, "no `" CONTAINERD_CONF "`");
	appendf(&cause, "; ", "%s", read);
	if (imports)
		appendf(&cause, "; ", "the files in its `imports` are not read");
	if (l.problems)
		appendf(&cause, "; ", "not read: %s", l.problems);
	report_add(r, "engine-containerd", STASIS_SEVERITY_INFO, "containerd", NULL, cause);
}

/* ---- CRI-O ------------------------------------------------------------------------------------- */

static void check_crio(struct stasis_report *r, const char *root)
{
	cleanup_with(conf_list_clear) struct conf_list l = { 0 };
	conf_read(&l, root, CRIO_CONF, false);
	conf_read_dir(&l, root, CRIO_CONF_DIR);
	/* handler name -> runtime_path, a later file's replacing an earlier one's */
	cleanup_strv char **names = NULL, **paths = NULL;
	size_t n_names = 0, n_paths = 0;
	const struct toml_entry *criu = NULL, *def = NULL;
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = 0; j < l.c[i].doc.n; j++) {
			const struct toml_entry *e = &l.c[i].doc.e[j];
			if (toml_table_is(e, TOML_PATH("crio", "runtime"))) {
				if (strcmp(e->key, "enable_criu_support") == 0)
					criu = e;
				else if (strcmp(e->key, "default_runtime") == 0 && e->kind == TOML_STRING)
					def = e;
				continue;
			}
			if (!toml_table_under(e, TOML_PATH("crio", "runtime", "runtimes")) || !e->table[3] ||
			    e->table[4] || strcmp(e->key, "runtime_path") != 0 || e->kind != TOML_STRING)
				continue;
			size_t k = 0;
			while (k < n_names && strcmp(names[k], e->table[3]) != 0)
				k++;
			if (k == n_names) {
				strv_push(&names, &n_names, xstrdup(e->table[3]));
				strv_push(&paths, &n_paths, xstrdup(e->string));
			} else {
				free(paths[k]);
				paths[k] = xstrdup(e->string);
			}
		}
	cleanup_free char *stasis_rts = NULL;
	for (size_t k = 0; k < n_names; k++)
		if (is_stasis_binary(paths[k]))
			appendf(&stasis_rts, ", ", "%s (`%s`%s)", names[k], paths[k],
				executable_under(root, paths[k]) ? "" : ", not an executable file here");
	cleanup_free char *cause = NULL;
	if (stasis_rts)
		appendf(&cause, "; ", "runtime handlers that use stasis: %s", stasis_rts);
	else
		appendf(&cause, "; ",
			"no runtime handler uses stasis (to use it: [crio.runtime.runtimes.NAME] with "
			"runtime_path = \"" STASIS_RUNC_HINT "\", see docs/podman.md)");
	if (def)
		appendf(&cause, "; ", "default_runtime %s", def->string);
	bool criu_on = criu && criu->kind == TOML_BOOL && criu->boolean;
	if (criu)
		appendf(&cause, "; ", "enable_criu_support = %s",
			criu->kind == TOML_BOOL ? (criu->boolean ? "true" : "false") : "(not a boolean)");
	cleanup_free char *read = files_read(&l, "no `" CRIO_CONF "` or `" CRIO_CONF_DIR "/*.conf`");
	appendf(&cause, "; ", "%s", read);
	if (l.problems)
		appendf(&cause, "; ", "not read: %s", l.problems);
	report_add(r, "engine-crio", STASIS_SEVERITY_INFO, "CRI-O", NULL, cause);
	if (stasis_rts && !criu_on)
		report_addf(r, "engine-crio-criu", STASIS_SEVERITY_INFO, "CRI-O",
			    "set enable_criu_support = true in [crio.runtime] (docs/podman.md)",
			    "enable_criu_support is %s: without it CRI-O does not checkpoint or restore "
			    "(crio.conf(5))",
			    criu ? "not true" : "not set (its default depends on CRI-O's version)");
}

int stasis_doctor_engines(const struct stasis_doctor_engines_opts *opts, struct stasis_report **ret,
			  struct stasis_error **err)
{
	struct stasis_doctor_engines_opts o;
	int rc = opts_copy(&o, sizeof(o), opts, "doctor", err);
	if (rc < 0)
		return rc;
	const char *containers_conf = o.containers_conf;
	if (!containers_conf) {
		/* podman's own override, as podman reads it (containers.conf(5)) */
		const char *env = getenv("CONTAINERS_CONF");
		containers_conf = env && *env ? env : NULL;
	}
	struct stasis_report *r = xzalloc(sizeof(*r));
	check_podman(r, o.config_root, containers_conf);
	check_containerd(r, o.config_root);
	check_crio(r, o.config_root);
	*ret = r;
	return 0;
}
