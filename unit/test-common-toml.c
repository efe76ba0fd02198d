/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TOML reader on the shapes the engines' files have, and on text it must refuse. */
#include "unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/toml.h"
#include "common/xalloc.h"

static struct toml_doc parse_ok(const char *text)
{
	struct toml_doc d = { 0 };
	struct stasis_error *err = NULL;
	int r = toml_parse(text, "t.toml", &d, &err);
	if (r < 0)
		fail_msg("%s", stasis_error_message(err));
	return d;
}

/* the message of a refused text */
static char *parse_bad(const char *text)
{
	struct toml_doc d = { 0 };
	struct stasis_error *err = NULL;
	assert_int_equal(toml_parse(text, "t.toml", &d, &err), -EBADMSG);
	assert_int_equal(d.n, 0);
	char *msg = strdup(stasis_error_message(err));
	stasis_error_free(err);
	return msg;
}

static const struct toml_entry *find(const struct toml_doc *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->e[i].key, key) == 0)
			return &d->e[i];
	fail_msg("no key %s", key);
	return NULL;
}

/* containers.conf as Debian ships it and as docs/podman.md says to change it */
static void containers_conf(void **state)
{
	(void)state;
	cleanup_with(toml_doc_clear) struct toml_doc d =
		parse_ok("# comment\n"
			 "[containers]\n"
			 "#runtime = \"runc\"\n"
			 "log_size_max = -1\n"
			 "\n"
			 "[engine]\n"
			 "  runtime = \"stasis-crun\"   # trailing comment\n"
			 "runtime_supports_json = [\"crun\", \"runc\", \"stasis-crun\",]\n"
			 "[engine.runtimes]\n"
			 "#crun = [\n"
			 "#  \"/usr/bin/crun\",\n"
			 "#]\n"
			 "stasis-crun = [\n"
			 "  \"/usr/local/bin/stasis-crun\",  # the shim\n"
			 "\n"
			 "  '/opt/stasis/bin/stasis-crun'\n"
			 "]\n"
			 "\"runc\" = [\"/usr/local/bin/stasis-runc\"]\n");
	assert_int_equal(d.n, 5);
	const struct toml_entry *e = find(&d, "log_size_max");
	assert_true(toml_table_is(e, TOML_PATH("containers")));
	assert_int_equal(e->kind, TOML_OTHER);
	assert_string_equal(e->string, "-1");
	e = find(&d, "runtime");
	assert_true(toml_table_is(e, TOML_PATH("engine")));
	assert_false(toml_table_is(e, TOML_PATH("engine", "runtimes")));
	assert_int_equal(e->kind, TOML_STRING);
	assert_string_equal(e->string, "stasis-crun");
	assert_int_equal(e->line, 7);
	e = find(&d, "runtime_supports_json");
	assert_int_equal(e->kind, TOML_ARRAY);
	assert_int_equal(strv_length(e->array), 3);
	assert_string_equal(e->array[2], "stasis-crun");
	e = find(&d, "stasis-crun");
	assert_true(toml_table_is(e, TOML_PATH("engine", "runtimes")));
	assert_true(toml_table_under(e, TOML_PATH("engine")));
	assert_int_equal(strv_length(e->array), 2);
	assert_string_equal(e->array[0], "/usr/local/bin/stasis-crun");
	assert_string_equal(e->array[1], "/opt/stasis/bin/stasis-crun");
	assert_int_equal(e->line, 13);
	e = find(&d, "runc");
	assert_int_equal(e->line, 18);
	assert_string_equal(e->array[0], "/usr/local/bin/stasis-runc");
}

/* containerd's quoted table names with dots in them; CRI-O's tables and booleans */
static void tables(void **state)
{
	(void)state;
	cleanup_with(toml_doc_clear) struct toml_doc d =
		parse_ok("version = 2\r\n"
			 "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\r\n"
			 "  BinaryName = \"/usr/local/bin/stasis-runc\"\r\n"
			 "  SystemdCgroup = true\r\n"
			 "[ crio . runtime ]\n"
			 "enable_criu_support = false\n"
			 "runtimes.stasis.runtime_path = \"/usr/local/bin/stasis-runc\"\n"
			 "[[crio.array]]\n"
			 "x = { a = 1, b = [\"s\", { c = 'd' }] }\n");
	const struct toml_entry *e = find(&d, "version");
	assert_non_null(e->table);
	assert_null(e->table[0]);
	assert_null(e->table[0]);
	e = find(&d, "BinaryName");
	assert_true(toml_table_is(e, TOML_PATH("plugins", "io.containerd.grpc.v1.cri", "containerd",
					       "runtimes", "runc", "options")));
	assert_string_equal(e->string, "/usr/local/bin/stasis-runc");
	char *name = toml_table_name(e);
	assert_string_equal(name, "plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options");
	free(name);
	e = find(&d, "SystemdCgroup");
	assert_int_equal(e->kind, TOML_BOOL);
	assert_true(e->boolean);
	e = find(&d, "enable_criu_support");
	assert_true(toml_table_is(e, TOML_PATH("crio", "runtime")));
	assert_int_equal(e->kind, TOML_BOOL);
	assert_false(e->boolean);
	/* a dotted key's leading parts belong to the table */
	e = find(&d, "runtime_path");
	assert_true(toml_table_is(e, TOML_PATH("crio", "runtime", "runtimes", "stasis")));
	e = find(&d, "x");
	assert_true(toml_table_is(e, TOML_PATH("crio", "array")));
	assert_int_equal(e->kind, TOML_OTHER);
	assert_string_equal(e->string, "{ a = 1, b = [\"s\", { c = 'd' }] }");
}

