/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Our proto/rpc.proto against the rpc.proto Debian's criu package installs: every field we declare
 * that CRIU's file has must carry the same number, label and type; no number may mean another field.
 */
#include "unit/unit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc.pb-c.h"

#define SYSTEM_RPC_PROTO "/usr/include/criu/rpc.proto"

struct field {
	char msg[64], label[64], type[64], name[64];
	int number;
};

static struct field fields[512];
static size_t n_fields;

static void load(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[512], msg[64] = "";
	while (fgets(line, sizeof(line), f)) {
		char a[64], b[64], c[64];
		int num;
		if (sscanf(line, " message %63s", a) == 1) {
			snprintf(msg, sizeof(msg), "%s", a);
			continue;
		}
		if (sscanf(line, " %63s %63s %63s = %d", a, b, c, &num) == 4 &&
		    (!strcmp(a, "required") || !strcmp(a, "optional") || !strcmp(a, "repeated")) &&
		    n_fields < 512) {
			struct field *fl = &fields[n_fields++];
			snprintf(fl->msg, sizeof(fl->msg), "%s", msg);
			snprintf(fl->label, sizeof(fl->label), "%s", a);
			snprintf(fl->type, sizeof(fl->type), "%s", b);
			snprintf(fl->name, sizeof(fl->name), "%s", c);
			fl->number = num;
		}
	}
	fclose(f);
}

static const char *label_name(ProtobufCLabel l)
{
	switch (l) {
	case PROTOBUF_C_LABEL_REQUIRED:
		return "required";
	case PROTOBUF_C_LABEL_REPEATED:
		return "repeated";
	default:
		return "optional";
	}
}

/* "stasis_wire.criu_req" -> "criu_req": CRIU's file has no package, ours has one for C names only */
static const char *bare(const char *full)
{
	const char *dot = strrchr(full, '.');
	return dot ? dot + 1 : full;
}

