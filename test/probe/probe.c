/*
 * probe: a static, dependency-free program copied into test rootfs as /probe.
 * Integration tests run it inside containers and read what it reports about
 * the process it became (ids, caps, namespaces, mounts, limits, fds).
 *
 * Verbs (argv[1]):
 *   info                  one JSON object describing this process (see print_info)
 *   cat FILE              copy FILE to stdout
 *   write FILE TEXT       write TEXT to FILE (O_CREAT|O_TRUNC, 0644)
 *   open FILE r|w         print "ok" or the errno name; exit 0 either way
 *   sleep SECONDS         sleep (fractions allowed)
 *   exit CODE             exit with CODE
 *   ls DIR                entries of DIR sorted, one per line, without . and ..
 *   alloc MB              allocate and touch MB MiB, then print "ok"
 *   fork N                fork N children that wait; print JSON {requested,forked,errno}
 *   stat PATH             lstat PATH; print JSON
 *   signals               print the name of each catchable signal received, until SIGTERM
 *                         (prints "ready" first so tests know the handlers are installed)
 *
 * Failure convention for cat/write/ls/stat/fork: exit 1 and print the errno
 * name (e.g. "EACCES") alone on a line on stdout; a message goes to stderr.
 * Usage errors exit 2.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

extern char **environ;

/* ---- errno names (strerror text is locale- and libc-dependent; names are not) ---- */

static const char *errno_name(int e) {
  switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD)
    E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR)
    E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE)
    E(EROFS) E(EMLINK) E(EPIPE) E(ERANGE) E(EDEADLK) E(ENAMETOOLONG) E(ENOSYS) E(ENOTEMPTY)
    E(ELOOP) E(EOPNOTSUPP) E(EDQUOT) E(EOVERFLOW) E(ENOKEY) E(EKEYREVOKED)
#undef E
  default: return "EUNKNOWN";
  }
}

/* ---- JSON output ---- */

static void json_str(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", stdout); break;
    case '\\': fputs("\\\\", stdout); break;
    case '\n': fputs("\\n", stdout); break;
    case '\r': fputs("\\r", stdout); break;
    case '\t': fputs("\\t", stdout); break;
    default:
      if (*p < 0x20) printf("\\u%04x", *p);
      else putchar(*p);
    }
  }
  putchar('"');
}

static int first_field;
static void field(const char *name) {
  if (!first_field) putchar(',');
  first_field = 0;
  json_str(name);
  putchar(':');
}

/* ---- helpers ---- */

static int fail(const char *what, const char *path) {
  int e = errno;
  printf("%s\n", errno_name(e));
  fprintf(stderr, "probe: %s %s: %s\n", what, path ? path : "", strerror(e));
  return 1;
}

/* Reads a small file (procfs) into buf; returns length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t off = 0;
  while (off + 1 < size) {
    ssize_t n = read(fd, buf + off, size - 1 - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    if (n == 0) break;
    off += (size_t)n;
  }
  buf[off] = 0;
  close(fd);
  return (ssize_t)off;
}

/* Value after "Key:\t" in /proc/self/status, trimmed; NULL if absent. */
static const char *status_value(const char *status, const char *key, char *out, size_t outsz) {
  size_t klen = strlen(key);
  for (const char *line = status; line && *line;) {
    const char *nl = strchr(line, '\n');
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      const char *v = line + klen + 1;
      while (*v == ' ' || *v == '\t') v++;
      size_t len = nl ? (size_t)(nl - v) : strlen(v);
      if (len >= outsz) len = outsz - 1;
      memcpy(out, v, len);
      out[len] = 0;
      return out;
    }
    line = nl ? nl + 1 : NULL;
  }
  return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Undoes the octal escapes (\040 for space) mountinfo uses in paths. */
static void unescape_octal(char *s) {
  char *w = s;
  for (char *r = s; *r;) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = 0;
}

/* ---- info ---- */

