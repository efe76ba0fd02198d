/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The configuration files this reads are root's (/etc, /usr/share), but a reader of files is a
 * parser of input all the same: every path through it ends in an entry or an error, never past
 * the end of the text (fuzz/toml.c).
 */
#include "common/toml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"

/* arrays and inline tables nested deeper than this are no configuration; the limit keeps a file
 * from running the recursive reader out of stack */
#define TOML_MAX_DEPTH 32
/* the largest Unicode scalar value and the surrogates, which \u escapes may not name */
#define UNICODE_MAX 0x10FFFFu
#define SURROGATE_FIRST 0xD800u
#define SURROGATE_LAST 0xDFFFu

struct scan {
	const char *p;
	unsigned int line;
	const char *what;
	struct stasis_error **err;
};

/* a string that grows a byte at a time, always NUL-terminated once it has a byte */
struct buf {
	char *s;
	size_t n;
};

/* a value while it is read */
struct value {
	enum toml_kind kind;
	char *string;
	bool boolean;
	char **array;
	size_t n_array;
};

static void buf_add(struct buf *b, char c)
{
	b->s = xgrow(b->s, b->n + 1, 1);
	b->s[b->n++] = c;
	b->s[b->n] = '\0';
}

static char *buf_take(struct buf *b)
{
	if (!b->s)
		return xstrdup("");
	return TAKE_PTR(b->s);
}

static void value_clear(struct value *v)
{
	free(v->string);
	strv_freep(&v->array);
	*v = (struct value){ 0 };
}

__attribute__((format(printf, 2, 3))) static int fail(struct scan *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return error_setx(s->err, EBADMSG, "`%s`: line %u: %s", s->what, s->line, msg);
}

/* what stands where something (a key, a value) should be */
static int unexpected(struct scan *s, const char *something)
{
	char c = *s->p;
	if (c == '\0' || c == '\n' || c == '\r' || c == '#')
		return fail(s, "%s is missing", something);
	return fail(s, "unexpected `%c` where %s should be", c, something);
}

static void skip_space(struct scan *s)
{
	while (*s->p == ' ' || *s->p == '\t')
		s->p++;
}

static void skip_comment(struct scan *s)
{
	if (*s->p == '#')
		s->p += strcspn(s->p, "\n");
}

/* a newline, "\n" or "\r\n": true and past it */
static bool take_newline(struct scan *s)
{
	if (s->p[0] == '\n' || (s->p[0] == '\r' && s->p[1] == '\n')) {
		s->p += s->p[0] == '\r' ? 2 : 1;
		s->line++;
		return true;
	}
	return false;
}

/* spaces, comments and newlines: between the members of an array or an inline table */
static void skip_blank(struct scan *s)
{
	for (;;) {
		skip_space(s);
		skip_comment(s);
		if (!take_newline(s))
			return;
	}
}

/* what ends a statement: spaces, a comment, then a newline or the end of the text */
static int end_of_line(struct scan *s)
{
	skip_space(s);
	skip_comment(s);
	if (*s->p == '\0' || take_newline(s))
		return 0;
	return fail(s, "unexpected `%c` after the value", *s->p);
}

