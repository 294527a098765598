/**
 * H.3, TIOCSTI through a host terminal (runc docs/terminals.md): with
 * `terminal: false` the container's stdio is whatever tsrun was given, here
 * the terminal of the shell that ran tsrun. If the container's process were
 * in that terminal's session, `ioctl(0, TIOCSTI, c)` would push keystrokes
 * into the host shell's input. tsrun puts every container process, the init
 * and each exec, in a session of its own, so the terminal is not its
 * controlling terminal and the kernel refuses (EPERM without CAP_SYS_ADMIN).
 * The control shows the same ioctl works for a process of that session.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeBin, tsrunBin } from '../helpers/paths.js';
import { setup } from './harness.js';

// Runs argv with a new pty as its controlling terminal and stdio; prints what it wrote.
const UNDER_PTY = String.raw`
import os, pty, sys, select, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
end = time.time() + 30
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    else:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
sys.stdout.write(out.decode(errors="replace"))
`;

const hasPython = spawnSync('python3', ['-c', '1']).status === 0;

t.test('TIOCSTI into the host terminal is refused for the container init and for exec', { skip: hasPython ? false : 'needs python3 (pty.fork)' }, async (t) => {
  const { bundle, state } = await setup(t, ['/probe', 'tiocsti']);
  const driver = join(state.root, '..', `pty-${process.pid}.py`);
  writeFileSync(driver, UNDER_PTY);
  t.teardown(() => spawnSync('rm', ['-f', driver]));
  const underPty = (argv: string[]) => spawnSync('python3', [driver, ...argv], { encoding: 'utf8', timeout: 60_000 }).stdout.replace(/\r/g, '');

  t.match(underPty([probeBin, 'tiocsti']), /tiocsti ok/, 'control: a process of the terminal\'s session may inject');

  t.match(underPty([tsrunBin, '--root', state.root, 'run', '--bundle', bundle.dir, 'sti1']), /tiocsti EPERM/, 'the container init may not (a session of its own)');

  bundle.config.process.args = ['/probe', 'sleep', '600'];
  writeFileSync(bundle.configPath, JSON.stringify(bundle.config));
  const r = spawnSync(tsrunBin, ['--root', state.root, 'run', '-d', '--bundle', bundle.dir, 'sti2'], { stdio: 'ignore' });
  t.equal(r.status, 0);
  t.match(underPty([tsrunBin, '--root', state.root, 'exec', 'sti2', '/probe', 'tiocsti']), /tiocsti EPERM/, 'an exec\'d process (no -t) may not either');
  t.equal(spawnSync(tsrunBin, ['--root', state.root, 'delete', '--force', 'sti2']).status, 0);
});
