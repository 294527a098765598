/**
 * process.terminal with --console-socket, as conmon and go-runc receive it
 * (oci-contract.md 2.3, 2.7): one message with a non-empty payload under
 * 4096 bytes and exactly one SCM_RIGHTS fd (the pty master), already sent
 * when create returns; consoleSize applied; /dev/console is the pty; the
 * same for exec --tty; and runc's combination errors.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hasPython, setup, tsrunBin, writeBundleConfig } from './common.js';

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

/** The lines of a pty's output, without the carriage returns its ONLCR adds. */
const ptyLines = (s: string) => s.replace(/\r/g, '').split('\n').map((l) => l.trim()).filter(Boolean);

t.test('foreground run with terminal and no console socket: a pty of the container, proxied to tsrun\'s stdio', async (t) => {
  const env = await setup(t, ['/bin/sh', '-c', 'read x; echo "got $x"; tty; test -t 0 && echo stdin-tty; stty size; exit 7'], (c) => {
    c.process.terminal = true;
    c.process.consoleSize = { height: 30, width: 100 };
  });
  const r = await env.tsrun(['run', '--bundle', env.bundle.dir, 'cli-tty6'], { input: 'abc\n', timeoutMs: 20_000 });
  t.equal(r.code, 7, `the container's exit status: ${r.stderr}`);
  const lines = ptyLines(r.stdout);
  t.ok(lines.includes('got abc'), `stdin reached the process through the pty: ${JSON.stringify(lines)}`);
  t.ok(lines.some((l) => /^\/dev\/pts\/\d+$/.test(l)), 'its stdio is a pty of the container\'s devpts');
  t.ok(lines.includes('stdin-tty'));
  t.ok(lines.includes('30 100'), 'consoleSize applied (tsrun\'s stdin is no terminal to copy a size from)');
  t.equal(await env.info('cli-tty6'), undefined, 'deleted after it exited');
});

t.test('foreground run with terminal: the end of tsrun\'s stdin reaches the process as the pty\'s EOF', async (t) => {
  const env = await setup(t, ['/bin/cat'], (c) => {
    c.process.terminal = true;
  });
  // Without the EOF character, cat would read the pty forever and tsrun would never exit.
  const r = await env.tsrun(['run', '--bundle', env.bundle.dir, 'cli-tty7'], { input: 'line1\nline2\n', timeoutMs: 20_000 });
  t.equal(r.code, 0, r.stderr);
  const lines = ptyLines(r.stdout);
  t.ok(lines.filter((l) => l === 'line2').length >= 1, `cat copied its input: ${JSON.stringify(lines)}`);
});

t.test('exec -t in the foreground: a pty proxied to tsrun\'s stdio; exit status passed on', async (t) => {
  const env = await setup(t, ['/probe', 'sleep', '600']);
  await env.launch('cli-tty8');
  const r = await env.tsrun(['exec', '-t', 'cli-tty8', '/bin/sh', '-c', 'read x; echo "exec got $x"; tty; exit 3'], { input: 'xyz\n', timeoutMs: 20_000 });
  t.equal(r.code, 3, r.stderr);
  const lines = ptyLines(r.stdout);
  t.ok(lines.includes('exec got xyz'), JSON.stringify(lines));
  t.ok(lines.some((l) => /^\/dev\/pts\/\d+$/.test(l)), 'its stdio is a pty');
  t.equal((await env.tsrun(['kill', 'cli-tty8', 'KILL'])).code, 0);
});

/*
 * tsrun under a real terminal (pty.fork): its terminal goes raw while the
 * container runs and is restored after; the size is copied at the start and
 * after a SIGWINCH; ^C is a byte the container's pty turns into its SIGINT.
 */
const TERMINAL_DRIVER = String.raw`
import fcntl, json, os, pty, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 25, 90, 0, 0))
out = b""
def read_until(token, timeout=15):
    global out
    end = time.time() + timeout
    while token not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                return
            if not d:
                return
            out += d
echo = lambda: bool(termios.tcgetattr(fd)[3] & termios.ECHO)
before = echo()
read_until(b"READY")
during = echo()
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
time.sleep(0.5)
os.write(fd, b"go\r")
read_until(b"WAIT")
time.sleep(0.3)
os.write(fd, b"\x03")
read_until(b"got-int")
_, status = os.waitpid(pid, 0)
read_until(b"\0", 0.5)
print(json.dumps({"out": out.decode(errors="replace"), "status": os.waitstatus_to_exitcode(status), "echoBefore": before, "echoDuring": during, "echoAfter": echo()}))
`;

t.test('foreground run under a terminal: raw while it runs, restored after; size at start and on SIGWINCH; ^C reaches the container', { skip: hasPython ? false : 'needs python3' }, async (t) => {
  const script = 'stty size; echo READY; read x; stty size; echo "got $x"; trap "echo got-int; exit 9" INT; echo WAIT; while :; do sleep 0.1; done';
  const env = await setup(t, ['/bin/sh', '-c', script], (c) => {
    c.process.terminal = true;
  });
  const driver = join(env.scratch, 'driver.py');
  writeFileSync(driver, TERMINAL_DRIVER);
  const py = spawnSync('python3', [driver, tsrunBin, '--root', env.root, 'run', '--bundle', env.bundle.dir, 'cli-tty9'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(py.status, 0, py.stderr);
  const r = JSON.parse(py.stdout) as { out: string; status: number; echoBefore: boolean; echoDuring: boolean; echoAfter: boolean };
  const lines = ptyLines(r.out);
  t.equal(r.status, 9, `the container's status after its SIGINT trap: ${JSON.stringify(lines)}`);
  t.ok(r.echoBefore, 'the terminal echoes before');
  t.notOk(r.echoDuring, 'raw (no echo) while the container runs');
  t.ok(r.echoAfter, 'restored after');
  t.equal(lines[0], '25 90', 'the terminal\'s size copied to the pty at the start');
  t.ok(lines.includes('40 120'), `the new size after SIGWINCH: ${JSON.stringify(lines)}`);
  t.ok(lines.includes('got go'), 'input through the pty (CR turned into NL by the container\'s pty)');
  t.equal(lines.filter((l) => l === 'go').length, 1, 'echoed once, by the container\'s pty alone');
  t.ok(lines.some((l) => l.endsWith('got-int')), '^C (echoed as "^C" by the container\'s pty) became SIGINT inside the container, and tsrun lived on to report the status');
  t.equal(await env.info('cli-tty9'), undefined, 'deleted after it exited');
});
