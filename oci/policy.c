/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a container restored from an archive's spec.dump may do on this host (docs/guarantees.md,
 * section 5): its own pid, mount, ipc, uts and network namespaces, never a host namespace the
 * archive names, at most the capabilities and devices container engines grant by default, and
 * runc's masked and read-only paths when the archive has none.  A pure function: spec.dump's text
 * and what CRIU's images say go in (CRIU restores capabilities and namespaces from the images,
 * not from spec.dump), the rewritten text or a refusal naming everything beyond the policy comes
 * out.
 */
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "oci/oci-internal.h"
#include "oci/oci.h"

/* every capability this kernel's headers name, for messages */
static const struct {
	const char *name;
	unsigned value;
} capabilities[] = {
	{ "CAP_CHOWN", CAP_CHOWN },
	{ "CAP_DAC_OVERRIDE", CAP_DAC_OVERRIDE },
	{ "CAP_DAC_READ_SEARCH", CAP_DAC_READ_SEARCH },
	{ "CAP_FOWNER", CAP_FOWNER },
	{ "CAP_FSETID", CAP_FSETID },
	{ "CAP_KILL", CAP_KILL },
	{ "CAP_SETGID", CAP_SETGID },
	{ "CAP_SETUID", CAP_SETUID },
	{ "CAP_SETPCAP", CAP_SETPCAP },
	{ "CAP_LINUX_IMMUTABLE", CAP_LINUX_IMMUTABLE },
	{ "CAP_NET_BIND_SERVICE", CAP_NET_BIND_SERVICE },
	{ "CAP_NET_BROADCAST", CAP_NET_BROADCAST },
	{ "CAP_NET_ADMIN", CAP_NET_ADMIN },
	{ "CAP_NET_RAW", CAP_NET_RAW },
	{ "CAP_IPC_LOCK", CAP_IPC_LOCK },
	{ "CAP_IPC_OWNER", CAP_IPC_OWNER },
	{ "CAP_SYS_MODULE", CAP_SYS_MODULE },
	{ "CAP_SYS_RAWIO", CAP_SYS_RAWIO },
	{ "CAP_SYS_CHROOT", CAP_SYS_CHROOT },
	{ "CAP_SYS_PTRACE", CAP_SYS_PTRACE },
	{ "CAP_SYS_PACCT", CAP_SYS_PACCT },
	{ "CAP_SYS_ADMIN", CAP_SYS_ADMIN },
	{ "CAP_SYS_BOOT", CAP_SYS_BOOT },
	{ "CAP_SYS_NICE", CAP_SYS_NICE },
	{ "CAP_SYS_RESOURCE", CAP_SYS_RESOURCE },
	{ "CAP_SYS_TIME", CAP_SYS_TIME },
	{ "CAP_SYS_TTY_CONFIG", CAP_SYS_TTY_CONFIG },
	{ "CAP_MKNOD", CAP_MKNOD },
	{ "CAP_LEASE", CAP_LEASE },
	{ "CAP_AUDIT_WRITE", CAP_AUDIT_WRITE },
	{ "CAP_AUDIT_CONTROL", CAP_AUDIT_CONTROL },
	{ "CAP_SETFCAP", CAP_SETFCAP },
	{ "CAP_MAC_OVERRIDE", CAP_MAC_OVERRIDE },
	{ "CAP_MAC_ADMIN", CAP_MAC_ADMIN },
	{ "CAP_SYSLOG", CAP_SYSLOG },
	{ "CAP_WAKE_ALARM", CAP_WAKE_ALARM },
	{ "CAP_BLOCK_SUSPEND", CAP_BLOCK_SUSPEND },
	{ "CAP_AUDIT_READ", CAP_AUDIT_READ },
	{ "CAP_PERFMON", CAP_PERFMON },
	{ "CAP_BPF", CAP_BPF },
	{ "CAP_CHECKPOINT_RESTORE", CAP_CHECKPOINT_RESTORE },
};

