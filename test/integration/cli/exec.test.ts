/**
 * exec with runc's flags and argument order, run in the foreground and
 * detached, and ps (oci-contract.md 2.2-2.4, 3.9): the exec'd process joins
 * every namespace and the cgroup of the container, a detached one is left
 * to the caller's subreaper, a foreground one forwards signals and exits
 * with the process's status.
 */
import t from 'tap';
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, hasPython, procStat, runTsrun, setup, sleep, tsrunBin, waitGone } from './common.js';
import { underSubreaper } from './subreaper.js';

const NS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'uts', 'user'];

function ns(pid: number, n: string): string {
  return readlinkSync(`/proc/${pid}/ns/${n}`);
}

t.test('exec --detach --pid-file: the process joins every namespace and the cgroup, and is the subreaper\'s child', { skip: hasPython ? false : 'needs python3' }, async (t) => {
  const env = await setup(t);
  const init = await env.launch('cli-x1');
  const pidFile = join(env.scratch, 'exec.pid');
  const sr = await underSubreaper(env.scratch, pidFile, [tsrunBin, '--root', env.root, 'exec', '--detach', '--pid-file', pidFile, 'cli-x1', '/probe', 'sleep', '600']);
  t.teardown(() => sr.close());
  t.equal(sr.report.tsrun, 0);
  const pid = sr.report.pid!;
  t.match(readFileSync(pidFile, 'utf8'), /^\d+$/, 'decimal, no newline');
  t.same(sr.report.children.map((c) => c[0]), [pid], 'the exec\'d process is the only child of the subreaper');
  t.equal(procStat(pid)?.[1], String(sr.report.me));
  for (const n of NS) t.equal(ns(pid, n), ns(init.pid, n), `${n} namespace of the init`);
  t.equal(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), readFileSync(`/proc/${init.pid}/cgroup`, 'utf8'), 'the cgroup of the init, in every hierarchy');
  const ps = JSON.parse((await env.tsrun(['ps', '--format', 'json', 'cli-x1'])).stdout) as number[];
  t.same(ps.sort(), [init.pid, pid].sort(), 'ps --format json: the host pids of the container');
  process.kill(pid, 'SIGKILL');
  t.equal((await sr.reap(pid)) & 0x7f, 9);
});