static const struct { int res; const char *name; } rlimits[] = {
  {RLIMIT_CPU, "RLIMIT_CPU"}, {RLIMIT_FSIZE, "RLIMIT_FSIZE"}, {RLIMIT_DATA, "RLIMIT_DATA"},
  {RLIMIT_STACK, "RLIMIT_STACK"}, {RLIMIT_CORE, "RLIMIT_CORE"}, {RLIMIT_RSS, "RLIMIT_RSS"},
  {RLIMIT_NPROC, "RLIMIT_NPROC"}, {RLIMIT_NOFILE, "RLIMIT_NOFILE"}, {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
  {RLIMIT_AS, "RLIMIT_AS"}, {RLIMIT_LOCKS, "RLIMIT_LOCKS"}, {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
  {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"}, {RLIMIT_NICE, "RLIMIT_NICE"}, {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},
  {RLIMIT_RTTIME, "RLIMIT_RTTIME"},
};

static void print_rlim(rlim_t v) {
  if (v == RLIM_INFINITY) printf("-1");
  else printf("%llu", (unsigned long long)v);
}

static void info_namespaces(void) {
  field("namespaces");
  putchar('{');
  DIR *d = opendir("/proc/self/ns");
  if (d) {
    char *names[64];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 64) {
      if (de->d_name[0] == '.') continue;
      names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
      char path[PATH_MAX], target[PATH_MAX];
      snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
      ssize_t len = readlink(path, target, sizeof target - 1);
      target[len < 0 ? 0 : len] = 0;
      if (i) putchar(',');
      json_str(names[i]);
      putchar(':');
      if (len < 0) printf("null");
      else json_str(target);
      free(names[i]);
    }
  }
  putchar('}');
}

static void info_fds(void) {
  field("fds");
  putchar('[');
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    int self = dirfd(d);
    int fds[1024];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 1024) {
      if (de->d_name[0] == '.') continue;
      int fd = atoi(de->d_name);
      if (fd != self) fds[n++] = fd;
    }
    /* insertion sort: few fds */
    for (int i = 1; i < n; i++)
      for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
        int t = fds[j]; fds[j] = fds[j - 1]; fds[j - 1] = t;
      }
    for (int i = 0; i < n; i++) {
      char path[64], target[PATH_MAX];
      snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
      ssize_t len = readlink(path, target, sizeof target - 1);
      target[len < 0 ? 0 : len] = 0;
      printf("%s{\"fd\":%d,\"target\":", i ? "," : "", fds[i]);
      if (len < 0) printf("null");
      else json_str(target);
      putchar('}');
    }
    closedir(d);
  }
  putchar(']');
}

/* mountinfo: id parent maj:min root mountpoint options [optional...] - fstype source superoptions */
static void info_mounts(void) {
  field("mounts");
  putchar('[');
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (f) {
    char *line = NULL;
    size_t cap = 0;
    int first = 1;
    while (getline(&line, &cap, f) > 0) {
      line[strcspn(line, "\n")] = 0;
      char *fields[64];
      int n = 0;
      for (char *tok = strtok(line, " "); tok && n < 64; tok = strtok(NULL, " ")) fields[n++] = tok;
      int dash = -1;
      for (int i = 6; i < n; i++)
        if (strcmp(fields[i], "-") == 0) { dash = i; break; }
      if (n < 6 || dash < 0 || dash + 3 > n) continue;
      unescape_octal(fields[3]);
      unescape_octal(fields[4]);
      unescape_octal(fields[dash + 2]);
      printf("%s{\"mountPoint\":", first ? "" : ",");
      first = 0;
      json_str(fields[4]);
      printf(",\"fstype\":");
      json_str(fields[dash + 1]);
      printf(",\"source\":");
      json_str(fields[dash + 2]);
      printf(",\"root\":");
      json_str(fields[3]);
      printf(",\"options\":");
      json_str(fields[5]);
      printf(",\"superOptions\":");
      json_str(dash + 3 < n ? fields[dash + 3] : "");
      printf(",\"propagation\":");
      char prop[256] = "";
      for (int i = 6; i < dash; i++) {
        if (prop[0]) strncat(prop, " ", sizeof prop - strlen(prop) - 1);
        strncat(prop, fields[i], sizeof prop - strlen(prop) - 1);
      }
      json_str(prop);
      putchar('}');
    }
    free(line);
    fclose(f);
  }
  putchar(']');
}