/*
 * The capabilities Docker grants a container by default (moby's oci/caps/defaults.go); podman's
 * default (containers-common's containers.conf default_capabilities) is this list or, since
 * podman 4.0, this list without CAP_MKNOD, CAP_NET_RAW and CAP_AUDIT_WRITE.
 */
static const unsigned default_capabilities[] = {
	CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FOWNER,  CAP_FSETID, CAP_KILL,	CAP_NET_BIND_SERVICE,
	CAP_SETFCAP, CAP_SETGID,       CAP_SETPCAP, CAP_SETUID, CAP_SYS_CHROOT, CAP_MKNOD,
	CAP_NET_RAW, CAP_AUDIT_WRITE,
};

/* A device number's minor that stands for all minors of its major. */
#define ANY_MINOR (-1)

/*
 * The character devices runc lets every container read and write whatever its config says
 * (libcontainer/specconv's AllowedDevices, runc 1.1 and current), plus /dev/console, which Docker
 * allows too.  runc also lets every container mknod any device ("c *:* m", "b *:* m"): a rule
 * that allows only mknod gives nothing more.
 */
static const struct {
	const char *path;
	long long major, minor;
} default_devices[] = {
	{ "/dev/null", 1, 3 },	     { "/dev/zero", 1, 5 },    { "/dev/full", 1, 7 },
	{ "/dev/random", 1, 8 },     { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
	{ "/dev/console", 5, 1 },    { "/dev/ptmx", 5, 2 },    { "/dev/pts/*", 136, ANY_MINOR },
	{ "/dev/net/tun", 10, 200 },
};

/* `runc spec`'s (runc 1.1.5): what a container sees of /proc and /sys unless it is privileged */
static const char *const default_masked_paths[] = {
	"/proc/acpi",	    "/proc/asound",	 "/proc/kcore",	      "/proc/keys",    "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
};
static const char *const default_readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* the namespaces a restored container always has of its own, in the order they are added */
static const char *const own_namespaces[] = { "pid", "network", "ipc", "uts", "mount" };

/* process.capabilities' sets, as the OCI spec names them */
static const char *const capability_sets[] = { "bounding", "effective", "inheritable", "permitted",
					       "ambient" };

static const char *capability_name(unsigned value)
{
	for (size_t i = 0; i < ARRAY_SIZE(capabilities); i++)
		if (capabilities[i].value == value)
			return capabilities[i].name;
	return NULL;
}

static bool capability_is_default(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(default_capabilities); i++)
		if (strcmp(capability_name(default_capabilities[i]), name) == 0)
			return true;
	return false;
}

uint64_t oci_policy_default_capabilities(void)
{
	uint64_t mask = 0;
	for (size_t i = 0; i < ARRAY_SIZE(default_capabilities); i++)
		mask |= UINT64_C(1) << default_capabilities[i];
	return mask;
}

/* One capability beyond the default and where the archive asks for it. */
struct extra_capability {
	char *name;
	char *where;
};

/* What the archive asks beyond the policy, as message parts. */
struct excess {
	struct extra_capability *caps;
	size_t n_caps;
	char **items; /* devices, device rules, what of the host the images hold */
	size_t n_items;
	char *never; /* what no option allows: a host user namespace */
};

static void excess_clear(struct excess *x)
{
	for (size_t i = 0; i < x->n_caps; i++) {
		free(x->caps[i].name);
		free(x->caps[i].where);
	}
	free(x->caps);
	strv_freep(&x->items);
	free(x->never);
}
DEFINE_CLEANUP_CLEAR(struct excess, excess_clear)

static void add_capability(struct excess *x, const char *name, const char *where)
{
	for (size_t i = 0; i < x->n_caps; i++) {
		if (strcmp(x->caps[i].name, name) != 0)
			continue;
		char *w = xasprintf("%s, %s", x->caps[i].where, where);
		free(x->caps[i].where);
		x->caps[i].where = w;
		return;
	}
	x->caps = xgrow(x->caps, x->n_caps, sizeof(*x->caps));
	x->caps[x->n_caps++] = (struct extra_capability){ xstrdup(name), xstrdup(where) };
}

