/**
 * tsrun-init driven directly from Node (root, real kernel): hand-built plans,
 * a busybox rootfs, the sync channel and the exec fifo, in detached and
 * attached mode, plus the errors a step must report.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan, PlanStep } from '../../../lib/plan/types.js';
import { ALL_CAPS, CLONE, HELPER, Helper, MS, describe, errorOf, killPid, makeBundle, reap, rootfsSteps, st, type Msg } from './harness.js';

const ENOENT = 2;
const ENOTDIR = 20;
const ELOOP = 40;

if (process.getuid?.() !== 0 || !existsSync(HELPER) || !existsSync('/bin/busybox')) {
  t.test('tsrun-init integration', { skip: 'needs root, native/build/tsrun-init and /bin/busybox' }, async () => {});
} else {
  run();
}

/** The steps after the filesystem: identity, working directory, program. */
function processSteps(script: string, opts: { name?: string; waitStart?: boolean; argv?: string[]; cwd?: string } = {}): PlanStep[] {
  const argv = opts.argv ?? ['sh', '-c', script];
  return [
    st('CWD', { path: opts.cwd ?? '/work/dir' }),
    st('UMASK', { mask: 0o022 }),
    st('RESOLVE_EXEC', { name: opts.name ?? argv[0], path: '/usr/bin:/bin' }),
    ...(opts.waitStart === false ? [] : [st('WAIT_START')]),
    st('CAP_BOUNDING', { keep: ALL_CAPS }),
    st('USER', { uid: 0, gid: 0, additionalGids: [], setgroups: 1 }),
    st('CAPS', { effective: ALL_CAPS, permitted: ALL_CAPS, inheritable: 0, ambient: 0 }),
    st('EXEC', { argv, env: ['PATH=/bin', 'HOME=/root'], keepFds: 3 }),
  ];
}

/** Reads messages until READY or ERROR (or the channel closing). */
async function untilReady(h: Helper): Promise<Msg[]> {
  const seen: Msg[] = [];
  for (;;) {
    const m = await h.next();
    if (!m) return seen;
    seen.push(m);
    if (m.type === 'READY' || m.type === 'ERROR') return seen;
  }
}

/**
 * `tsrun start`: opens the exec fifo for reading. O_NONBLOCK, so a test whose
 * container died never blocks a thread forever; then waits for the byte.
 */
async function startViaFifo(fifo: string): Promise<string> {
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1);
    for (let i = 0; i < 500; i++) {
      try {
        if (readSync(fd, buf, 0, 1, null) === 1) return buf.toString();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return '';
  } finally {
    closeSync(fd);
  }
}

function pidOf(msgs: Msg[]): number {
  const m = msgs.find((x) => x.type === 'PID');
  return m ? m.payload.readUInt32LE(0) : 0;
}

