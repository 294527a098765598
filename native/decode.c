/*
 * `tsrun-init --decode`: prints a plan read from stdin in a canonical text
 * form, one line per step (`OPNAME name=value ...`), so tests can check that
 * the C decoder sees exactly what the TypeScript encoder wrote.
 * `--decode-stream` reads u32-length-prefixed plans until EOF and ends each
 * with `end <count>` or `decode error: <reason>`, for fast fuzzing.
 * Strings are quoted as JSON.stringify quotes them; bytes are lowercase hex.
 */
#include "tsrun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void print_json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\b': fputs("\\b", stdout); break;
		case '\f': fputs("\\f", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		default:
			if (*p < 0x20)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

static void print_arg(const struct step *s, unsigned i)
{
	struct arg a;
	step_arg(s, i, &a);
	switch (a.type) {
	case ARG_U64:
		printf("%llu", (unsigned long long)a.u64);
		break;
	case ARG_STR:
		print_json_string(a.str);
		break;
	case ARG_STRS: {
		uint32_t n;
		char **v = arg_strs(s, i, &n);
		putchar('[');
		for (uint32_t k = 0; v && k < n; k++) {
			if (k)
				putchar(',');
			print_json_string(v[k]);
		}
		putchar(']');
		free(v);
		break;
	}
	case ARG_BYTES:
		for (uint32_t k = 0; k < a.len; k++)
			printf("%02x", a.data[k]);
		break;
	}
}

static void print_plan(const struct plan *plan)
{
	for (uint32_t i = 0; i < plan->count; i++) {
		const struct step *s = &plan->steps[i];
		const struct op_sig *sig = op_lookup(s->op);
		fputs(sig->name, stdout);
		for (unsigned a = 0; a < s->argc; a++) {
			printf(" %s=", sig->arg_names[a]);
			print_arg(s, a);
		}
		putchar('\n');
	}
}

/* Reads up to max bytes; returns the count (short only at EOF) or -1. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int decode_one(uint8_t *buf, size_t len, int stream)
{
	struct plan plan;
	char err[512];
	if (plan_decode(buf, len, &plan, err, sizeof(err)) < 0) {
		if (stream) {
			printf("decode error: %s\n", err);
			return 0;
		}
		fflush(stdout);
		fprintf(stderr, "decode error: %s\n", err);
		return 2;
	}
	print_plan(&plan);
	if (stream)
		printf("end %u\n", plan.count);
	plan_free(&plan);
	return 0;
}

static int decode_all_stdin(void)
{
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			fprintf(stderr, "decode error: out of memory\n");
			return 2;
		}
		ssize_t n = read_full(0, buf + len, cap - len);
		if (n < 0) {
			fprintf(stderr, "decode error: reading stdin failed\n");
			return 2;
		}
		len += (size_t)n;
		if (len < cap)
			break;
		if (cap > PLAN_MAX_BYTES) {
			fprintf(stderr, "decode error: plan larger than %u bytes\n", PLAN_MAX_BYTES);
			return 2;
		}
		cap *= 2;
		buf = realloc(buf, cap);
	}
	int r = decode_one(buf, len, 0);
	free(buf);
	return r;
}

static int decode_stream(void)
{
	for (;;) {
		uint8_t h[4];
		ssize_t n = read_full(0, h, 4);
		if (n == 0)
			return 0;
		if (n != 4) {
			fprintf(stderr, "decode error: truncated stream\n");
			return 2;
		}
		uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
		if (len > PLAN_MAX_BYTES) {
			fprintf(stderr, "decode error: plan larger than %u bytes\n", PLAN_MAX_BYTES);
			return 2;
		}
		uint8_t *buf = malloc(len ? len : 1);
		if (!buf || read_full(0, buf, len) != (ssize_t)len) {
			fprintf(stderr, "decode error: truncated stream\n");
			return 2;
		}
		decode_one(buf, len, 1);
		free(buf);
	}
}

int decode_main(int stream)
{
	static char obuf[1 << 16];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	int r = stream ? decode_stream() : decode_all_stdin();
	fflush(stdout);
	return r;
}
