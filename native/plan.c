/*
 * Bounds-checked plan decoder. Every offset is compared with the bytes that
 * remain before it is used, with 64-bit arithmetic so no sum can wrap; the
 * checks and their order match decodePlan in lib/plan/codec.ts, so both sides
 * accept and refuse exactly the same inputs.
 */
#include "plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U ARG_U64
#define S ARG_STR
#define L ARG_STRS
#define B ARG_BYTES

static const struct op_sig OPS[] = {
	{ OP_RLIMIT, "RLIMIT", 'P', 3, { "resource", "soft", "hard" }, { U, U, U } },
	{ OP_OOM_SCORE_ADJ, "OOM_SCORE_ADJ", 'P', 1, { "value" }, { U } },
	{ OP_JOIN_NS, "JOIN_NS", 'P', 2, { "nstype", "path" }, { U, S } },
	{ OP_NEW_TIMENS, "NEW_TIMENS", 'P', 1, { "offsets" }, { S } },
	{ OP_EXEC_FIFO, "EXEC_FIFO", 'P', 1, { "path" }, { S } },
	{ OP_USER_MAPS, "USER_MAPS", 'P', 3, { "uidMap", "gidMap", "setgroups" }, { S, S, S } },
	{ OP_CLONE, "CLONE", 'P', 2, { "flags", "detached" }, { U, U } },
	{ OP_SECCOMP_LISTENER, "SECCOMP_LISTENER", 'P', 2, { "path", "state" }, { S, L } },
	{ OP_IDMAP_TREE, "IDMAP_TREE", 'P', 4, { "source", "uidMap", "gidMap", "recursive" }, { S, S, S, U } },
	{ OP_ID_MAP_TOOLS, "ID_MAP_TOOLS", 'P', 2, { "newuidmap", "newgidmap" }, { S, S } },
	{ OP_CONSOLE_SOCKET, "CONSOLE_SOCKET", 'P', 1, { "path" }, { S } },
	{ OP_CONSOLE_PROXY, "CONSOLE_PROXY", 'P', 1, { "resizeFd" }, { U } },
	{ OP_ROOTFS, "ROOTFS", 'C', 2, { "propagation", "rootfs" }, { U, S } },
	{ OP_MOUNT, "MOUNT", 'C', 9,
	  { "source", "dest", "fstype", "flags", "data", "propagation", "attrSet", "attrClr", "kind" },
	  { S, S, S, U, S, U, U, U, U } },
	{ OP_MKNOD, "MKNOD", 'C', 7, { "path", "type", "major", "minor", "mode", "uid", "gid" }, { S, U, U, U, U, U, U } },
	{ OP_SYMLINK, "SYMLINK", 'C', 2, { "target", "path" }, { S, S } },
	{ OP_SYNC, "SYNC", 'C', 1, { "point" }, { U } },
	{ OP_HOOK, "HOOK", 'C', 5, { "path", "args", "env", "timeout", "kind" }, { S, L, L, U, U } },
	{ OP_PIVOT_ROOT, "PIVOT_ROOT", 'C', 0, { 0 }, { 0 } },
	{ OP_CHROOT, "CHROOT", 'C', 0, { 0 }, { 0 } },
	{ OP_MASK_PATH, "MASK_PATH", 'C', 1, { "path" }, { S } },
	{ OP_READONLY_PATH, "READONLY_PATH", 'C', 1, { "path" }, { S } },
	{ OP_SYSCTL, "SYSCTL", 'C', 2, { "key", "value" }, { S, S } },
	{ OP_HOSTNAME, "HOSTNAME", 'C', 1, { "name" }, { S } },
	{ OP_DOMAINNAME, "DOMAINNAME", 'C', 1, { "name" }, { S } },
	{ OP_REMOUNT_ROOT_RO, "REMOUNT_ROOT_RO", 'C', 0, { 0 }, { 0 } },
	{ OP_ROOT_PROPAGATION, "ROOT_PROPAGATION", 'C', 1, { "flags" }, { U } },
	{ OP_CWD, "CWD", 'C', 1, { "path" }, { S } },
	{ OP_UMASK, "UMASK", 'C', 1, { "mask" }, { U } },
	{ OP_PERSONALITY, "PERSONALITY", 'C', 1, { "persona" }, { U } },
	{ OP_NO_NEW_PRIVS, "NO_NEW_PRIVS", 'C', 0, { 0 }, { 0 } },
	{ OP_CAP_BOUNDING, "CAP_BOUNDING", 'C', 1, { "keep" }, { U } },
	{ OP_USER, "USER", 'C', 4, { "uid", "gid", "additionalGids", "setgroups" }, { U, U, L, U } },
	{ OP_CAPS, "CAPS", 'C', 4, { "effective", "permitted", "inheritable", "ambient" }, { U, U, U, U } },
	{ OP_SECCOMP, "SECCOMP", 'C', 2, { "flags", "program" }, { U, B } },
	{ OP_RESOLVE_EXEC, "RESOLVE_EXEC", 'C', 2, { "name", "path" }, { S, S } },
	{ OP_WAIT_START, "WAIT_START", 'C', 0, { 0 }, { 0 } },
	{ OP_EXEC, "EXEC", 'C', 3, { "argv", "env", "keepFds" }, { L, L, U } },
	{ OP_SETSID, "SETSID", 'C', 0, { 0 }, { 0 } },
	{ OP_CONSOLE, "CONSOLE", 'C', 3, { "socket", "rows", "cols" }, { S, U, U } },
	{ OP_SESSION_KEYRING, "SESSION_KEYRING", 'C', 1, { "name" }, { S } },
	{ OP_MOUNT_TREE, "MOUNT_TREE", 'C', 7, { "tree", "dest", "flags", "propagation", "attrSet", "attrClr", "kind" },
	  { U, S, U, U, U, U, U } },
};

