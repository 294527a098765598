/*
 * Shared state of the helper while it executes a plan, and the functions each
 * concern (sync, mount, process, hook) exports to the step loop in main.c.
 */
#ifndef TSRUN_H
#define TSRUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "plan.h"

/* Message types on the sync socket (PROTOCOL.md, "Sync messages"). */
enum msg_type {
	MSG_PID = 1,
	MSG_SYNC = 2,
	MSG_CONTINUE = 3,
	MSG_READY = 4,
	MSG_ERROR = 5,
	MSG_EXIT = 6,
	MSG_PLAN = 7,
};

#define NO_STEP 0xffffffffu
#define DETAIL_MAX 4096

/* Everything a step may need from earlier steps. -1 means "not open". */
struct ctx {
	int sync_fd;
	int proc_fd;	      /* the host's /proc, opened at startup */
	int devnull_fd;	      /* the host's /dev/null, verified 1:3, O_PATH */
	int root_fd;	      /* in-root paths resolve from here; opened lazily as "/" */
	int fifo_fd;	      /* EXEC_FIFO, O_PATH */
	int console_sock;     /* CONSOLE_SOCKET: connected to --console-socket before the clone */
	int proxy_sock;	      /* CONSOLE_PROXY: P's end of the socketpair the pty master comes back on */
	int resize_fd;	      /* CONSOLE_PROXY: window sizes from the caller (rows:u16 cols:u16), or -1 */
	int startup_resize_fd; /* the fd _TSRUN_RESIZE_FD named at startup (the only one CONSOLE_PROXY may use), or -1 */
	int has_rootfs;       /* the plan has a ROOTFS step (create, not exec): CONSOLE binds /dev/console */
	int sysctl_proc_fd;   /* a private procfs instance for SYSCTL */
	int cap_last_cap;
	const char *uid_map, *gid_map, *setgroups;
	const char *newuidmap, *newgidmap; /* ID_MAP_TOOLS: run these for C instead of writing the maps ("" = write) */
	int *trees;	      /* IDMAP_TREE: detached idmapped mounts, for MOUNT_TREE */
	/*
	 * The procfs and sysfs mounts MOUNT made, as fds of their roots with the
	 * destination they went to: masks and read-only paths under them
	 * resolve beneath these, never through the rootfs's names again.
	 */
	int *pin_fds;
	char **pin_dests;
	uint32_t npins;
	uint32_t ntrees;
	uint8_t *state;	      /* payload of the last CONTINUE, for HOOK */
	size_t state_len;
	char *exec_path;      /* RESOLVE_EXEC's answer, for EXEC */
	int listener_sock;    /* SECCOMP_LISTENER: connected to listenerPath before the clone */
	char **listener_parts; /* the state JSON around the pid (joined with the pid's decimal) */
	uint32_t listener_nparts;
	/* What the failing step was doing, with its paths: the ERROR detail. */
	char detail[DETAIL_MAX];
};

/* Records what a step is about to do, for the ERROR detail if it fails. */
void doing(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sync.c */
int msg_send(int fd, uint16_t type, const void *payload, size_t len);
int msg_send_u32(int fd, uint16_t type, uint32_t v);
/* Reads one message; *payload is malloc'd (NUL-terminated for convenience). max bounds the payload. */
int msg_recv(int fd, uint16_t *type, uint8_t **payload, size_t *len, size_t max);
void send_error(int fd, uint32_t step, int err, const char *detail);

/* mount.c */
int root_fd(struct ctx *c);
int step_rootfs(struct ctx *c, const struct step *s);
int step_mount(struct ctx *c, const struct step *s);
int step_mknod(struct ctx *c, const struct step *s);
int step_symlink(struct ctx *c, const struct step *s);
int step_pivot_root(struct ctx *c);
int step_chroot(struct ctx *c);
int step_mask_path(struct ctx *c, const struct step *s);
int step_readonly_path(struct ctx *c, const struct step *s);
int step_sysctl(struct ctx *c, const struct step *s);
int step_remount_root_ro(struct ctx *c);
int step_root_propagation(struct ctx *c, const struct step *s);
/* Opens path in the root (O_PATH), creating missing directories (and the last one as a file when file=1). */
int open_in_root_create(struct ctx *c, const char *path, int file, int nofollow);
int open_in_root(struct ctx *c, const char *path, int flags, uint64_t resolve);
int mount_on_fd(const char *source, int target_fd, const char *fstype, unsigned long flags, const char *data);

/* process.c */
int step_rlimit(struct ctx *c, const struct step *s);
int step_oom_score_adj(struct ctx *c, const struct step *s);
int step_cwd(struct ctx *c, const struct step *s);
int step_user(struct ctx *c, const struct step *s);
int step_caps(struct ctx *c, const struct step *s);
int step_cap_bounding(struct ctx *c, const struct step *s);
int step_seccomp(struct ctx *c, const struct step *s);
int step_seccomp_listener(struct ctx *c, const struct step *s);
int step_resolve_exec(struct ctx *c, const struct step *s);
int step_wait_start(struct ctx *c);
int step_exec(struct ctx *c, const struct step *s);
int step_console(struct ctx *c, const struct step *s);
int step_console_socket(struct ctx *c, const struct step *s);
int step_session_keyring(struct ctx *c, const struct step *s);
int step_sync(struct ctx *c, const struct step *s);

/* proxy.c */
int step_console_proxy(struct ctx *c, const struct step *s);
/* P of an attached container with a proxied terminal: proxies until C exits, sends EXIT; returns the exit status for P. */
int proxy_attached(struct ctx *c, pid_t pid);
/* main.c: P of an attached container: waits for C, sends EXIT; returns the exit status for P. */
int wait_attached(struct ctx *c, pid_t pid);

/* hook.c */
int step_hook(struct ctx *c, const struct step *s);

/* idmap.c */
int step_idmap_tree(struct ctx *c, const struct step *s);
int step_map_tools(struct ctx *c, const struct step *s);
int run_map_tool(struct ctx *c, const char *tool, pid_t pid, const char *map);
int step_mount_tree(struct ctx *c, const struct step *s); /* in mount.c */

/* decode.c */
int decode_main(int stream);

#endif