static int print_info(void) {
  struct utsname u;
  char status[16384];
  char val[256];
  first_field = 1;
  putchar('{');

  if (uname(&u) == 0) {
    field("hostname"); json_str(u.nodename);
    field("domainname"); json_str(u.domainname);
  }
  field("pid"); printf("%d", getpid());
  field("ppid"); printf("%d", getppid());
  field("uid"); printf("%u", getuid());
  field("gid"); printf("%u", getgid());
  field("euid"); printf("%u", geteuid());
  field("egid"); printf("%u", getegid());

  gid_t groups[1024];
  int ng = getgroups(1024, groups);
  field("groups"); putchar('[');
  for (int i = 0; i < ng; i++) printf("%s%u", i ? "," : "", groups[i]);
  putchar(']');

  mode_t um = umask(0);
  umask(um);
  field("umask"); printf("%u", (unsigned)um);

  char cwd[PATH_MAX];
  field("cwd");
  if (getcwd(cwd, sizeof cwd)) json_str(cwd);
  else printf("null");

  if (read_small("/proc/self/status", status, sizeof status) < 0) status[0] = 0;
  field("capabilities"); putchar('{');
  const char *capkeys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
  for (int i = 0; i < 5; i++) {
    if (i) putchar(',');
    json_str(capkeys[i]);
    putchar(':');
    if (status_value(status, capkeys[i], val, sizeof val)) json_str(val);
    else printf("null");
  }
  putchar('}');
  field("noNewPrivs"); printf("%s", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? "true" : "false");
  field("seccomp");
  printf("%s", status_value(status, "Seccomp", val, sizeof val) ? val : "null");
  field("seccompFilters");
  printf("%s", status_value(status, "Seccomp_filters", val, sizeof val) ? val : "null");

  field("rlimits"); putchar('{');
  for (size_t i = 0; i < sizeof rlimits / sizeof rlimits[0]; i++) {
    struct rlimit rl;
    if (i) putchar(',');
    json_str(rlimits[i].name);
    if (getrlimit(rlimits[i].res, &rl) != 0) {
      printf(":null");
      continue;
    }
    printf(":{\"soft\":");
    print_rlim(rl.rlim_cur);
    printf(",\"hard\":");
    print_rlim(rl.rlim_max);
    putchar('}');
  }
  putchar('}');

  char oom[64];
  field("oomScoreAdj");
  if (read_small("/proc/self/oom_score_adj", oom, sizeof oom) > 0) printf("%d", atoi(oom));
  else printf("null");

  field("personality"); printf("%d", personality(0xffffffff));

  field("env"); putchar('[');
  for (char **e = environ; e && *e; e++) {
    if (e != environ) putchar(',');
    json_str(*e);
  }
  putchar(']');

  info_namespaces();
  info_fds();
  info_mounts();

  int cfd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
  field("consoleIsTty");
  if (cfd < 0) printf("null");
  else {
    printf("%s", isatty(cfd) ? "true" : "false");
    close(cfd);
  }
  field("stdinIsTty"); printf("%s", isatty(0) ? "true" : "false");
  field("stdoutIsTty"); printf("%s", isatty(1) ? "true" : "false");
  field("stderrIsTty"); printf("%s", isatty(2) ? "true" : "false");

  putchar('}');
  putchar('\n');
  return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- small verbs ---- */

static int do_cat(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("open", path);
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("read", path);
    }
    if (n == 0) break;
    if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) return fail("write", "stdout");
  }
  close(fd);
  return 0;
}

static int do_write(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("open", path);
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t n = write(fd, text + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", path);
    }
    off += (size_t)n;
  }
  if (close(fd) != 0) return fail("close", path);
  return 0;
}

static int do_open(const char *path, const char *how) {
  int flags = strcmp(how, "w") == 0 ? O_WRONLY : strcmp(how, "rw") == 0 ? O_RDWR : O_RDONLY;
  int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) printf("%s\n", errno_name(errno));
  else {
    printf("ok\n");
    close(fd);
  }
  return 0;
}

static int do_sleep(const char *arg) {
  double s = strtod(arg, NULL);
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  return 0;
}

static int do_ls(const char *path) {
  DIR *d = opendir(path);
  if (!d) return fail("opendir", path);
  size_t n = 0, cap = 64;
  char **names = malloc(cap * sizeof *names);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (n == cap) names = realloc(names, (cap *= 2) * sizeof *names);
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    printf("%s\n", names[i]);
    free(names[i]);
  }
  free(names);
  return 0;
}

static int do_alloc(const char *arg) {
  long mb = atol(arg);
  if (mb <= 0) {
    fprintf(stderr, "probe: alloc: MB must be positive\n");
    return 2;
  }
  size_t size = (size_t)mb << 20;
  char *p = malloc(size);
  if (!p) return fail("malloc", arg);
  long page = sysconf(_SC_PAGESIZE);
  for (size_t off = 0; off < size; off += (size_t)page) p[off] = 1;
  printf("ok\n");
  fflush(stdout);
  free(p);
  return 0;
}

static int do_fork(const char *arg) {
  long want = atol(arg);
  if (want < 0 || want > 100000) {
    fprintf(stderr, "probe: fork: N out of range\n");
    return 2;
  }
  pid_t *kids = calloc((size_t)want + 1, sizeof *kids);
  long got = 0;
  int err = 0;
  fflush(stdout);
  /* Children stay alive until every fork is done, so that they count together against a pids limit. */
  for (; got < want; got++) {
    pid_t pid = fork();
    if (pid < 0) {
      err = errno;
      break;
    }
    if (pid == 0) {
      for (;;) pause();
    }
    kids[got] = pid;
  }
  for (long i = 0; i < got; i++) kill(kids[i], SIGKILL);
  for (long i = 0; i < got; i++) waitpid(kids[i], NULL, 0);
  free(kids);
  printf("{\"requested\":%ld,\"forked\":%ld,\"errno\":", want, got);
  if (err) json_str(errno_name(err));
  else printf("null");
  printf("}\n");
  return err ? 1 : 0;
}