t.test('foreground exec: exit status, 128+signal, forwarded signals; exec flags', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600'], (c) => {
    c.process.noNewPrivileges = false;
  });
  const init = await env.launch('cli-x2');
  const e = await env.tsrun(['exec', 'cli-x2', '/bin/sh', '-c', 'exit 7']);
  t.equal(e.code, 7, 'the process\'s exit status');
  const k = await env.tsrun(['exec', 'cli-x2', '/bin/sh', '-c', 'kill -KILL $$']);
  t.equal(k.code, 137, '128 + SIGKILL');
  // A signal to tsrun exec reaches the process.
  const fwd = env.tsrun(['exec', 'cli-x2', '/bin/sh', '-c', 'trap "exit 42" USR1; echo ready > /dev/shm/fwd; while :; do sleep 0.05; done'], {
    onSpawn: (pid) => {
      void (async () => {
        for (let i = 0; i < 200; i++) {
          await sleep(25);
          const r = await env.tsrun(['exec', 'cli-x2', '/bin/cat', '/dev/shm/fwd']);
          if (r.stdout.includes('ready')) break;
        }
        process.kill(pid, 'SIGUSR1');
      })();
    },
  });
  t.equal((await fwd).code, 42, 'SIGUSR1 sent to tsrun exec is forwarded; its status comes back');
  const term = env.tsrun(['exec', 'cli-x2', '/bin/sh', '-c', 'echo ready > /dev/shm/fwd2; exec sleep 600'], {
    onSpawn: (pid) => {
      void (async () => {
        for (let i = 0; i < 200; i++) {
          await sleep(25);
          const r = await env.tsrun(['exec', 'cli-x2', '/bin/cat', '/dev/shm/fwd2']);
          if (r.stdout.includes('ready')) break;
        }
        await sleep(100);
        process.kill(pid, 'SIGTERM');
      })();
    },
  });
  t.equal((await term).code, 143, 'SIGTERM forwarded, 128 + 15');

  const flags = await env.tsrun(['exec', '--cwd', '/tmp', '--env', 'FOO=bar', '-e', 'BAZ=qux', '--user', '1000:1001', '--additional-gids', '5', '--additional-gids', '6', 'cli-x2', '/bin/sh', '-c', 'pwd; echo $FOO $BAZ; id -u; id -g; id -G']);
  t.equal(flags.code, 0, flags.stderr);
  t.same(flags.stdout.trim().split('\n'), ['/tmp', 'bar qux', '1000', '1001', '1001 5 6']);
  const u = await env.tsrun(['exec', '--user', '1234', 'cli-x2', '/bin/sh', '-c', 'id -u; id -g']);
  t.same(u.stdout.trim().split('\n'), ['1234', '0'], '--user UID: gid 0');
  const capOf = async (extra: string[]) => {
    const r = await env.tsrun(['exec', ...extra, 'cli-x2', '/bin/sh', '-c', 'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status']);
    const m = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/:\s+/)));
    return { eff: BigInt('0x' + m.CapEff), nnp: m.NoNewPrivs };
  };
  const plain = await capOf([]);
  const withCap = await capOf(['--cap', 'CAP_SYS_ADMIN', '--cap', 'CAP_NET_RAW']);
  t.equal(plain.eff & (1n << 21n), 0n, 'no CAP_SYS_ADMIN by default');
  t.equal(withCap.eff & ((1n << 21n) | (1n << 13n)), (1n << 21n) | (1n << 13n), '--cap adds capabilities');
  t.equal(plain.nnp, '0');
  t.equal((await capOf(['--no-new-privs'])).nnp, '1', '--no-new-privs');
  // --process F: runc's process.json, with its own env and cwd.
  const pf = join(env.scratch, 'process.json');
  writeFileSync(pf, JSON.stringify({ args: ['/bin/sh', '-c', 'echo $P; pwd; exit 3'], env: ['P=from-file', 'PATH=/bin'], cwd: '/etc', user: { uid: 0, gid: 0 } }));
  const p = await env.tsrun(['exec', '--process', pf, 'cli-x2']);
  t.equal(p.code, 3);
  t.equal(p.stdout, 'from-file\n/etc\n');
  // Errors: runc's wording and exec's exit status 255.
  const nf = await env.tsrun(['exec', 'cli-x2', 'nosuchcmd']);
  t.equal(nf.code, 255);
  t.match(nf.stderr, /exec: \\?"nosuchcmd\\?": executable file not found in \$PATH/);
  const pd = await env.tsrun(['exec', 'cli-x2', '/etc/passwd']);
  t.equal(pd.code, 255);
  t.match(pd.stderr, /exec: \\?"\/etc\/passwd\\?": permission denied/);
  const none = await env.tsrun(['exec', 'nosuch', '/bin/true']);
  t.match(none.stderr, 'container does not exist');
  // Paused: refused unless --ignore-paused.
  t.equal((await env.tsrun(['pause', 'cli-x2'])).code, 0);
  const paused = await env.tsrun(['exec', 'cli-x2', '/bin/true']);
  t.equal(paused.code, 255);
  t.match(paused.stderr, 'cannot exec in a paused container (use --ignore-paused to override)');
  const ig = await env.tsrun(['exec', '--ignore-paused', '--detach', 'cli-x2', '/bin/true']);
  t.equal(ig.code, 0, `--ignore-paused: ${ig.stderr}`);
  t.equal((await env.tsrun(['resume', 'cli-x2'])).code, 0);
  t.equal((await env.tsrun(['kill', 'cli-x2', 'KILL'])).code, 0);
  await env.waitStatus('cli-x2', 'stopped');
  const st = await env.tsrun(['exec', 'cli-x2', '/bin/true']);
  t.match(st.stderr, 'cannot exec in a stopped container');
  t.ok(await waitGone(init.pid));
});

