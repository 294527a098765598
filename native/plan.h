/*
 * The plan: decoding and access. The binary format is defined in PROTOCOL.md
 * and mirrored by lib/plan/ops.ts; every length is 32-bit and checked against
 * what is left of the buffer (CVE-2021-43784 was a 16-bit length that wrapped).
 */
#ifndef TSRUN_PLAN_H
#define TSRUN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_MAGIC 0x31505354u /* "TSP1" */
#define PLAN_MAX_BYTES (256u * 1024u * 1024u)
#define PLAN_MAX_STEPS 1000000u
#define STRLIST_MAX 4000000u
#define PLAN_MAX_ARGS 9

enum arg_type { ARG_U64 = 1, ARG_STR = 2, ARG_STRS = 3, ARG_BYTES = 4 };

enum op {
	OP_RLIMIT = 1,
	OP_OOM_SCORE_ADJ = 2,
	OP_JOIN_NS = 3,
	OP_NEW_TIMENS = 4,
	OP_EXEC_FIFO = 5,
	OP_USER_MAPS = 6,
	OP_CLONE = 7,
	OP_SECCOMP_LISTENER = 8,
	OP_IDMAP_TREE = 16,
	OP_ID_MAP_TOOLS = 17,
	OP_CONSOLE_SOCKET = 9,
	OP_CONSOLE_PROXY = 10,
	OP_ROOTFS = 20,
	OP_MOUNT = 21,
	OP_MKNOD = 22,
	OP_SYMLINK = 23,
	OP_SYNC = 24,
	OP_HOOK = 25,
	OP_PIVOT_ROOT = 26,
	OP_CHROOT = 27,
	OP_MASK_PATH = 28,
	OP_READONLY_PATH = 29,
	OP_SYSCTL = 30,
	OP_HOSTNAME = 31,
	OP_DOMAINNAME = 32,
	OP_REMOUNT_ROOT_RO = 33,
	OP_ROOT_PROPAGATION = 34,
	OP_CWD = 35,
	OP_UMASK = 36,
	OP_PERSONALITY = 37,
	OP_NO_NEW_PRIVS = 38,
	OP_CAP_BOUNDING = 39,
	OP_USER = 40,
	OP_CAPS = 41,
	OP_SECCOMP = 42,
	OP_RESOLVE_EXEC = 43,
	OP_WAIT_START = 44,
	OP_EXEC = 45,
	OP_SETSID = 46,
	OP_CONSOLE = 47,
	OP_SESSION_KEYRING = 48,
	OP_MOUNT_TREE = 60,
};

/* Signature of one op: its name, who runs it, its arguments' names and types. */
struct op_sig {
	uint16_t code;
	const char *name;
	char who; /* 'P' or 'C' */
	uint8_t argc;
	const char *arg_names[PLAN_MAX_ARGS];
	uint8_t arg_types[PLAN_MAX_ARGS];
};

const struct op_sig *op_lookup(uint16_t code);

/* A validated step: its arguments stay in the plan buffer. */
struct step {
	uint16_t op;
	uint16_t argc;
	uint32_t len;
	const uint8_t *args;
};

struct plan {
	uint32_t count;
	struct step *steps;
};

/* A decoded argument. For STR, str points at a NUL-terminated string in the buffer. */
struct arg {
	uint8_t type;
	uint32_t len;
	const uint8_t *data;
	uint64_t u64;
	const char *str;
	uint32_t nstrs;
};

/*
 * Decodes and validates buf (len bytes). On success fills plan (steps point
 * into buf, which must outlive it) and returns 0; on failure writes a reason
 * into err and returns -1. Never reads outside buf.
 */
int plan_decode(const uint8_t *buf, size_t len, struct plan *plan, char *err, size_t errlen);
void plan_free(struct plan *plan);

/* Argument i of a validated step. */
void step_arg(const struct step *s, unsigned i, struct arg *out);
uint64_t arg_u64(const struct step *s, unsigned i);
const char *arg_str(const struct step *s, unsigned i);
/* A NULL-terminated array of the entries of a STRLIST argument (malloc'd; the strings are not copied). */
char **arg_strs(const struct step *s, unsigned i, uint32_t *count);

#endif