static void add_item(struct excess *x, char *item)
{
	strv_push(&x->items, &x->n_items, item);
}

static int check_capabilities(struct oci_json_ctx *jc, yajl_val spec, const struct oci_policy *p,
			      struct excess *x)
{
	yajl_val caps = oci_json_child(oci_json_child(spec, "process"), "capabilities");
	if (caps && !YAJL_IS_OBJECT(caps))
		return oci_json_type_error(jc, ".process.capabilities", "object");
	for (size_t s = 0; caps && s < ARRAY_SIZE(capability_sets); s++) {
		yajl_val set = oci_json_child(caps, capability_sets[s]);
		if (set && !YAJL_IS_ARRAY(set)) {
			cleanup_free char *where = xasprintf(".process.capabilities.%s", capability_sets[s]);
			return oci_json_type_error(jc, where, "array");
		}
		for (size_t i = 0; set && i < set->u.array.len; i++) {
			const char *name = YAJL_GET_STRING(set->u.array.values[i]);
			if (!name) {
				cleanup_free char *where =
					xasprintf(".process.capabilities.%s[%zu]", capability_sets[s], i);
				return oci_json_type_error(jc, where, "string");
			}
			if (!capability_is_default(name))
				add_capability(x, name, capability_sets[s]);
		}
	}
	/* CRIU gives each thread back the capability sets the images hold, whatever spec.dump says */
	uint64_t extra = p->images_capabilities & ~oci_policy_default_capabilities();
	for (unsigned c = 0; c < 64; c++) {
		if (!(extra & (UINT64_C(1) << c)))
			continue;
		const char *name = capability_name(c);
		cleanup_free char *unknown = name ? NULL : xasprintf("capability %u", c);
		add_capability(x, name ? name : unknown, "the images' threads");
	}
	if (p->images_capabilities_above_63)
		add_capability(x, "capabilities above 63", "the images' threads");
	return 0;
}

/* obj.key when it is an integer; false when absent (a wildcard, in a device rule) or not one */
static bool get_integer(yajl_val obj, const char *key, long long *ret)
{
	yajl_val v = oci_json_child(obj, key);
	if (!v || !YAJL_IS_INTEGER(v))
		return false;
	*ret = YAJL_GET_INTEGER(v);
	return true;
}

static bool is_default_device(const char *type, bool has_major, long long major, bool has_minor,
			      long long minor)
{
	/* "u" is an unbuffered character device: the same device numbers as "c" */
	if (!type || (strcmp(type, "c") != 0 && strcmp(type, "u") != 0) || !has_major)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
		if (default_devices[i].major != major)
			continue;
		if (default_devices[i].minor == ANY_MINOR || (has_minor && default_devices[i].minor == minor))
			return true;
	}
	return false;
}

static char *device_number(bool has, long long v)
{
	return has ? xasprintf("%lld", v) : xstrdup("*");
}

/* what an OCI device node (.linux.devices) or rule (.linux.resources.devices) names */
struct device_fields {
	const char *type, *access, *path; /* NULL when absent */
	bool has_major, has_minor;	  /* false: any (absent, or a rule's negative number) */
	long long major, minor;
};

static struct device_fields device_fields_of(yajl_val d, bool rule)
{
	struct device_fields f = {
		.type = YAJL_GET_STRING(oci_json_child(d, "type")),
		.access = YAJL_GET_STRING(oci_json_child(d, "access")),
		.path = YAJL_GET_STRING(oci_json_child(d, "path")),
	};
	f.has_major = get_integer(d, "major", &f.major) && (!rule || f.major >= 0);
	f.has_minor = get_integer(d, "minor", &f.minor) && (!rule || f.minor >= 0);
	return f;
}