static void put_utf8(struct buf *b, uint32_t cp)
{
	if (cp < 0x80) {
		buf_add(b, (char)cp);
	} else if (cp < 0x800) {
		buf_add(b, (char)(0xC0 | (cp >> 6)));
		buf_add(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		buf_add(b, (char)(0xE0 | (cp >> 12)));
		buf_add(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		buf_add(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		buf_add(b, (char)(0xF0 | (cp >> 18)));
		buf_add(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
		buf_add(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		buf_add(b, (char)(0x80 | (cp & 0x3F)));
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* one escape of a basic string, s->p just past the backslash */
static int take_escape(struct scan *s, struct buf *b)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	char c = *s->p;
	const char *hit = c ? strchr(from, c) : NULL;
	if (hit) {
		buf_add(b, to[hit - from]);
		s->p++;
		return 0;
	}
	if (c == '\0')
		return fail(s, "a string is not closed");
	if (c != 'u' && c != 'U')
		return fail(s, "unknown escape `\\%c`", c);
	int digits = c == 'u' ? 4 : 8;
	uint32_t cp = 0;
	s->p++;
	for (int i = 0; i < digits; i++) {
		int d = hex_digit(s->p[i]);
		if (d < 0)
			return fail(s, "`\\%c` needs %d hex digits", c, digits);
		cp = cp << 4 | (uint32_t)d;
	}
	if (cp > UNICODE_MAX || (cp >= SURROGATE_FIRST && cp <= SURROGATE_LAST))
		return fail(s, "`\\%c%.*s` is no Unicode scalar value", c, digits, s->p);
	s->p += digits;
	put_utf8(b, cp);
	return 0;
}

/*
 * A string, s->p at its opening quote: "basic", 'literal', """multi-line basic""" or '''multi-line
 * literal'''.  Single-line strings end at their line.
 */
static int take_string(struct scan *s, char **ret)
{
	char quote = *s->p;
	bool multi = s->p[1] == quote && s->p[2] == quote;
	struct buf b = { 0 };
	int r = 0;
	s->p += multi ? 3 : 1;
	/* a newline right after the opening delimiter is not part of a multi-line string */
	if (multi)
		(void)take_newline(s);
	for (;;) {
		char c = *s->p;
		if (c == '\0') {
			r = fail(s, "a string is not closed");
			break;
		}
		if (c == quote) {
			if (!multi) {
				s->p++;
				break;
			}
			size_t run = strspn(s->p, quote == '"' ? "\"" : "'");
			if (run >= 3) {
				/* up to two quotes before the closing three belong to the string */
				if (run > 5) {
					r = fail(s, "too many quotes at the end of a string");
					break;
				}
				for (size_t i = 3; i < run; i++)
					buf_add(&b, quote);
				s->p += run;
				break;
			}
			for (size_t i = 0; i < run; i++)
				buf_add(&b, quote);
			s->p += run;
			continue;
		}
		if (c == '\n' || (c == '\r' && s->p[1] == '\n')) {
			if (!multi) {
				r = fail(s, "a string is not closed on its line");
				break;
			}
			(void)take_newline(s);
			buf_add(&b, '\n');
			continue;
		}
		if (c == '\\' && quote == '"') {
			s->p++;
			/* a backslash ending a line of a multi-line string joins it to the next
			 * non-blank text */
			const char *q = s->p + strspn(s->p, " \t");
			if (multi && (*q == '\n' || (q[0] == '\r' && q[1] == '\n'))) {
				s->p = q;
				for (;;) {
					if (*s->p == ' ' || *s->p == '\t')
						s->p++;
					else if (!take_newline(s))
						break;
				}
				continue;
			}
			if ((r = take_escape(s, &b)) < 0)
				break;
			continue;
		}
		buf_add(&b, c);
		s->p++;
	}
	if (r < 0) {
		free(b.s);
		return r;
	}
	*ret = buf_take(&b);
	return 0;
}

static bool bare_key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-';
}

/* a dotted key, s->p at its first part: its parts appended to *parts */
static int take_key(struct scan *s, char ***parts, size_t *n)
{
	for (;;) {
		skip_space(s);
		char *part = NULL;
		if (*s->p == '"' || *s->p == '\'') {
			if (s->p[1] == *s->p && s->p[2] == *s->p)
				return fail(s, "a key cannot be a multi-line string");
			int r = take_string(s, &part);
			if (r < 0)
				return r;
		} else {
			size_t len = 0;
			while (bare_key_char(s->p[len]))
				len++;
			if (len == 0)
				return unexpected(s, "a key");
			part = xstrndup(s->p, len);
			s->p += len;
		}
		strv_push(parts, n, part);
		skip_space(s);
		if (*s->p != '.')
			return 0;
		s->p++;
	}
}

/* A key, then `=` and the blanks after it: s->p at the value. */
static int take_key_eq(struct scan *s, char ***parts, size_t *n)
{
	int r = take_key(s, parts, n);
	if (r < 0)
		return r;
	if (*s->p != '=')
		return fail(s, "expected `=` after the key `%s`", (*parts)[*n - 1]);
	s->p++;
	skip_space(s);
	return 0;
}

static int take_value(struct scan *s, unsigned int depth, struct value *v);

/* an array, s->p at its `[`: its string members kept */
static int take_array(struct scan *s, unsigned int depth, struct value *v)
{
	v->kind = TOML_ARRAY;
	v->array = xzalloc(sizeof(*v->array));
	s->p++;
	for (;;) {
		skip_blank(s);
		if (*s->p == ']') {
			s->p++;
			return 0;
		}
		if (*s->p == '\0')
			return fail(s, "an array is not closed");
		struct value member = { 0 };
		int r = take_value(s, depth + 1, &member);
		if (r < 0) {
			value_clear(&member);
			return r;
		}
		if (member.kind == TOML_STRING)
			strv_push(&v->array, &v->n_array, TAKE_PTR(member.string));
		value_clear(&member);
		skip_blank(s);
		if (*s->p == ',')
			s->p++;
		else if (*s->p != ']')
			return *s->p ? fail(s, "expected `,` or `]` in an array, not `%c`", *s->p)
				     : fail(s, "an array is not closed");
	}
}

/* an inline table, s->p at its `{`: read for its extent, kept as raw text */
static int take_inline_table(struct scan *s, unsigned int depth, struct value *v)
{
	const char *start = s->p;
	s->p++;
	skip_blank(s);
	if (*s->p != '}') {
		for (;;) {
			cleanup_strv char **parts = NULL;
			size_t n = 0;
			int r = take_key_eq(s, &parts, &n);
			if (r < 0)
				return r;
			struct value member = { 0 };
			r = take_value(s, depth + 1, &member);
			value_clear(&member);
			if (r < 0)
				return r;
			skip_blank(s);
			if (*s->p == '}')
				break;
			if (*s->p != ',')
				return fail(s, "expected `,` or `}` in an inline table");
			s->p++;
			skip_blank(s);
		}
	}
	s->p++;
	v->kind = TOML_OTHER;
	v->string = xstrndup(start, (size_t)(s->p - start));
	return 0;
}

/* what a number, a date or a time may be made of (1_000, 0x1f, -inf, 1979-05-27 07:32:00Z) */
static bool scalar_char(char c)
{
	return bare_key_char(c) || c == '.' || c == ':' || c == '+' || c == ' ';
}

static int take_value(struct scan *s, unsigned int depth, struct value *v)
{
	if (depth > TOML_MAX_DEPTH)
		return fail(s, "values nested deeper than %d", TOML_MAX_DEPTH);
	char c = *s->p;
	if (c == '"' || c == '\'') {
		v->kind = TOML_STRING;
		return take_string(s, &v->string);
	}
	if (c == '[')
		return take_array(s, depth, v);
	if (c == '{')
		return take_inline_table(s, depth, v);
	size_t len = 0;
	while (scalar_char(s->p[len]))
		len++;
	while (len > 0 && s->p[len - 1] == ' ')
		len--;
	if (len == 0)
		return unexpected(s, "a value");
	if ((len == 4 && strncmp(s->p, "true", 4) == 0) || (len == 5 && strncmp(s->p, "false", 5) == 0)) {
		v->kind = TOML_BOOL;
		v->boolean = len == 4;
	} else {
		v->kind = TOML_OTHER;
		v->string = xstrndup(s->p, len);
	}
	s->p += len;
	return 0;
}

/* `[table]` or `[[array of tables]]`, s->p at the first `[`: the key path replaces *table */
static int take_header(struct scan *s, char ***table)
{
	bool array = s->p[1] == '[';
	s->p += array ? 2 : 1;
	cleanup_strv char **parts = NULL;
	size_t n = 0;
	int r = take_key(s, &parts, &n);
	if (r < 0)
		return r;
	if (*s->p != ']' || (array && s->p[1] != ']'))
		return fail(s, "a table header is not closed with `%s`", array ? "]]" : "]");
	s->p += array ? 2 : 1;
	strv_freep(table);
	*table = TAKE_PTR(parts);
	return end_of_line(s);
}

static char **strv_copy_n(char *const *from, size_t n)
{
	char **to = xzalloc((n + 1) * sizeof(*to));
	for (size_t i = 0; i < n; i++)
		to[i] = xstrdup(from[i]);
	return to;
}

/* `key = value` under table, s->p at the key */
static int take_pair(struct scan *s, char *const *table, struct toml_doc *d)
{
	unsigned int line = s->line;
	cleanup_strv char **parts = NULL;
	size_t n = 0;
	int r = take_key_eq(s, &parts, &n);
	if (r < 0)
		return r;
	struct value v = { 0 };
	if ((r = take_value(s, 0, &v)) < 0 || (r = end_of_line(s)) < 0) {
		value_clear(&v);
		return r;
	}
	size_t depth = strv_length(table);
	char **path = xzalloc((depth + n) * sizeof(*path));
	for (size_t i = 0; i < depth; i++)
		path[i] = xstrdup(table[i]);
	for (size_t i = 0; i + 1 < n; i++)
		path[depth + i] = TAKE_PTR(parts[i]);
	d->e = xgrow(d->e, d->n, sizeof(*d->e));
	d->e[d->n++] = (struct toml_entry){
		.table = path,
		.key = TAKE_PTR(parts[n - 1]),
		.kind = v.kind,
		.string = v.string,
		.boolean = v.boolean,
		.array = v.array,
		.line = line,
	};
	return 0;
}

int toml_parse(const char *text, const char *what, struct toml_doc *ret, struct stasis_error **err)
{
	struct scan s = { .p = text, .line = 1, .what = what, .err = err };
	cleanup_with(toml_doc_clear) struct toml_doc d = { 0 };
	cleanup_strv char **table = strv_copy_n(NULL, 0);
	for (;;) {
		skip_blank(&s);
		if (*s.p == '\0')
			break;
		int r = *s.p == '[' ? take_header(&s, &table) : take_pair(&s, table, &d);
		if (r < 0)
			return r;
	}
	*ret = d;
	d = (struct toml_doc){ 0 };
	return 0;
}

void toml_doc_clear(struct toml_doc *d)
{
	for (size_t i = 0; i < d->n; i++) {
		strv_freep(&d->e[i].table);
		free(d->e[i].key);
		free(d->e[i].string);
		strv_freep(&d->e[i].array);
	}
	free(d->e);
	*d = (struct toml_doc){ 0 };
}

/* whether e's table starts with path; exact: and has no more */
static bool table_match(const struct toml_entry *e, const char *const *path, bool exact)
{
	size_t i = 0;
	for (; path[i]; i++)
		if (!e->table[i] || strcmp(e->table[i], path[i]) != 0)
			return false;
	return !exact || !e->table[i];
}

bool toml_table_is(const struct toml_entry *e, const char *const *path)
{
	return table_match(e, path, true);
}

bool toml_table_under(const struct toml_entry *e, const char *const *path)
{
	return table_match(e, path, false);
}

char *toml_table_name(const struct toml_entry *e)
{
	struct buf b = { 0 };
	for (size_t i = 0; e->table[i]; i++) {
		const char *part = e->table[i];
		bool bare = *part != '\0';
		for (const char *c = part; *c; c++)
			bare = bare && bare_key_char(*c);
		if (i)
			buf_add(&b, '.');
		if (!bare)
			buf_add(&b, '"');
		for (const char *c = part; *c; c++) {
			if (!bare && (*c == '"' || *c == '\\'))
				buf_add(&b, '\\');
			buf_add(&b, *c);
		}
		if (!bare)
			buf_add(&b, '"');
	}
	return buf_take(&b);
}