t.test('exec --preserve-fds N: fds 3..3+N-1 reach the process; fds that are not open are an error', async (t) => {
  const env = await setup(t);
  await env.launch('cli-x3');
  const f = join(env.scratch, 'preserved.txt');
  writeFileSync(f, 'through fd 3\n');
  const fd = openSync(f, 'r');
  t.teardown(() => closeSync(fd));
  const r = await env.tsrun(['exec', '--preserve-fds', '1', 'cli-x3', '/bin/sh', '-c', 'cat <&3; ls /proc/self/fd | sort -n | tr "\\n" " "'], { extraFds: [fd] });
  t.equal(r.code, 0, r.stderr);
  const [line, fds] = r.stdout.split('\n');
  t.equal(line, 'through fd 3');
  t.same(fds!.trim().split(' ').map(Number).filter((n) => n > 2 && n !== 3).length, 1, `only fd 3 and ls's own directory fd beyond stdio: ${fds}`);
  const bad = await env.tsrun(['exec', '--preserve-fds', '2', 'cli-x3', '/bin/true'], { extraFds: [fd] });
  t.equal(bad.code, 255);
  t.match(bad.stderr, 'file descriptor 4 is not open');
  const noFds = await env.tsrun(['exec', 'cli-x3', '/bin/sh', '-c', 'ls /proc/self/fd | sort -n | tr "\\n" " "'], { extraFds: [fd] });
  t.same(noFds.stdout.trim().split(' ').map(Number).filter((n) => n > 2).length, 1, `without --preserve-fds, tsrun's fd 3 does not reach the process: ${noFds.stdout}`);
});

t.test('run in the foreground and with --detach; ps --format table', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'echo hello from run; exit 5']);
  const fg = await env.tsrun(['run', '--bundle', env.bundle.dir, 'cli-r1']);
  t.equal(fg.code, 5, 'foreground run exits with the container\'s status');
  t.equal(fg.stdout, 'hello from run\n');
  t.equal((await env.tsrun(['state', 'cli-r1'])).code, 1, 'and deletes it');
  env.bundle.config.process.args = ['/probe', 'sleep', '600'];
  writeFileSync(env.bundle.configPath, JSON.stringify(env.bundle.config));
  const pidFile = join(env.scratch, 'run.pid');
  const d = await env.tsrun(['run', '-d', '--bundle', env.bundle.dir, '--pid-file', pidFile, 'cli-r2']);
  t.equal(d.code, 0, d.stderr);
  const st = await env.info('cli-r2');
  t.equal(st.status, 'running', 'run --detach leaves it running');
  t.equal(String(st.pid), readFileSync(pidFile, 'utf8'));
  t.ok(alive(st.pid));
  const table = await env.tsrun(['ps', 'cli-r2']);
  t.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  t.match(lines[0], /\bPID\b/, 'a header with a PID column');
  t.equal(lines.length, 2, 'one process');
  t.match(lines[1], new RegExp(`\\b${st.pid}\\b`));
  const psArgs = await env.tsrun(['ps', 'cli-r2', '-o', 'pid,comm']);
  t.match(psArgs.stdout, new RegExp(`^\\s*PID\\s+COMMAND\\n\\s*${st.pid}\\s+\\S+\\n$`), 'ps options are passed to ps');
  t.equal((await env.tsrun(['delete', '--force', 'cli-r2'])).code, 0);
  const gone = await env.tsrun(['ps', 'cli-r2']);
  t.match(gone.stderr, 'container does not exist');
});

t.test('exec into a created container (before start) works, as runc allows', async (t) => {
  const env = await setup(t);
  await env.launch('cli-x4', { created: true });
  const r = await runTsrun(['--root', env.root, 'exec', 'cli-x4', '/bin/echo', 'in created'], {});
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'in created\n');
  t.equal((await env.info('cli-x4')).status, 'created', 'still created');
});