static int check_devices(struct oci_json_ctx *jc, yajl_val spec, struct excess *x)
{
	yajl_val linux_ = oci_json_child(spec, "linux");
	yajl_val devs = oci_json_child(linux_, "devices");
	if (devs && !YAJL_IS_ARRAY(devs))
		return oci_json_type_error(jc, ".linux.devices", "array");
	for (size_t i = 0; devs && i < devs->u.array.len; i++) {
		struct device_fields f = device_fields_of(devs->u.array.values[i], false);
		/* a fifo is no device; runc lets the container use every node it makes */
		if ((f.type && strcmp(f.type, "p") == 0) ||
		    is_default_device(f.type, f.has_major, f.major, f.has_minor, f.minor))
			continue;
		cleanup_free char *ma = device_number(f.has_major, f.major),
				  *mi = device_number(f.has_minor, f.minor);
		add_item(x, xasprintf("device `%s` (%s %s:%s, .linux.devices[%zu])", f.path ? f.path : "?",
				      f.type ? f.type : "?", ma, mi, i));
	}
	yajl_val rules = oci_json_child(oci_json_child(linux_, "resources"), "devices");
	if (rules && !YAJL_IS_ARRAY(rules))
		return oci_json_type_error(jc, ".linux.resources.devices", "array");
	for (size_t i = 0; rules && i < rules->u.array.len; i++) {
		yajl_val r = rules->u.array.values[i];
		if (!YAJL_IS_TRUE(oci_json_child(r, "allow")))
			continue;
		/* the spec's defaults: all types, all numbers, "rwm" */
		struct device_fields f = device_fields_of(r, true);
		const char *access = f.access ? f.access : "rwm";
		if (access[0] && strspn(access, "m") == strlen(access))
			continue;
		if (is_default_device(f.type, f.has_major, f.major, f.has_minor, f.minor))
			continue;
		cleanup_free char *ma = device_number(f.has_major, f.major),
				  *mi = device_number(f.has_minor, f.minor);
		add_item(x, xasprintf("device rule `%s %s:%s %s` (.linux.resources.devices[%zu])",
				      f.type ? f.type : "a", ma, mi, access, i));
	}
	return 0;
}

static bool keeps_host_namespace(const struct oci_policy *p, const char *type)
{
	int flag = strcmp(type, "pid") == 0 ? CLONE_NEWPID : strcmp(type, "mount") == 0 ? CLONE_NEWNS : 0;
	return flag && (p->images_host_namespaces & flag) && p->trust_archive;
}