function run(): void {
  t.test('detached create: namespaces, rootfs, masks, exec fifo', async (t) => {
    const b = makeBundle();
    t.teardown(b.remove);
    writeFileSync(join(b.rootfs, 'etc', 'secret'), 'host secret\n');
    writeFileSync(join(b.host, 'file'), 'shared\n');
    const fifo = join(b.dir, 'exec.fifo');
    const script = [
      'hostname',
      'echo pid=$$',
      'echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c)',
      'echo secret=$(stat -c %t:%T /etc/secret):$(cat /etc/secret | wc -c)',
      'echo timer=$(stat -c %t:%T /proc/timer_list)',
      'echo tty=$(ls /proc/tty | wc -l)',
      'echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sys=writable || echo sys=readonly',
      'touch /data/new 2>/dev/null && echo data=writable || echo data=readonly',
      'echo shared=$(cat /data/file)',
      'echo cwd=$(pwd)',
      'echo fds=$(ls /proc/self/fd)',
      'echo null=$(stat -c %t:%T /dev/null) fd=$(readlink /dev/fd)',
      'echo uid=$(id -u)',
    ].join('\n');
    const plan: Plan = {
      steps: [
        st('EXEC_FIFO', { path: fifo }),
        st('CLONE', { flags: CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC, detached: 1 }),
        st('SETSID'),
        ...rootfsSteps(b.rootfs),
        st('MOUNT', { source: b.host, dest: '/data', fstype: '', flags: MS.BIND | MS.REC | MS.RDONLY, data: '', propagation: MS.PRIVATE, attrSet: 0, attrClr: 0, kind: 0 }),
        st('HOSTNAME', { name: 'tsrun-native' }),
        st('MASK_PATH', { path: '/proc/kcore' }),
        st('MASK_PATH', { path: '/proc/timer_list' }),
        st('MASK_PATH', { path: '/proc/tty' }),
        st('MASK_PATH', { path: '/etc/secret' }),
        st('MASK_PATH', { path: '/does/not/exist' }),
        st('READONLY_PATH', { path: '/proc/sys' }),
        st('READONLY_PATH', { path: '/nothing/here' }),
        st('PIVOT_ROOT'),
        ...processSteps(script),
      ],
    };
    const h = new Helper();
    let cpid = 0;
    t.teardown(() => killPid(cpid));
    h.sendPlan(plan);
    const msgs = await untilReady(h);
    cpid = pidOf(msgs);
    t.same(msgs.map((m) => m.type), ['PID', 'READY'], `PID then READY (${msgs.map(describe).join(', ')}; ${h.stderr})`);
    t.ok(cpid > 0, 'PID carries the container pid');
    t.same(await h.exited, { code: 0, signal: null }, 'P exits 0 after PID (detached)');
    // While C blocks on the fifo: it is our child (CLONE_PARENT) and runs from a sealed memfd.
    const stat = readFileSync(`/proc/${cpid}/stat`, 'utf8');
    t.equal(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), process.pid, "C's parent is the Node process");
    t.match(readlinkSync(`/proc/${cpid}/exe`), /^\/memfd:tsrun-init/, '/proc/<pid>/exe is the sealed memfd copy (CVE-2019-5736)');
    t.match(readFileSync(`/proc/${cpid}/status`, 'utf8'), /NSpid:\s+\d+\s+1\n/, 'pid 1 in its own pid namespace');
    t.equal(h.stdout, '', 'nothing runs before start');
    t.ok(existsSync(fifo), 'the exec fifo exists');

    t.equal(await startViaFifo(fifo), '0', 'the fifo delivers "0" on start');
    await h.outputDone;
    t.equal(await reap(cpid), 0, 'the container exits 0');
    cpid = 0;
    const out = h.stdout.split('\n');
    t.equal(out[0], 'tsrun-native', 'hostname');
    t.ok(out.includes('pid=1'), 'the program is pid 1');
    t.ok(out.includes('kcore=0'), '/proc/kcore reads nothing');
    t.ok(out.includes('secret=1:3:0'), 'a masked file is the 1:3 device and reads empty');
    t.ok(out.includes('timer=1:3'), '/proc/timer_list masked with /dev/null');
    t.ok(out.includes('tty=0'), 'a masked directory is empty');
    t.ok(out.includes('sys=readonly'), '/proc/sys is read-only');
    t.ok(out.includes('data=readonly'), 'the read-only bind is read-only');
    t.ok(out.includes('shared=shared'), 'the bind shows the host directory');
    t.ok(out.includes('cwd=/work/dir'), 'cwd created and entered');
    t.ok(out.includes('fds=0 1 2 3'), 'only stdio reaches the program (3 is ls reading the directory)');
    t.ok(out.includes('null=1:3 fd=/proc/self/fd'), 'MKNOD and SYMLINK');
    t.ok(out.includes('uid=0'), 'uid 0');
    t.same(readdirSync(b.host).sort(), ['file'], 'nothing written to the host directory');
    const rest = await h.next();
    t.equal(rest && describe(rest), null, 'nothing more on the channel');
  });

  t.test('a missing program fails before READY with the exact message', async (t) => {
    const b = makeBundle();
    t.teardown(b.remove);
    const plan: Plan = {
      steps: [
        st('CLONE', { flags: CLONE.NEWNS | CLONE.NEWPID, detached: 1 }),
        ...rootfsSteps(b.rootfs),
        st('PIVOT_ROOT'),
        ...processSteps('', { argv: ['no-such-program', 'x'] }),
      ],
    };
    const resolveAt = plan.steps.findIndex((s) => s.op === 'RESOLVE_EXEC');
    const h = new Helper();
    h.sendPlan(plan);
    const msgs = await untilReady(h);
    const cpid = pidOf(msgs);
    t.teardown(() => killPid(cpid));
    t.same(msgs.map((m) => m.type), ['PID', 'ERROR'], 'PID then ERROR, no READY');
    const err = errorOf(msgs[1]!);
    t.same(err, { step: resolveAt, errno: ENOENT, detail: 'exec: "no-such-program": executable file not found in $PATH' });
    t.not(await reap(cpid), 0, 'the container init exits non-zero');

    // A name with a slash is looked up as it is.
    const h2 = new Helper();
    plan.steps[resolveAt] = st('RESOLVE_EXEC', { name: '/bin/nope', path: '/bin' });
    h2.sendPlan(plan);
    const msgs2 = await untilReady(h2);
    const cpid2 = pidOf(msgs2);
    t.teardown(() => killPid(cpid2));
    t.same(errorOf(msgs2.at(-1)!), { step: resolveAt, errno: ENOENT, detail: 'exec: "/bin/nope": executable file not found in $PATH' });
    await reap(cpid2);
  });

  t.test('a failing step is named with its paths', async (t) => {
    const b = makeBundle();
    t.teardown(b.remove);
    writeFileSync(join(b.rootfs, 'notdir'), '');
    symlinkSync('/tmp', join(b.rootfs, 'linked'));
    const cases: [string, PlanStep, number, RegExp][] = [
      ['procfs on a file', st('MOUNT', { source: 'proc', dest: '/notdir', fstype: 'proc', flags: 0, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }), ENOTDIR, /^mount "proc" on "\/notdir"/],
      ['a mount on a symlink', st('MOUNT', { source: 'tmpfs', dest: '/linked', fstype: 'tmpfs', flags: 0, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }), ELOOP, /^mount "tmpfs" on "\/linked"/],
      ['a missing bind source', st('MOUNT', { source: join(b.dir, 'missing'), dest: '/mnt', fstype: '', flags: MS.BIND, data: '', propagation: 0, attrSet: 0, attrClr: 0, kind: 0 }), ENOENT, /^mount ".*missing" on "\/mnt"$/],
    ];
    for (const [name, bad, errno, re] of cases) {
      const steps = [st('CLONE', { flags: CLONE.NEWNS | CLONE.NEWPID, detached: 1 }), ...rootfsSteps(b.rootfs), bad, st('PIVOT_ROOT'), ...processSteps('true')];
      const h = new Helper();
      h.sendPlan({ steps });
      const msgs = await untilReady(h);
      const cpid = pidOf(msgs);
      t.teardown(() => killPid(cpid));
      t.equal(msgs.at(-1)?.type, 'ERROR', `${name}: ERROR`);
      const err = errorOf(msgs.at(-1)!);
      t.equal(err.step, steps.indexOf(bad), `${name}: the step index`);
      t.equal(err.errno, errno, `${name}: errno`);
      t.match(err.detail, re, `${name}: detail "${err.detail}"`);
      if (cpid) await reap(cpid);
    }
    t.same(readdirSync(join(b.rootfs, 'tmp')), [], 'nothing was mounted through the symlink');

    // CVE-2024-21626: a cwd through a leaked fd of the helper never leaves the container.
    for (const cwd of ['/proc/self/fd/3', '/proc/self/cwd', '/proc/1/root']) {
      const steps = [st('CLONE', { flags: CLONE.NEWNS | CLONE.NEWPID, detached: 1 }), ...rootfsSteps(b.rootfs), st('PIVOT_ROOT'), ...processSteps('true', { cwd })];
      const h = new Helper();
      h.sendPlan({ steps });
      const msgs = await untilReady(h);
      const cpid = pidOf(msgs);
      t.teardown(() => killPid(cpid));
      const err = msgs.at(-1)?.type === 'ERROR' ? errorOf(msgs.at(-1)!) : undefined;
      t.equal(err?.step, steps.findIndex((x) => x.op === 'CWD'), `cwd ${cwd} refused at the CWD step`);
      t.match(err?.detail, new RegExp(`^chdir "${cwd}"`), `cwd ${cwd}: detail "${err?.detail}" (errno ${err?.errno})`);
      if (cpid) await reap(cpid);
    }

    // A P step: the error comes from the helper itself, before any clone.
    const h = new Helper();
    h.sendPlan({ steps: [st('JOIN_NS', { nstype: CLONE.NEWNET, path: '/nonexistent/ns' }), st('CLONE', { flags: 0, detached: 0 }), ...processSteps('true')] });
    const m = await h.next();
    t.same(m && errorOf(m), { step: 0, errno: ENOENT, detail: 'join namespace "/nonexistent/ns"' }, 'JOIN_NS names the path');
    t.equal((await h.exited).code, 1, 'P exits 1');

    // A plan that cannot run is refused before anything happens.
    const h2 = new Helper();
    h2.sendPlan({ steps: [st('HOSTNAME', { name: 'x' })] });
    const m2 = await h2.next();
    t.equal(m2 && errorOf(m2).step, 0xffffffff, 'an invalid plan is not a step error');
    t.match(m2 && errorOf(m2).detail, /^invalid plan: /);
    t.equal((await h2.exited).code, 1);
  });

  t.test('attached: EXIT carries the wait status, P exits like C', async (t) => {
    const b = makeBundle();
    t.teardown(b.remove);
    const attached = (argv: string[], pidns = false): Plan => ({
      steps: [
        st('CLONE', { flags: CLONE.NEWNS | CLONE.NEWUTS | (pidns ? CLONE.NEWPID : 0), detached: 0 }),
        ...rootfsSteps(b.rootfs),
        st('PIVOT_ROOT'),
        ...processSteps('', { argv }),
      ],
    });
    async function runAttached(plan: Plan, whileRunning?: (h: Helper, cpid: number) => Promise<void>) {
      const h = new Helper();
      h.sendPlan(plan);
      const msgs = await untilReady(h);
      const cpid = pidOf(msgs);
      t.teardown(() => killPid(cpid));
      t.same(msgs.map((m) => m.type), ['PID', 'READY'], msgs.map(describe).join(', '));
      if (whileRunning) await whileRunning(h, cpid);
      const exit = await h.next();
      const exited = await h.exited;
      return { exit, exited, stdout: h.stdout, cpid };
    }

    const ok = await runAttached(attached(['sh', '-c', 'echo hello; exit 3']));
    t.equal(ok.stdout, 'hello\n');
    t.equal(ok.exit?.type, 'EXIT');
    t.equal(ok.exit?.payload.readInt32LE(0), 3 << 8, 'EXIT: status of exit(3)');
    t.same(ok.exited, { code: 3, signal: null }, 'P exits 3');

    const killed = await runAttached(attached(['sh', '-c', 'kill -KILL $$']));
    t.equal(killed.exit?.payload.readInt32LE(0), 9, 'EXIT: killed by SIGKILL');
    t.same(killed.exited, { code: 137, signal: null }, 'P exits 128 + 9');

    // SIGTERM to P reaches the container process.
    const fwd = await runAttached(attached(['sh', '-c', 'echo up; exec sleep 30']), async (h) => {
      while (!h.stdout.includes('up')) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50)); // let sh exec sleep
      h.child.kill('SIGTERM');
    });
    t.equal(fwd.exit?.payload.readInt32LE(0), 15, 'EXIT: killed by the forwarded SIGTERM');
    t.same(fwd.exited, { code: 143, signal: null }, 'P exits 128 + 15');

    // In its own pid namespace the program is pid 1 and P still reaps it.
    const pid1 = await runAttached(attached(['sh', '-c', 'echo $$'], true));
    t.equal(pid1.stdout, '1\n');
    t.same(pid1.exited, { code: 0, signal: null });
  });

  t.test('P steps, SYNC/CONTINUE, hooks, sysctl, read-only root', async (t) => {
    const b = makeBundle();
    t.teardown(b.remove);
    const stateFile = join(b.host, 'state.json');
    const hookEnvFile = join(b.host, 'hook.env');
    const script = [
      'echo nofile=$(ulimit -n)',
      'echo oom=$(cat /proc/self/oom_score_adj)',
      'echo forward=$(cat /proc/sys/net/ipv4/ip_forward)',
      'echo uptime=$(cat /proc/uptime)',
      'echo domain=$(cat /proc/sys/kernel/domainname)',
      'touch /newfile 2>/dev/null && echo root=writable || echo root=readonly',
      'touch /tmp/ok && echo tmp=writable',
    ].join('\n');
    const steps: PlanStep[] = [
      st('RLIMIT', { resource: 7, soft: 777, hard: 888 }),
      st('OOM_SCORE_ADJ', { value: 321 }),
      st('NEW_TIMENS', { offsets: 'boottime 864000 0\n' }),
      st('CLONE', { flags: CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNET, detached: 0 }),
      ...rootfsSteps(b.rootfs),
      st('SYNC', { point: 1 }),
      st('HOOK', { path: '/bin/sh', args: ['sh', '-c', `cat > ${stateFile}; echo "$HOOK_VAR" > ${hookEnvFile}`], env: ['HOOK_VAR=from-plan'], timeout: 10, kind: 1 }),
      st('SYSCTL', { key: 'net.ipv4.ip_forward', value: '1' }),
      st('DOMAINNAME', { name: 'example.org' }),
      st('PIVOT_ROOT'),
      st('REMOUNT_ROOT_RO'),
      ...processSteps(script, { cwd: '/' }),
    ];
    const h = new Helper();
    h.sendPlan({ steps });
    const first = await h.next();
    t.equal(first?.type, 'PID');
    const sync = await h.next();
    t.equal(sync && describe(sync), 'SYNC', 'SYNC before READY');
    t.equal(sync?.payload.readUInt32LE(0), 1, 'sync point 1');
    h.send('CONTINUE', Buffer.from('{"ociVersion":"1.2.0","id":"c1"}'));
    const ready = await h.next();
    t.equal(ready && describe(ready), 'READY');
    const exit = await h.next();
    t.equal(exit?.type, 'EXIT');
    t.same(await h.exited, { code: 0, signal: null }, `P exits 0 ${h.stderr}`);
    t.equal(readFileSync(stateFile, 'utf8'), '{"ociVersion":"1.2.0","id":"c1"}', 'the hook read the state on stdin');
    t.equal(readFileSync(hookEnvFile, 'utf8'), 'from-plan\n', 'the hook got its own environment');
    const out = h.stdout;
    t.match(out, /nofile=777/, 'RLIMIT inherited');
    t.match(out, /oom=321/, 'OOM_SCORE_ADJ inherited');
    t.match(out, /forward=1/, 'SYSCTL written in the container network namespace');
    t.ok(Number(/uptime=([\d.]+)/.exec(out)?.[1]) >= 864000, 'born in the new time namespace (boottime offset)');
    t.match(out, /domain=example.org/);
    t.match(out, /root=readonly/, 'REMOUNT_ROOT_RO');
    t.match(out, /tmp=writable/, 'mounts below the root keep their own flags');
  });

  t.test('a failing or slow hook is reported with its status', async (t) => {
    const b = makeBundle();
    t.teardown(b.remove);
    const cases: [string, PlanStep, number, RegExp][] = [
      ['exit 7', st('HOOK', { path: '/bin/sh', args: ['sh', '-c', 'exit 7'], env: [], timeout: 0, kind: 1 }), 10, /^hook "\/bin\/sh": exit status 7$/],
      ['timeout', st('HOOK', { path: '/bin/sh', args: ['sh', '-c', 'exec sleep 30'], env: [], timeout: 1, kind: 1 }), 110, /^hook "\/bin\/sh": killed after its timeout of 1 seconds$/],
      ['missing', st('HOOK', { path: '/no/such/hook', args: ['x'], env: [], timeout: 0, kind: 1 }), 10, /^hook "\/no\/such\/hook": exit status 127$/],
    ];
    for (const [name, hook, errno, re] of cases) {
      const steps = [st('CLONE', { flags: CLONE.NEWNS, detached: 0 }), ...rootfsSteps(b.rootfs), hook, st('PIVOT_ROOT'), ...processSteps('true')];
      const h = new Helper();
      const started = Date.now();
      h.sendPlan({ steps });
      const msgs = await untilReady(h);
      t.teardown(() => killPid(pidOf(msgs)));
      const err = errorOf(msgs.at(-1)!);
      t.equal(err.step, steps.indexOf(hook), `${name}: step`);
      t.equal(err.errno, errno === 10 ? 10 : 110, `${name}: errno`);
      t.match(err.detail, re, `${name}: detail`);
      if (name === 'timeout') t.ok(Date.now() - started < 5000, 'killed at the timeout');
      t.equal((await h.exited).code, 1, `${name}: P exits with C's status 1`);
    }
  });

  t.test('CONSOLE: a pty from TIOCGPTPEER, its master sent to the console socket', { skip: existsSync('/usr/bin/python3') ? false : 'needs python3 to receive SCM_RIGHTS' }, async (t) => {
    const b = makeBundle();
    t.teardown(b.remove);
    const sock = join(b.dir, 'console.sock');
    // Node cannot receive SCM_RIGHTS: a few lines of Python play the console socket's owner.
    const receiver = spawn('/usr/bin/python3', ['-c', [
      'import socket, os, sys, array',
      's = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); print("listening", flush=True)',
      'c, _ = s.accept()',
      'msg, anc, _, _ = c.recvmsg(64, socket.CMSG_SPACE(4))',
      'fd = array.array("i", anc[0][2][:4])[0]',
      'out = b""',
      'while True:',
      '    try: d = os.read(fd, 4096)',
      '    except OSError: break',
      '    if not d: break',
      '    out += d',
      'sys.stdout.write(msg.decode() + "|" + out.decode())',
    ].join('\n'), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => killPid(receiver.pid));
    let got = '';
    receiver.stdout.on('data', (d: Buffer) => (got += d.toString()));
    const receiverDone = new Promise((r) => receiver.on('exit', r));
    while (!got.includes('listening')) await new Promise((r) => setTimeout(r, 10));
    got = '';
    const steps: PlanStep[] = [
      st('CLONE', { flags: CLONE.NEWNS | CLONE.NEWPID, detached: 0 }),
      st('SETSID'),
      ...rootfsSteps(b.rootfs),
      st('SYMLINK', { target: '/proc/sysrq-trigger', path: '/dev/console' }),
      st('CONSOLE', { socket: sock, rows: 30, cols: 100 }),
      st('PIVOT_ROOT'),
      ...processSteps('echo console=$(stat -c %t:%L /dev/console) size=$(stty size) tty=$(tty)', { cwd: '/' }),
    ];
    const h = new Helper();
    h.sendPlan({ steps });
    const msgs = await untilReady(h);
    t.teardown(() => killPid(pidOf(msgs)));
    t.same(msgs.map((m) => m.type), ['PID', 'READY'], msgs.map(describe).join(', '));
    t.same(await h.exited, { code: 0, signal: null });
    await receiverDone;
    // The receiver's report can follow a newline the pty emitted first: anchor after it.
    t.match(got.trimStart(), /^\/dev\/ptmx\|/, 'SCM_RIGHTS message with the payload "/dev/ptmx"');
    t.match(got, /console=88:/, '/dev/console is a pts device (major 136), not the planted symlink');
    t.match(got, /size=30 100/, 'the console size is applied');
    t.match(got, /tty=\/dev\/pts\/0/, 'the pty is the controlling terminal and stdio');
    t.equal(h.stdout, '', 'nothing went to the original stdout');
  });

  t.test('a new user namespace: maps written by P, device nodes bound from the host', async (t) => {
    const b = makeBundle();
    t.teardown(b.remove);
    const script = 'echo uid=$(id -u) map=$(cat /proc/self/uid_map | tr -s " " " ") null=$(stat -c %t:%T /dev/null); echo hi > /dev/null && echo null-ok';
    const plan: Plan = {
      steps: [
        st('USER_MAPS', { uidMap: '0 100000 65536\n', gidMap: '0 100000 65536\n', setgroups: 'deny' }),
        st('CLONE', { flags: CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS, detached: 0 }),
        ...rootfsSteps(b.rootfs),
        st('HOSTNAME', { name: 'userns' }),
        st('PIVOT_ROOT'),
        // The rootfs belongs to host root, unmapped here: work in the container's own tmpfs.
        ...processSteps(script, { cwd: '/tmp/work' }).map((s) => (s.op === 'USER' ? st('USER', { uid: 0, gid: 0, additionalGids: [], setgroups: 0 }) : s)),
      ],
    };
    const h = new Helper();
    h.sendPlan(plan);
    const msgs = await untilReady(h);
    const cpid = pidOf(msgs);
    t.teardown(() => killPid(cpid));
    t.same(msgs.map((m) => m.type), ['PID', 'READY'], msgs.map(describe).join(', '));
    const exit = await h.next();
    t.equal(exit?.type, 'EXIT');
    t.same(await h.exited, { code: 0, signal: null }, `P exits 0 (${h.stderr})`);
    t.match(h.stdout, /uid=0 map= ?0 100000 65536/, 'root in the container is uid 100000 on the host');
    t.match(h.stdout, /null=1:3/, '/dev/null is the host node (mknod is refused in a user namespace)');
    t.match(h.stdout, /null-ok/);
  });
}
