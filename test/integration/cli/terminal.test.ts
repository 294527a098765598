/**
 * process.terminal with --console-socket, as conmon and go-runc receive it
 * (oci-contract.md 2.3, 2.7): one message with a non-empty payload under
 * 4096 bytes and exactly one SCM_RIGHTS fd (the pty master), already sent
 * when create returns; consoleSize applied; /dev/console is the pty; the
 * same for exec --tty; and runc's combination errors.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hasPython, setup, writeBundleConfig } from './common.js';

/*
 * Listens on the socket; after "go" on stdin, takes the one message without
 * waiting (it must be there already), checks its shape, then reads the
 * master until "DONE" or 10 s and prints one JSON line.
 */
const RECEIVER = String.raw`
import array, json, os, socket, sys, time
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print(json.dumps({"listening": True}), flush=True)
conn, _ = srv.accept()
sys.stdin.readline()
fds = array.array("i")
msg, anc, flags, _ = conn.recvmsg(4096, socket.CMSG_SPACE(16 * fds.itemsize), socket.MSG_DONTWAIT)
nfds = 0
cmsgs = []
for level, typ, data in anc:
    cmsgs.append([level, typ, len(data)])
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
rest = conn.recv(4096)
out = b""
if len(fds) == 1:
    m = fds[0]
    end = time.time() + 10
    while time.time() < end and b"DONE" not in out:
        try:
            d = os.read(m, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
print(json.dumps({"payload": msg.decode(errors="replace"), "cmsgs": cmsgs, "nfds": len(fds), "flags": flags, "more": len(rest), "output": out.decode(errors="replace")}), flush=True)
`;

interface Received {
  payload: string;
  cmsgs: [number, number, number][];
  nfds: number;
  flags: number;
  more: number;
  output: string;
}

async function receiver(dir: string, name: string): Promise<{ path: string; go(): Promise<Received> }> {
  const script = join(dir, 'receiver.py');
  writeFileSync(script, RECEIVER);
  const path = join(dir, name);
  const py = spawn('python3', [script, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const it = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  await it.next();
  return {
    path,
    async go() {
      py.stdin.write('go\n');
      const r = await it.next();
      py.stdin.end();
      if (r.done) throw new Error('receiver ended without a report');
      return JSON.parse(r.value) as Received;
    },
  };
}

t.test('create with terminal and --console-socket: one message, one fd, before create returns; size; /dev/console', { skip: hasPython ? false : 'needs python3' }, async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'stty size; tty; [ "$(stat -c %t:%T /dev/console)" = "$(stat -L -c %t:%T /proc/self/fd/0)" ] && echo console-is-pty; echo DONE; sleep 2'], (c) => {
    c.process.terminal = true;
    c.process.consoleSize = { height: 33, width: 111 };
  });
  const rx = await receiver(env.scratch, 'console.sock');
  const c = await env.tsrun(['create', '--bundle', env.bundle.dir, '--console-socket', rx.path, 'cli-tty1']);
  t.equal(c.code, 0, c.stderr);
  t.equal(c.stdout, '', 'nothing of the container on tsrun\'s stdout');
  t.equal((await env.tsrun(['start', 'cli-tty1'])).code, 0);
  const r = await rx.go();
  t.ok(r.payload.length > 0 && Buffer.byteLength(r.payload) < 4096, `payload non-empty and < 4096 bytes: ${JSON.stringify(r.payload)}`);
  t.equal(r.cmsgs.length, 1, 'one control message');
  t.equal(r.nfds, 1, 'exactly one fd (SCM_RIGHTS)');
  t.equal(r.more, 0, 'one message: nothing follows it');
  const lines = r.output.replace(/\r/g, '').split('\n').map((l) => l.trim()).filter(Boolean);
  t.ok(lines.includes('33 111'), `consoleSize applied: ${JSON.stringify(lines)}`);
  t.ok(lines.some((l) => /^\/dev\/pts\/\d+$/.test(l)), 'stdio is a pty of the container\'s devpts');
  t.ok(lines.includes('console-is-pty'), '/dev/console is that pty');
});

t.test('exec --tty --console-socket into a running container; the container\'s /dev/console is left alone', { skip: hasPython ? false : 'needs python3' }, async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  await env.launch('cli-tty2');
  const rx = await receiver(env.scratch, 'exec.sock');
  const e = await env.tsrun(['exec', '--tty', '--console-socket', rx.path, '--detach', 'cli-tty2', '/bin/sh', '-c', 'tty; echo DONE; sleep 1']);
  t.equal(e.code, 0, e.stderr);
  const r = await rx.go();
  t.equal(r.nfds, 1);
  t.ok(r.payload.length > 0 && r.payload.length < 4096);
  t.match(r.output, /\/dev\/pts\/\d+/, 'the process\'s stdio is a pty');
  const con = await env.tsrun(['exec', 'cli-tty2', '/bin/sh', '-c', 'grep -c " /dev/console " /proc/self/mountinfo || true']);
  t.equal(con.stdout.trim(), '0', 'no pty was bound on /dev/console by exec');
});

t.test('terminal combination errors (runc checkTerminal)', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600'], (c) => {
    c.process.terminal = true;
  });
  const r = await env.tsrun(['create', '--bundle', env.bundle.dir, 'cli-tty3']);
  t.equal(r.code, 1);
  t.match(r.stderr, 'cannot allocate tty if tsrun will detach without setting console socket');
  env.bundle.config.process.terminal = false;
  await writeBundleConfig(env.bundle);
  const r2 = await env.tsrun(['create', '--bundle', env.bundle.dir, '--console-socket', join(env.scratch, 'x.sock'), 'cli-tty4']);
  t.equal(r2.code, 1);
  t.match(r2.stderr, 'cannot use console socket');
  await env.launch('cli-tty5');
  const e = await env.tsrun(['exec', '--tty', '--detach', 'cli-tty5', '/bin/true']);
  t.equal(e.code, 255);
  t.match(e.stderr, 'cannot allocate tty');
  const e2 = await env.tsrun(['exec', '--console-socket', join(env.scratch, 'x.sock'), 'cli-tty5', '/bin/true']);
  t.equal(e2.code, 255);
  t.match(e2.stderr, 'cannot use console socket');
});