static int check_namespaces_and_mounts(struct oci_json_ctx *jc, yajl_val spec, const struct oci_policy *p,
				       struct excess *x)
{
	yajl_val ns = oci_json_child(oci_json_child(spec, "linux"), "namespaces");
	if (ns && !YAJL_IS_ARRAY(ns))
		return oci_json_type_error(jc, ".linux.namespaces", "array");
	bool net_needed = true;
	for (size_t i = 0; ns && i < ns->u.array.len; i++) {
		yajl_val n = ns->u.array.values[i];
		const char *type = YAJL_GET_STRING(oci_json_child(n, "type"));
		const char *path = YAJL_GET_STRING(oci_json_child(n, "path"));
		if (!type) {
			cleanup_free char *where = xasprintf(".linux.namespaces[%zu].type", i);
			return oci_json_type_error(jc, where, "string");
		}
		if (strcmp(type, "network") == 0 && !path)
			net_needed = false;
		if (strcmp(type, "user") == 0 && path && !x->never)
			x->never = xasprintf("the user namespace `%s` (.linux.namespaces[%zu])", path, i);
	}
	if (net_needed && !p->netns_path)
		return error_setx(jc->err, EINVAL,
				  "%s has no network namespace of its own, and none was given to join",
				  jc->name);
	/* CRIU restores these in its own namespaces (the host's) when the images say so: no new one */
	static const struct {
		int flag;
		const char *what;
	} host[] = {
		{ CLONE_NEWPID, "the host's pid namespace (the images' processes shared it, and CRIU "
				"restores them only in its own)" },
		{ CLONE_NEWNS, "the host's mount namespace (the images' processes shared it, and CRIU "
			       "restores them only in its own)" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(host); i++)
		if (p->images_host_namespaces & host[i].flag)
			add_item(x, xstrdup(host[i].what));
	/* the mount tree too is the images': runc's read-only paths in config.json do not reach it */
	if (p->images_proc_sys_writable)
		add_item(x, xstrdup("a writable /proc/sys (the images' mount tree, which CRIU restores as it "
				    "was; runc mounts it read-only)"));
	return 0;
}

/* the refusal, or with trust_archive what it let through (*ret_trusted, NULL when nothing) */
static int refuse(struct oci_json_ctx *jc, const struct oci_policy *p, const struct excess *x,
		  char **ret_trusted)
{
	if (x->never)
		return error_setx(
			jc->err, EPERM,
			"%s names %s: an archive never chooses a host namespace (give opts.bundle with "
			"a config.json of your own)",
			jc->name, x->never);
	if (!x->n_caps && !x->n_items)
		return 0;
	cleanup_free char *list = xstrdup("");
	for (size_t i = 0; i < x->n_caps + x->n_items; i++) {
		char *part = i < x->n_caps ? xasprintf("%s (%s)", x->caps[i].name, x->caps[i].where)
					   : xstrdup(x->items[i - x->n_caps]);
		char *l = xasprintf("%s%s%s", list, i ? ", " : "", part);
		free(part);
		free(list);
		list = l;
	}
	if (p->trust_archive) {
		if (ret_trusted)
			*ret_trusted = TAKE_PTR(list);
		return 0;
	}
	return error_setx(jc->err, EPERM,
			  "the archive asks for more than a restore gives by default: %s; allow it with "
			  "opts.trust_archive, or give opts.bundle with a config.json of your own",
			  list);
}

static void gen_strings(yajl_gen g, const char *key, const char *const *v, size_t n)
{
	oci_json_gen_string(g, key);
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++)
		oci_json_gen_string(g, v[i]);
	yajl_gen_array_close(g);
}

static void gen_namespace(yajl_gen g, const char *type, const char *path)
{
	yajl_gen_map_open(g);
	oci_json_gen_string(g, "type");
	oci_json_gen_string(g, type);
	if (path) {
		oci_json_gen_string(g, "path");
		oci_json_gen_string(g, path);
	}
	yajl_gen_map_close(g);
}

/* .linux.namespaces: the archive's entries with host paths dropped or replaced, then what is missing */
static void gen_namespaces(yajl_gen g, yajl_val ns, const struct oci_policy *p)
{
	bool seen[ARRAY_SIZE(own_namespaces)] = { false };
	oci_json_gen_string(g, "namespaces");
	yajl_gen_array_open(g);
	for (size_t i = 0; ns && i < ns->u.array.len; i++) {
		yajl_val n = ns->u.array.values[i];
		const char *type = YAJL_GET_STRING(oci_json_child(n, "type"));
		size_t own = 0;
		while (own < ARRAY_SIZE(own_namespaces) && strcmp(own_namespaces[own], type) != 0)
			own++;
		if (own == ARRAY_SIZE(own_namespaces) || keeps_host_namespace(p, type)) {
			if (own < ARRAY_SIZE(own_namespaces))
				seen[own] = true;
			oci_json_gen_tree(g, n);
			continue;
		}
		seen[own] = true;
		/* a network namespace the container owned comes back from the images; any other is ours */
		const char *path = NULL;
		if (strcmp(type, "network") == 0 && YAJL_GET_STRING(oci_json_child(n, "path")))
			path = p->netns_path;
		yajl_gen_map_open(g);
		for (size_t k = 0; k < n->u.object.len; k++) {
			if (strcmp(n->u.object.keys[k], "path") == 0)
				continue;
			oci_json_gen_string(g, n->u.object.keys[k]);
			oci_json_gen_tree(g, n->u.object.values[k]);
		}
		if (path) {
			oci_json_gen_string(g, "path");
			oci_json_gen_string(g, path);
		}
		yajl_gen_map_close(g);
	}
	for (size_t own = 0; own < ARRAY_SIZE(own_namespaces); own++)
		if (!seen[own] && !keeps_host_namespace(p, own_namespaces[own]))
			gen_namespace(g, own_namespaces[own],
				      strcmp(own_namespaces[own], "network") == 0 ? p->netns_path : NULL);
	yajl_gen_array_close(g);
}

