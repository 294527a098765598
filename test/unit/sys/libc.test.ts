/**
 * lib/sys from Node: the safe calls work, and the kernel rule the whole
 * design rests on holds: a multithreaded process (Node always is) cannot
 * unshare a user namespace.
 */
import t from 'tap';
import { closeSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { CLONE, PR, getpid, gethostname, getDumpable, getNoNewPrivs, pidfdOpen, pidfdSendSignal, prctl, setns, unshare, umount2, errnoName } from '../../../lib/sys/index.js';
import { SysError } from '../../../lib/errors.js';

t.test('getpid and gethostname agree with Node', async (t) => {
  t.equal(getpid(), process.pid);
  t.equal(gethostname(), hostname());
});

t.test('Node is multithreaded', async (t) => {
  const threads = Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  t.ok(threads > 1, `Threads: ${threads}`);
});

t.test('unshare(CLONE_NEWUSER) from Node fails with EINVAL', async (t) => {
  const err = t.throws(() => unshare(CLONE.NEWUSER)) as unknown;
  t.ok(err instanceof SysError, 'a SysError');
  const e = err as SysError;
  t.equal(e.syscall, 'unshare');
  t.equal(e.errnoName, 'EINVAL');
  t.equal(e.errno, 22);
  t.equal(e.code, 'SYSCALL');
  t.match(e.message, /^unshare: EINVAL \(invalid argument\)/);
});

t.test('setns into our own user namespace from Node fails with EINVAL', async (t) => {
  const { openSync } = await import('node:fs');
  const fd = openSync('/proc/self/ns/user', 'r');
  try {
    const e = t.throws(() => setns(fd, CLONE.NEWUSER)) as unknown as SysError;
    t.equal(e.errnoName, 'EINVAL');
  } finally {
    closeSync(fd);
  }
});

t.test('failures carry the path', async (t) => {
  const e = t.throws(() => umount2('/nonexistent-tsrun-path')) as unknown as SysError;
  t.ok(e instanceof SysError);
  t.equal(e.path, '/nonexistent-tsrun-path');
  t.ok(['ENOENT', 'EPERM', 'EINVAL'].includes(e.errnoName), e.errnoName);
});

t.test('pidfd: open our own process and send it signal 0', async (t) => {
  const fd = pidfdOpen(process.pid);
  t.ok(fd > 2);
  try {
    pidfdSendSignal(fd, 0);
    t.pass('signal 0 delivered');
  } finally {
    closeSync(fd);
  }
  const e = t.throws(() => pidfdOpen(0x3fffffff)) as unknown as SysError;
  t.equal(e.errnoName, 'ESRCH');
});

t.test('prctl queries', async (t) => {
  t.equal(typeof getDumpable(), 'boolean');
  t.equal(getNoNewPrivs(), false);
  t.ok(prctl(PR.CAPBSET_READ, 0) === 0 || prctl(PR.CAPBSET_READ, 0) === 1);
  t.equal(errnoName(22), 'EINVAL');
});