static void strings(void **state)
{
	(void)state;
	cleanup_with(toml_doc_clear) struct toml_doc d =
		parse_ok("esc = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600\"\n"
			 "lit = 'C:\\path\\n'\n"
			 "hash = \"a # not a comment\"\n"
			 "ml = \"\"\"\n"
			 "one\n"
			 "two \\\n"
			 "    three\"\"\"\n"
			 "mll = '''\n"
			 "raw \\n ''x'''''\n"
			 "empty = \"\"\n"
			 "date = 1979-05-27 07:32:00Z\n"
			 "after = 1\n");
	assert_string_equal(find(&d, "esc")->string, "tab\there \"q\" \\ \xc3\xa9 \xf0\x9f\x98\x80");
	assert_string_equal(find(&d, "lit")->string, "C:\\path\\n");
	assert_string_equal(find(&d, "hash")->string, "a # not a comment");
	assert_string_equal(find(&d, "ml")->string, "one\ntwo three");
	assert_string_equal(find(&d, "mll")->string, "raw \\n ''x''");
	assert_string_equal(find(&d, "empty")->string, "");
	assert_string_equal(find(&d, "date")->string, "1979-05-27 07:32:00Z");
	/* lines are counted through multi-line strings */
	assert_int_equal(find(&d, "after")->line, 12);
}

static void refused(void **state)
{
	(void)state;
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "a = \"open\n", "line 1: a string is not closed on its line" },
		{ "a = \"open", "line 1: a string is not closed" },
		{ "a = \"\"\"open\n\n", "line 3: a string is not closed" },
		{ "a = \"\\q\"", "unknown escape `\\q`" },
		{ "a = \"\\uD800\"", "no Unicode scalar value" },
		{ "a = \"\\u12\"", "needs 4 hex digits" },
		{ "[engine\nx = 1", "line 1: a table header is not closed with `]`" },
		{ "[[t]\n", "not closed with `]]`" },
		{ "\n\nkey\n", "line 3: expected `=` after the key `key`" },
		{ "= 1", "line 1: unexpected `=` where a key should be" },
		{ "a = ", "line 1: a value is missing" },
		{ "a = # no value", "a value is missing" },
		{ "a = 1 b = 2", "unexpected `=` after the value" },
		{ "a = \"x\" y", "unexpected `y` after the value" },
		{ "a = [\"x\"\n\"y\"]", "line 2: expected `,` or `]` in an array, not `\"`" },
		{ "a = [\n\"x\",\n", "line 3: an array is not closed" },
		{ "a = { b = 1 c = 2 }", "expected `,` or `}` in an inline table" },
		{ "a = {", "a key is missing" },
		{ "\"\"\"k\"\"\" = 1", "a key cannot be a multi-line string" },
		{ "a = \"\"\"x\"\"\"\"\"\"", "too many quotes" },
		{ "a = ~", "unexpected `~` where a value should be" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *msg = parse_bad(cases[i].text);
		if (!strstr(msg, cases[i].msg))
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].text, msg, cases[i].msg);
		assert_non_null(strstr(msg, "`t.toml`: line "));
		free(msg);
	}
}

/* arrays nested past the limit are refused, not recursed into until the stack ends */
static void depth(void **state)
{
	(void)state;
	size_t n = 10000;
	char *text = malloc(n + 8);
	memcpy(text, "a = ", 4);
	memset(text + 4, '[', n);
	text[4 + n] = '\0';
	char *msg = parse_bad(text);
	assert_non_null(strstr(msg, "nested deeper than"));
	free(msg);
	free(text);
	/* within the limit, fine */
	cleanup_with(toml_doc_clear) struct toml_doc d = parse_ok("a = [[[[\"x\"]]], \"y\"]\n");
	assert_int_equal(strv_length(d.e[0].array), 1);
	assert_string_equal(d.e[0].array[0], "y");
}

static void empty(void **state)
{
	(void)state;
	cleanup_with(toml_doc_clear) struct toml_doc d = parse_ok("");
	assert_int_equal(d.n, 0);
	cleanup_with(toml_doc_clear) struct toml_doc c = parse_ok("# only\n\n   # comments\n[t]\n");
	assert_int_equal(c.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(containers_conf), cmocka_unit_test(tables), cmocka_unit_test(strings),
		cmocka_unit_test(refused),	   cmocka_unit_test(depth),  cmocka_unit_test(empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