/* an absent or empty list: a privileged container's, which sees all of /proc and /sys */
static bool no_paths(yajl_val v)
{
	return !v || (YAJL_IS_ARRAY(v) && v->u.array.len == 0);
}

static void gen_linux(yajl_gen g, yajl_val linux_, const struct oci_policy *p)
{
	yajl_gen_map_open(g);
	for (size_t i = 0; linux_ && i < linux_->u.object.len; i++) {
		const char *key = linux_->u.object.keys[i];
		yajl_val v = linux_->u.object.values[i];
		if (strcmp(key, "namespaces") == 0 || (strcmp(key, "maskedPaths") == 0 && no_paths(v)) ||
		    (strcmp(key, "readonlyPaths") == 0 && no_paths(v)))
			continue;
		oci_json_gen_string(g, key);
		oci_json_gen_tree(g, v);
	}
	gen_namespaces(g, oci_json_child(linux_, "namespaces"), p);
	if (no_paths(oci_json_child(linux_, "maskedPaths")))
		gen_strings(g, "maskedPaths", default_masked_paths, ARRAY_SIZE(default_masked_paths));
	if (no_paths(oci_json_child(linux_, "readonlyPaths")))
		gen_strings(g, "readonlyPaths", default_readonly_paths, ARRAY_SIZE(default_readonly_paths));
	yajl_gen_map_close(g);
}

int oci_policy_apply(const char *json, size_t len, const char *name, const struct oci_policy *p, char **ret,
		     size_t *ret_len, char **ret_trusted, struct stasis_error **err)
{
	struct oci_json_ctx jc = { .name = name, .err = err };
	yajl_val tree = NULL;
	int r = oci_json_parse(&jc, json, len, &tree);
	if (r < 0)
		return r;
	cleanup_with(excess_clear) struct excess x = { 0 };
	cleanup_free char *trusted = NULL;
	yajl_val linux_ = oci_json_child(tree, "linux");
	if (!YAJL_IS_OBJECT(tree))
		r = oci_json_type_error(&jc, ".", "object");
	else if (linux_ && !YAJL_IS_OBJECT(linux_))
		r = oci_json_type_error(&jc, ".linux", "object");
	if (r == 0 && (r = check_namespaces_and_mounts(&jc, tree, p, &x)) == 0 &&
	    (r = check_capabilities(&jc, tree, p, &x)) == 0 && (r = check_devices(&jc, tree, &x)) == 0)
		r = refuse(&jc, p, &x, &trusted);
	if (r < 0) {
		yajl_tree_free(tree);
		return r;
	}
	yajl_gen g = oci_json_gen_new();
	yajl_gen_map_open(g);
	for (size_t i = 0; i < tree->u.object.len; i++) {
		oci_json_gen_string(g, tree->u.object.keys[i]);
		if (strcmp(tree->u.object.keys[i], "linux") == 0)
			gen_linux(g, linux_, p);
		else
			oci_json_gen_tree(g, tree->u.object.values[i]);
	}
	if (!linux_) {
		oci_json_gen_string(g, "linux");
		gen_linux(g, NULL, p);
	}
	yajl_gen_map_close(g);
	yajl_tree_free(tree);
	*ret = oci_json_gen_finish(g, ret_len);
	if (ret_trusted)
		*ret_trusted = TAKE_PTR(trusted);
	return 0;
}

