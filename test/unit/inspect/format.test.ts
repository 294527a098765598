/**
 * lib/inspect on fixture data: mountinfo and procfs parsing, collecting
 * from a fake procfs tree, and the tree, dot and JSON views. No root.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collectReport, formatBytes, formatDot, formatJson, formatReport, formatTree, parseMountinfo, parseNsPid, parseStatPpid,
  type InspectReport,
} from '../../../lib/inspect/index.js';
import type { SavedState } from '../../../lib/runtime/state-store.js';

const MOUNTINFO = [
  '64 52 254:0 /tmp/b/rootfs / ro,relatime master:1 - ext4 /dev/vda rw',
  '65 64 0:60 / /proc rw,relatime - proc proc rw',
  '66 64 0:61 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755',
  '67 66 0:62 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666',
  '70 65 0:5 /null /proc/keys rw,relatime - devtmpfs udev rw',
  '71 64 254:0 /srv/my\\040data /mnt/with\\040space rw - ext4 /dev/vda rw',
].join('\n') + '\n';

function fixture(): InspectReport {
  return {
    id: 'web',
    status: 'running',
    bundle: '/b',
    rootfs: '/b/rootfs',
    initPid: 4242,
    processes: [
      { pid: 4242, ppid: 4200, nsPid: 1, command: ['sh', '-c', 'sleep 100 & sleep 200'], init: true },
      { pid: 4243, ppid: 4242, nsPid: 2, command: ['sleep', '100'], init: false },
      { pid: 4250, ppid: 4243, nsPid: 5, command: ['cat', 'with "quotes"'], init: false },
    ],
    namespaces: [
      { type: 'user', inode: 4026531837, sharedWithHost: true },
      { type: 'mount', inode: 4026532177, sharedWithHost: false },
      { type: 'pid', inode: 4026532180, sharedWithHost: false },
    ],
    cgroup: {
      driver: 'v2',
      paths: { unified: '/sys/fs/cgroup/tsrun/web' },
      memory: { usage: 1536 * 1024, max: 2 * 1024 * 1024, limit: 64 * 1024 * 1024, failcnt: 3 },
      pids: { current: 3, limit: null },
      cpuNs: 12_500_000,
      oomKills: 1,
    },
    mounts: parseMountinfo(MOUNTINFO),
    notes: [],
  };
}

t.test('parseMountinfo', async (t) => {
  const m = parseMountinfo(MOUNTINFO + 'garbage line\n');
  t.equal(m.length, 6);
  t.same(m[0], {
    id: 64, parentId: 52, device: '254:0', root: '/tmp/b/rootfs', mountPoint: '/', options: 'ro,relatime',
    propagation: ['master:1'], fstype: 'ext4', source: '/dev/vda', superOptions: 'rw',
  });
  t.same(m[2]!.propagation, []);
  t.equal(m[5]!.mountPoint, '/mnt/with space', 'octal escapes undone');
  t.equal(m[5]!.root, '/srv/my data');
});

t.test('procfs parsing', async (t) => {
  t.equal(parseStatPpid('4243 (sleep) S 4242 4243 4200 0 -1'), 4242);
  t.equal(parseStatPpid('4243 (a ) b) S 17 4243'), 17, 'a comm with spaces and parentheses');
  t.equal(parseStatPpid('nonsense'), undefined);
  t.equal(parseNsPid('Name:\tsh\nNSpid:\t4242\t1\n'), 1);
  t.equal(parseNsPid('NSpid:\t99\n'), 99);
  t.equal(parseNsPid('Name: x\n'), undefined);
  t.equal(formatBytes(512), '512 B');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(64 * 1024 * 1024), '64.0 MiB');
});

t.test('tree view', async (t) => {
  const s = formatTree(fixture());
  t.match(s, /^container web \(running\), init pid 4242 \(pid 1 inside\)\n/);
  t.match(s, /├─ processes \(3; host pid \[pid inside\]\)\n│  └─ 4242 \[1\] sh -c sleep 100 & sleep 200  \(init\)\n│     └─ 4243 \[2\] sleep 100\n│        └─ 4250 \[5\] cat with "quotes"\n/);
  t.match(s, /namespaces \(2 of 3 its own\)/);
  t.match(s, /user +4026531837 +shared with the host/);
  t.match(s, /mount +4026532177 +own/);
  t.match(s, /cgroup \(v2\)\n│  ├─ unified: \/sys\/fs\/cgroup\/tsrun\/web\n│  ├─ memory 1\.5 MiB of 64\.0 MiB \(peak 2\.0 MiB, limit hit 3 times, 1 OOM kills\)\n│  ├─ pids 3 of unlimited\n│  └─ cpu 0\.013 s/);
  t.match(s, /└─ mounts \(6, as the container sees them\)\n   └─ \/  ext4 \/dev\/vda \[\/tmp\/b\/rootfs\]  \(ro,relatime\)\n/);
  t.match(s, /      ├─ \/proc  proc  \(rw,relatime\)\n      │  └─ \/proc\/keys  devtmpfs udev \[\/null\]/);
  t.match(s, /      │  └─ \/dev\/pts  devpts/);
  t.notMatch(s, /notes/);
  const stopped = formatTree({ ...fixture(), status: 'stopped', initPid: 0, processes: [], namespaces: [], mounts: [], cgroup: null, notes: ['cgroup: gone'] });
  t.match(stopped, /^container web \(stopped\)\n/);
  t.match(stopped, /cgroup: none/);
  t.match(stopped, /└─ notes\n   └─ cgroup: gone/);
});

t.test('dot view', async (t) => {
  const s = formatDot(fixture());
  t.match(s, /^digraph "container web" \{\n/);
  t.match(s, /"p4242" -> "p4243" \[label="parent of"\];/);
  t.match(s, /"p4243" -> "p4250"/);
  t.match(s, /container -> "p4242" \[label="init"\];/);
  t.match(s, /"ns_user" \[label="user\\n4026531837\\nshared with host"/);
  t.match(s, /"ns_mount" -> "m64" \[label="root"\];/);
  t.match(s, /"m64" -> "m65";/);
  t.match(s, /with \\"quotes\\"/, 'quotes escaped');
  t.match(s, /container -> cgroup/);
  t.ok(s.endsWith('}\n'));
  const dot = spawnSync('dot', ['-Tsvg'], { input: s, encoding: 'utf8' });
  if (dot.error) t.comment('graphviz not installed: dot output not rendered');
  else {
    t.equal(dot.status, 0, `dot accepts it: ${dot.stderr}`);
    t.match(dot.stdout, /<svg/);
  }
});

t.test('json view and formatReport', async (t) => {
  const r = fixture();
  t.same(JSON.parse(formatJson(r)), r);
  t.equal(formatReport(r, 'json'), formatJson(r));
  t.equal(formatReport(r, 'dot'), formatDot(r));
  t.equal(formatReport(r, 'tree'), formatTree(r));
});

t.test('collectReport from a fake procfs', async (t) => {
  const proc = mkdtempSync(join(tmpdir(), 'tsrun-test-proc-'));
  t.teardown(() => rmSync(proc, { recursive: true, force: true }));
  const mk = (pid: number, ns: Record<string, number>, files: Record<string, string>) => {
    mkdirSync(join(proc, String(pid), 'ns'), { recursive: true });
    for (const [name, ino] of Object.entries(ns)) symlinkSync(`${name}:[${ino}]`, join(proc, String(pid), 'ns', name));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(proc, String(pid), f), text);
  };
  mk(1, { mnt: 100, pid: 101, uts: 102 }, {});
  mk(500, { mnt: 200, pid: 201, uts: 102 }, {
    stat: '500 (sleep) S 480 500 500 0 -1',
    cmdline: 'sleep\u0000200\u0000',
    status: 'Name:\tsleep\nNSpid:\t500\t1\n',
    mountinfo: MOUNTINFO,
  });
  const saved = { id: 'c1', bundle: '/b', rootfs: '/b/rootfs', initPid: 500, cgroup: undefined } as unknown as SavedState;
  const r = collectReport(saved, 'running', { procRoot: proc, hostPid: 1 });
  t.equal(r.initPid, 500);
  t.same(r.processes, [{ pid: 500, ppid: 480, nsPid: 1, command: ['sleep', '200'], init: true }]);
  t.same(r.namespaces.map((n) => [n.type, n.inode, n.sharedWithHost]), [['mount', 200, false], ['pid', 201, false], ['uts', 102, true]]);
  t.equal(r.cgroup, null);
  t.equal(r.mounts.length, 6);
  t.same(r.notes, []);

  const gone = collectReport({ ...saved, initPid: 777 } as SavedState, 'running', { procRoot: proc, hostPid: 1 });
  t.same(gone.processes, []);
  t.match(gone.notes.join('\n'), /process 777 exited/);
  t.match(gone.notes.join('\n'), /mounts:/);

  const stopped = collectReport(saved, 'stopped', { procRoot: proc, hostPid: 1 });
  t.equal(stopped.initPid, 0);
  t.same(stopped.processes, []);
  t.same(stopped.mounts, []);
});