static const char *file_type(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "directory";
  if (S_ISLNK(m)) return "symlink";
  if (S_ISCHR(m)) return "char";
  if (S_ISBLK(m)) return "block";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  return "unknown";
}

static int do_stat(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return fail("lstat", path);
  printf("{\"path\":");
  json_str(path);
  printf(",\"type\":\"%s\",\"mode\":%u,\"modeOctal\":\"%04o\",\"uid\":%u,\"gid\":%u,\"size\":%lld,"
         "\"nlink\":%lu,\"ino\":%llu,\"dev\":\"%u:%u\",\"rdev\":\"%u:%u\"",
         file_type(st.st_mode), (unsigned)(st.st_mode & 07777), (unsigned)(st.st_mode & 07777), st.st_uid, st.st_gid,
         (long long)st.st_size, (unsigned long)st.st_nlink, (unsigned long long)st.st_ino, major(st.st_dev),
         minor(st.st_dev), major(st.st_rdev), minor(st.st_rdev));
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t len = readlink(path, target, sizeof target - 1);
    target[len < 0 ? 0 : len] = 0;
    printf(",\"target\":");
    json_str(target);
  }
  printf("}\n");
  return 0;
}

static volatile sig_atomic_t last_signal;
static void on_signal(int sig) { last_signal = sig; }

static int do_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL);
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    pause();
    int s = last_signal;
    last_signal = 0;
    if (!s) continue;
    const char *name = sigabbrev_np(s);
    printf("SIG%s\n", name ? name : "UNKNOWN");
    fflush(stdout);
    if (s == SIGTERM) return 0;
  }
}

/* The session keyring: its serial and KEYCTL_DESCRIBE text ("keyring;uid;gid;perm;name"). */
static int do_keyring(void) {
  long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3L /* KEY_SPEC_SESSION_KEYRING */, 0L);
  if (id < 0) {
    printf("keyring error %s\n", strerror(errno));
    return 1;
  }
  char desc[512];
  long n = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, id, desc, (long)sizeof(desc) - 1);
  if (n < 0) {
    printf("%ld describe-error %s\n", id, strerror(errno));
    return 1;
  }
  desc[n < (long)sizeof(desc) ? n : (long)sizeof(desc) - 1] = 0;
  printf("%ld %s\n", id, desc);
  return 0;
}

/* TIOCSTI: push one byte into fd 0's input queue (a terminal injection), and say whether the kernel let it. */
static int do_tiocsti(void) {
  char c = '#';
  if (ioctl(0, TIOCSTI, &c) < 0) {
    printf("tiocsti %s\n", errno == EPERM ? "EPERM" : errno == EIO ? "EIO" : errno == ENOTTY ? "ENOTTY" : strerror(errno));
    return 0;
  }
  printf("tiocsti ok\n");
  return 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: probe info | cat FILE | write FILE TEXT | open FILE r|w|rw | sleep SECONDS | exit CODE |\n"
          "             ls DIR | alloc MB | fork N | stat PATH | signals | keyring | tiocsti\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  const char *verb = argv[1];
  if (strcmp(verb, "info") == 0) return print_info();
  if (strcmp(verb, "cat") == 0 && argc == 3) return do_cat(argv[2]);
  if (strcmp(verb, "write") == 0 && argc == 4) return do_write(argv[2], argv[3]);
  if (strcmp(verb, "open") == 0 && argc == 4) return do_open(argv[2], argv[3]);
  if (strcmp(verb, "sleep") == 0 && argc == 3) return do_sleep(argv[2]);
  if (strcmp(verb, "exit") == 0 && argc == 3) return atoi(argv[2]);
  if (strcmp(verb, "ls") == 0 && argc == 3) return do_ls(argv[2]);
  if (strcmp(verb, "alloc") == 0 && argc == 3) return do_alloc(argv[2]);
  if (strcmp(verb, "fork") == 0 && argc == 3) return do_fork(argv[2]);
  if (strcmp(verb, "stat") == 0 && argc == 3) return do_stat(argv[2]);
  if (strcmp(verb, "signals") == 0) return do_signals();
  if (strcmp(verb, "keyring") == 0) return do_keyring();
  if (strcmp(verb, "tiocsti") == 0) return do_tiocsti();
  return usage();
}