static void push_rule(struct oci_device_rule **v, size_t *n, bool allow, char *rule)
{
	*v = xgrow(*v, *n, sizeof(**v));
	(*v)[(*n)++] = (struct oci_device_rule){ allow, rule };
}

/* "c 1:3 rwm" from an OCI device rule or node; -EINVAL for what the device cgroup cannot take */
static int device_rule(struct oci_json_ctx *jc, yajl_val d, const char *where, const char *default_access,
		       char **ret)
{
	struct device_fields f = device_fields_of(d, true);
	const char *type = f.type, *access = f.access;
	if (!type)
		type = "a";
	else if (strcmp(type, "u") == 0)
		type = "c"; /* an unbuffered character device is a character device to the cgroup */
	if (!access)
		access = default_access;
	if (strlen(type) != 1 || !strchr("abc", type[0]) || !access[0] ||
	    strspn(access, "rwm") != strlen(access))
		return error_setx(jc->err, EINVAL, "%s: %s: type `%s`, access `%s`: not a device rule",
				  jc->name, where, type, access);
	cleanup_free char *ma = device_number(f.has_major, f.major),
			  *mi = device_number(f.has_minor, f.minor);
	*ret = xasprintf("%s %s:%s %s", type, ma, mi, access);
	return 0;
}

int oci_device_cgroup_rules(const char *json, size_t len, const char *name, struct oci_device_rule **ret,
			    size_t *ret_n, struct stasis_error **err)
{
	struct oci_json_ctx jc = { .name = name, .err = err };
	yajl_val tree = NULL;
	int r = oci_json_parse(&jc, json, len, &tree);
	if (r < 0)
		return r;
	struct oci_device_rule *v = NULL;
	size_t n = 0;
	push_rule(&v, &n, false, xstrdup("a *:* rwm"));
	yajl_val linux_ = oci_json_child(tree, "linux");
	yajl_val rules = oci_json_child(oci_json_child(linux_, "resources"), "devices");
	yajl_val nodes = oci_json_child(linux_, "devices");
	for (size_t i = 0; r == 0 && YAJL_IS_ARRAY(rules) && i < rules->u.array.len; i++) {
		yajl_val d = rules->u.array.values[i];
		cleanup_free char *where = xasprintf(".linux.resources.devices[%zu]", i);
		char *rule = NULL;
		if ((r = device_rule(&jc, d, where, "rwm", &rule)) == 0)
			push_rule(&v, &n, YAJL_IS_TRUE(oci_json_child(d, "allow")), rule);
	}
	/* runc lets the container use each node its config makes; a fifo is no device */
	for (size_t i = 0; r == 0 && YAJL_IS_ARRAY(nodes) && i < nodes->u.array.len; i++) {
		yajl_val d = nodes->u.array.values[i];
		const char *type = YAJL_GET_STRING(oci_json_child(d, "type"));
		if (type && strcmp(type, "p") == 0)
			continue;
		cleanup_free char *where = xasprintf(".linux.devices[%zu]", i);
		char *rule = NULL;
		if ((r = device_rule(&jc, d, where, "rwm", &rule)) == 0)
			push_rule(&v, &n, true, rule);
	}
	yajl_tree_free(tree);
	if (r < 0) {
		oci_device_rules_free(v, n);
		return r;
	}
	push_rule(&v, &n, true, xstrdup("c *:* m"));
	push_rule(&v, &n, true, xstrdup("b *:* m"));
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
		cleanup_free char *mi =
			device_number(default_devices[i].minor != ANY_MINOR, default_devices[i].minor);
		push_rule(&v, &n, true, xasprintf("c %lld:%s rwm", default_devices[i].major, mi));
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void oci_device_rules_free(struct oci_device_rule *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].rule);
	free(v);
}