static const char *const TYPE_NAMES[] = { "?", "u64", "str", "strs", "bytes" };

const struct op_sig *op_lookup(uint16_t code)
{
	for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
		if (OPS[i].code == code)
			return &OPS[i];
	return NULL;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A C string of len bytes at p: NUL-terminated, no NUL inside. */
static int check_cstring(const uint8_t *p, uint32_t len)
{
	if (len == 0 || p[len - 1] != 0)
		return -1;
	return memchr(p, 0, len - 1) ? -2 : 0;
}

static int string_error(int r, const char *what, char *err, size_t errlen)
{
	return fail(err, errlen, "%s: %s", what, r == -1 ? "string not NUL-terminated" : "string contains a NUL byte");
}

static int check_strlist(const uint8_t *p, uint32_t alen, const char *what, char *err, size_t errlen)
{
	if (alen < 4)
		return fail(err, errlen, "%s: truncated list", what);
	uint32_t n = rd32(p);
	if (n > STRLIST_MAX)
		return fail(err, errlen, "%s: too many entries", what);
	uint64_t off = 4;
	for (uint32_t k = 0; k < n; k++) {
		if (off + 4 > alen)
			return fail(err, errlen, "%s[%u]: truncated", what, k);
		uint32_t sl = rd32(p + off);
		off += 4;
		if (sl > alen - off)
			return fail(err, errlen, "%s[%u]: length past the list", what, k);
		int r = check_cstring(p + off, sl);
		if (r < 0) {
			char w[160];
			snprintf(w, sizeof(w), "%s[%u]", what, k);
			return string_error(r, w, err, errlen);
		}
		off += sl;
	}
	if (off != alen)
		return fail(err, errlen, "%s: trailing bytes in list", what);
	return 0;
}

static int check_arg(const struct op_sig *sig, unsigned a, uint32_t i, const uint8_t *buf, uint64_t *off, uint64_t end,
		     char *err, size_t errlen)
{
	char what[128];
	snprintf(what, sizeof(what), "step %u (%s) %s", i, sig->name, sig->arg_names[a]);
	if (*off + 8 > end)
		return fail(err, errlen, "%s: truncated", what);
	uint8_t t = buf[*off];
	uint32_t alen = rd32(buf + *off + 4);
	*off += 8;
	if (t != sig->arg_types[a]) {
		if (t >= 1 && t <= 4)
			return fail(err, errlen, "%s: type %s, expected %s", what, TYPE_NAMES[t], TYPE_NAMES[sig->arg_types[a]]);
		return fail(err, errlen, "%s: type %u, expected %s", what, t, TYPE_NAMES[sig->arg_types[a]]);
	}
	if (alen > end - *off)
		return fail(err, errlen, "%s: length %u past the step", what, alen);
	const uint8_t *p = buf + *off;
	int r;
	switch (t) {
	case ARG_U64:
		if (alen != 8)
			return fail(err, errlen, "%s: u64 of %u bytes", what, alen);
		break;
	case ARG_STR:
		r = check_cstring(p, alen);
		if (r < 0)
			return string_error(r, what, err, errlen);
		break;
	case ARG_STRS:
		if (check_strlist(p, alen, what, err, errlen) < 0)
			return -1;
		break;
	case ARG_BYTES:
		break;
	}
	*off += alen;
	return 0;
}

int plan_decode(const uint8_t *buf, size_t len, struct plan *plan, char *err, size_t errlen)
{
	plan->count = 0;
	plan->steps = NULL;
	if (len < 12)
		return fail(err, errlen, "plan shorter than its header");
	if (len > PLAN_MAX_BYTES)
		return fail(err, errlen, "plan larger than %u bytes", PLAN_MAX_BYTES);
	if (rd32(buf) != PLAN_MAGIC)
		return fail(err, errlen, "bad plan magic");
	uint32_t total = rd32(buf + 4);
	if (total != len)
		return fail(err, errlen, "plan length %u does not match %zu bytes received", total, len);
	uint32_t count = rd32(buf + 8);
	if (count > PLAN_MAX_STEPS)
		return fail(err, errlen, "too many steps");
	/* Every step needs at least its 8-byte header: a count the buffer cannot hold is refused before allocating. */
	if ((uint64_t)count * 8 > len - 12)
		return fail(err, errlen, "step %u: truncated header", (unsigned)((len - 12) / 8));
	struct step *steps = calloc(count ? count : 1, sizeof(*steps));
	if (!steps)
		return fail(err, errlen, "out of memory for %u steps", count);
	uint64_t off = 12;
	for (uint32_t i = 0; i < count; i++) {
		if (off + 8 > len) {
			free(steps);
			return fail(err, errlen, "step %u: truncated header", i);
		}
		uint16_t code = rd16(buf + off);
		uint16_t argc = rd16(buf + off + 2);
		uint32_t slen = rd32(buf + off + 4);
		off += 8;
		if (slen > len - off) {
			free(steps);
			return fail(err, errlen, "step %u: length %u past the end", i, slen);
		}
		const struct op_sig *sig = op_lookup(code);
		if (!sig) {
			free(steps);
			return fail(err, errlen, "step %u: unknown op %u", i, code);
		}
		if (argc != sig->argc) {
			free(steps);
			return fail(err, errlen, "step %u (%s): %u arguments, expected %u", i, sig->name, argc, sig->argc);
		}
		uint64_t end = off + slen;
		steps[i] = (struct step){ .op = code, .argc = argc, .len = slen, .args = buf + off };
		for (unsigned a = 0; a < argc; a++) {
			if (check_arg(sig, a, i, buf, &off, end, err, errlen) < 0) {
				free(steps);
				return -1;
			}
		}
		if (off != end) {
			free(steps);
			return fail(err, errlen, "step %u (%s): trailing bytes", i, sig->name);
		}
	}
	if (off != len) {
		free(steps);
		return fail(err, errlen, "trailing bytes after the last step");
	}
	plan->count = count;
	plan->steps = steps;
	return 0;
}

void plan_free(struct plan *plan)
{
	free(plan->steps);
	plan->steps = NULL;
	plan->count = 0;
}

/* The arguments were validated by plan_decode: walking them again needs no checks. */
void step_arg(const struct step *s, unsigned i, struct arg *out)
{
	const uint8_t *p = s->args;
	for (unsigned k = 0; k < i; k++)
		p += 8 + rd32(p + 4);
	memset(out, 0, sizeof(*out));
	out->type = p[0];
	out->len = rd32(p + 4);
	out->data = p + 8;
	if (out->type == ARG_U64)
		out->u64 = rd64(out->data);
	else if (out->type == ARG_STR)
		out->str = (const char *)out->data;
	else if (out->type == ARG_STRS)
		out->nstrs = rd32(out->data);
}

uint64_t arg_u64(const struct step *s, unsigned i)
{
	struct arg a;
	step_arg(s, i, &a);
	return a.u64;
}

const char *arg_str(const struct step *s, unsigned i)
{
	struct arg a;
	step_arg(s, i, &a);
	return a.str;
}

char **arg_strs(const struct step *s, unsigned i, uint32_t *count)
{
	struct arg a;
	step_arg(s, i, &a);
	char **v = calloc((size_t)a.nstrs + 1, sizeof(char *));
	if (!v)
		return NULL;
	const uint8_t *p = a.data + 4;
	for (uint32_t k = 0; k < a.nstrs; k++) {
		uint32_t sl = rd32(p);
		v[k] = (char *)(p + 4);
		p += 4 + sl;
	}
	if (count)
		*count = a.nstrs;
	return v;
}
