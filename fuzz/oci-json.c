/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for every JSON reader stasis has: config.json, the runtime's state, the archive's
 * stasis.manifest, config.dump, bind.mounts, deleted.files, CRI-O's metadata annotation, the
 * spec rewrite of a restore, the restore policy and the device cgroup rules, all on the same input.  Any input must give a value or an error, never
 * a crash, a leak or undefined behaviour; and what the rewrite writes must be JSON again.
 */
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "oci/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a restore's rewrite: every kind of change, so that every path of the editor runs */
static void rewrite(const char *json, size_t len)
{
	static const struct oci_kv binds[] = { { "/data", "/new/data" }, { "/etc/hosts", "/new/hosts" } };
	static const char *const args[] = { "stasis", "hook", "loopback-up", NULL };
	const struct oci_spec_edit edits[] = {
		{
			.root_path = "/run/stasis/x/rootfs",
			.bind_sources = binds,
			.n_bind_sources = 2,
			.cgroups_path = "/stasis/x",
			.drop_hooks = true,
			.add_hook_path = "/usr/bin/stasis",
			.add_hook_args = args,
		},
		{ .add_hook_path = "/usr/bin/stasis" },
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *text = NULL;
		size_t text_len = 0;
		struct stasis_error *err = NULL;
		if (oci_spec_edit(json, len, "spec.dump", &edits[i], &text, &text_len, &err) == 0) {
			/* the rewrite of a document that parsed is a document that parses */
			struct oci_state *st = NULL;
			struct stasis_error *again = NULL;
			if (oci_state_parse(text, text_len, "edited", &st, &again) < 0 &&
			    strstr(stasis_error_message(again), "invalid JSON"))
				abort();
			oci_state_free(st);
			stasis_error_free(again);
			free(text);
		}
		stasis_error_free(err);
	}
}

/* the restore policy, trusted or not, with what images may say: JSON again, or a refusal */
static void police(const char *json, size_t len)
{
	const struct oci_policy policies[] = {
		{ .netns_path = "/run/stasis/x/netns" },
		{ .trust_archive = true,
		  .netns_path = "/run/stasis/x/netns",
		  .images_host_namespaces = CLONE_NEWPID,
		  .images_capabilities = ~UINT64_C(0),
		  .images_proc_sys_writable = true },
	};
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		char *text = NULL, *trusted = NULL;
		size_t text_len = 0;
		struct stasis_error *err = NULL;
		if (oci_policy_apply(json, len, "spec.dump", &policies[i], &text, &text_len, &trusted,
				     &err) == 0) {
			struct oci_state *st = NULL;
			struct stasis_error *again = NULL;
			if (oci_state_parse(text, text_len, "policed", &st, &again) < 0 &&
			    strstr(stasis_error_message(again), "invalid JSON"))
				abort();
			oci_state_free(st);
			stasis_error_free(again);
			free(text);
			free(trusted);
		}
		stasis_error_free(err);
	}
	struct oci_device_rule *rules = NULL;
	size_t n = 0;
	struct stasis_error *err = NULL;
	if (oci_device_cgroup_rules(json, len, "config.json", &rules, &n, &err) == 0)
		oci_device_rules_free(rules, n);
	stasis_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the readers take text: a NUL inside is refused, so give them a terminated copy */
	char *json = xmalloc(size + 1);
	memcpy(json, data, size);
	json[size] = '\0';
	struct stasis_error *err = NULL;

	struct oci_config *c = NULL;
	if (oci_config_parse(json, size, "config.json", &c, &err) == 0) {
		oci_config_namespace(c, "network");
		oci_config_annotation(c, "io.kubernetes.cri-o.Metadata");
		for (size_t i = 0; i < c->n_mounts; i++)
			oci_mount_is_bind(&c->mounts[i]);
		oci_config_free(c);
	}
	err = stasis_error_free(err);

	struct oci_state *st = NULL;
	if (oci_state_parse(json, size, "state.json", &st, &err) == 0)
		oci_state_free(st);
	err = stasis_error_free(err);

	struct oci_manifest *m = NULL;
	if (oci_manifest_parse(json, size, &m, &err) == 0) {
		oci_manifest_digest(m, "spec.dump");
		oci_manifest_free(m);
	}
	err = stasis_error_free(err);

	struct oci_config_dump *d = NULL;
	if (oci_config_dump_parse(json, size, &d, &err) == 0)
		oci_config_dump_free(d);
	err = stasis_error_free(err);

	struct oci_bind_mount *b = NULL;
	size_t n = 0;
	if (oci_bind_mounts_parse(json, size, &b, &n, &err) == 0)
		oci_bind_mounts_free(b, n);
	err = stasis_error_free(err);

	char **v = NULL;
	if (oci_string_array_parse(json, size, "deleted.files", &v, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
	}
	err = stasis_error_free(err);

	char *s = NULL;
	if (oci_json_member_string(json, size, "name", &s) == 0)
		free(s);

	rewrite(json, size);
	police(json, size);
	free(json);
	return 0;
}
