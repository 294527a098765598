/**
 * A small subreaper parent, as containerd's shim and conmon are: python3
 * sets PR_SET_CHILD_SUBREAPER, runs one tsrun command, waits for it, then
 * reports which processes are its children (the container init or the
 * detached exec'd process must be one of them, and nothing of tsrun), and
 * reaps on request, so a test can also look at a zombie init.
 *
 * Protocol on stdin/stdout, one JSON line each way:
 *   -> {"tsrun": <exit status>, "pid": <pid file content or null>, "children": [[pid, "comm"], ...], "me": <pid>}
 *   <- "reap <pid>\n"   -> {"reaped": <pid>, "status": <wait status>}
 *   <- "exit\n"
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const SCRIPT = String.raw`
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    raise SystemExit("prctl failed")
pidfile, argv = sys.argv[1], sys.argv[2:]
devnull = os.open("/dev/null", os.O_RDWR)
child = os.fork()
if child == 0:
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.execv(argv[0], argv)
_, st = os.waitpid(child, 0)
code = os.waitstatus_to_exitcode(st)
try:
    pid = int(open(pidfile).read())
except Exception:
    pid = None
me = os.getpid()
children = []
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        s = open("/proc/%s/stat" % d).read()
    except OSError:
        continue
    comm = s[s.index("(") + 1 : s.rindex(")")]
    ppid = int(s[s.rindex(")") + 2 :].split()[1])
    if ppid == me:
        children.append([int(d), comm])
print(json.dumps({"tsrun": code, "pid": pid, "children": children, "me": me}), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd and cmd[0] == "reap":
        p, st = os.waitpid(int(cmd[1]), 0)
        print(json.dumps({"reaped": p, "status": st}), flush=True)
    elif cmd and cmd[0] == "exit":
        break
`;

export interface SubreaperReport {
  tsrun: number;
  pid: number | null;
  children: [number, string][];
  me: number;
}

export interface Subreaper {
  report: SubreaperReport;
  /** waitpid()s `pid` in the subreaper; returns the wait status. */
  reap(pid: number): Promise<number>;
  /** Ends the subreaper (its remaining children are re-parented to init). */
  close(): Promise<void>;
}

/** Runs `argv` (absolute tsrun path first) under a fresh python3 subreaper. */
export async function underSubreaper(scratch: string, pidFile: string, argv: string[]): Promise<Subreaper> {
  const script = join(scratch, 'subreaper.py');
  writeFileSync(script, SCRIPT);
  const py: ChildProcessWithoutNullStreams = spawn('python3', [script, pidFile, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  py.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: py.stdout });
  const it = lines[Symbol.asyncIterator]();
  const next = async (): Promise<any> => {
    const r = await it.next();
    if (r.done) throw new Error(`subreaper ended: ${stderr}`);
    return JSON.parse(r.value);
  };
  const exited = new Promise<void>((r) => py.on('exit', () => r()));
  const report = (await next()) as SubreaperReport;
  return {
    report,
    async reap(pid) {
      py.stdin.write(`reap ${pid}\n`);
      return (await next()).status as number;
    },
    async close() {
      py.stdin.end('exit\n');
      await exited;
    },
  };
}