static void type_name(const ProtobufCFieldDescriptor *fd, char *buf, size_t len)
{
	static const char *const scalars[] = {
		[PROTOBUF_C_TYPE_INT32] = "int32",	 [PROTOBUF_C_TYPE_SINT32] = "sint32",
		[PROTOBUF_C_TYPE_SFIXED32] = "sfixed32", [PROTOBUF_C_TYPE_INT64] = "int64",
		[PROTOBUF_C_TYPE_SINT64] = "sint64",	 [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
		[PROTOBUF_C_TYPE_UINT32] = "uint32",	 [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
		[PROTOBUF_C_TYPE_UINT64] = "uint64",	 [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
		[PROTOBUF_C_TYPE_FLOAT] = "float",	 [PROTOBUF_C_TYPE_DOUBLE] = "double",
		[PROTOBUF_C_TYPE_BOOL] = "bool",	 [PROTOBUF_C_TYPE_STRING] = "string",
		[PROTOBUF_C_TYPE_BYTES] = "bytes",
	};
	if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
		snprintf(buf, len, "%s", bare(((const ProtobufCMessageDescriptor *)fd->descriptor)->name));
	else if (fd->type == PROTOBUF_C_TYPE_ENUM)
		snprintf(buf, len, "%s", bare(((const ProtobufCEnumDescriptor *)fd->descriptor)->name));
	else
		snprintf(buf, len, "%s", scalars[fd->type]);
}

static size_t check_message(const ProtobufCMessageDescriptor *d)
{
	size_t matched = 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		for (size_t j = 0; j < n_fields; j++) {
			struct field *sys = &fields[j];
			if (strcmp(sys->msg, bare(d->name)))
				continue;
			if (sys->number == (int)fd->id && strcmp(sys->name, fd->name)) {
				fprintf(stderr, "%s: number %d is `%s` in CRIU, `%s` here\n", bare(d->name),
					sys->number, sys->name, fd->name);
				fail();
			}
			if (strcmp(sys->name, fd->name))
				continue;
			char ty[64];
			type_name(fd, ty, sizeof(ty));
			if (sys->number != (int)fd->id || strcmp(sys->type, ty) ||
			    strcmp(sys->label, label_name(fd->label))) {
				fprintf(stderr, "%s.%s: CRIU has %s %s = %d, we have %s %s = %u\n",
					bare(d->name), fd->name, sys->label, sys->type, sys->number,
					label_name(fd->label), ty, fd->id);
				fail();
			}
			matched++;
		}
	}
	return matched;
}

static void rpc_fields_match_criu(void **state)
{
	(void)state;
	if (access(SYSTEM_RPC_PROTO, R_OK) != 0) {
		if (getenv("STASIS_MUST_WORK"))
			fail_msg("%s missing (install Debian's criu package: make deps)", SYSTEM_RPC_PROTO);
		skip();
	}
	load(SYSTEM_RPC_PROTO);
	const ProtobufCMessageDescriptor *ours[] = {
		&stasis_wire__criu_req__descriptor,	  &stasis_wire__criu_resp__descriptor,
		&stasis_wire__criu_opts__descriptor,	  &stasis_wire__criu_notify__descriptor,
		&stasis_wire__criu_features__descriptor,  &stasis_wire__criu_version__descriptor,
		&stasis_wire__ext_mount_map__descriptor,  &stasis_wire__inherit_fd__descriptor,
		&stasis_wire__cgroup_root__descriptor,	  &stasis_wire__join_namespace__descriptor,
		&stasis_wire__criu_dump_resp__descriptor, &stasis_wire__criu_restore_resp__descriptor,
	};
	size_t matched = 0, declared = 0;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		matched += check_message(ours[i]);
		declared += ours[i]->n_fields;
	}
	/* only the 3.18+ fields (rwx check, unprivileged, images_dir, ...) may be absent from 3.17's file */
	assert_true(declared - matched <= 6);
	assert_true(matched > 70);
}

static void enum_values_match(void **state)
{
	(void)state;
	assert_int_equal(STASIS_WIRE__CRIU_REQ_TYPE__DUMP, 1);
	assert_int_equal(STASIS_WIRE__CRIU_REQ_TYPE__RESTORE, 2);
	assert_int_equal(STASIS_WIRE__CRIU_REQ_TYPE__CHECK, 3);
	assert_int_equal(STASIS_WIRE__CRIU_REQ_TYPE__PRE_DUMP, 4);
	assert_int_equal(STASIS_WIRE__CRIU_REQ_TYPE__NOTIFY, 6);
	assert_int_equal(STASIS_WIRE__CRIU_REQ_TYPE__FEATURE_CHECK, 9);
	assert_int_equal(STASIS_WIRE__CRIU_REQ_TYPE__VERSION, 10);
	assert_int_equal(STASIS_WIRE__CRIU_CG_MODE__SOFT, 3);
	assert_int_equal(STASIS_WIRE__CRIU_CG_MODE__DEFAULT, 6);
	assert_int_equal(STASIS_WIRE__CRIU_NETWORK_LOCK_METHOD__SKIP, 3);
}

static void version_request_bytes(void **state)
{
	(void)state;
	/* criu-wire.md: a VERSION request is 08 0a; a 4.1.1 reply decodes to 4.1.1 */
	StasisWire__CriuReq req = STASIS_WIRE__CRIU_REQ__INIT;
	req.type = STASIS_WIRE__CRIU_REQ_TYPE__VERSION;
	uint8_t buf[16];
	assert_int_equal(stasis_wire__criu_req__pack(&req, buf), 2);
	assert_int_equal(buf[0], 0x08);
	assert_int_equal(buf[1], 0x0a);
	const uint8_t reply[] = { 0x08, 0x0a, 0x10, 0x01, 0x52, 0x06, 0x08, 0x04, 0x10, 0x01, 0x20, 0x01 };
	StasisWire__CriuResp *resp = stasis_wire__criu_resp__unpack(NULL, sizeof(reply), reply);
	assert_non_null(resp);
	assert_true(resp->success);
	assert_int_equal(resp->version->major_number, 4);
	assert_int_equal(resp->version->minor_number, 1);
	assert_int_equal(resp->version->sublevel, 1);
	stasis_wire__criu_resp__free_unpacked(resp, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rpc_fields_match_criu),
		cmocka_unit_test(enum_values_match),
		cmocka_unit_test(version_request_bytes),
	};
	return cmocka_run_group_tests_name("proto-fields", tests, NULL, NULL);
}
