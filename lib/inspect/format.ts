/**
 * The three views of an {@link InspectReport}: a text tree for people, a
 * Graphviz graph (`tsrun inspect --format dot <id> | dot -Tpng > c.png`)
 * and JSON for programs. Pure functions of the report.
 */
import type { InspectMount, InspectProcess, InspectReport } from './types.js';

/** Bytes in a short human form: `512 B`, `1.5 KiB`, `64.0 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function commandText(p: InspectProcess, max = 60): string {
  const s = p.command.join(' ');
  return s.length > max ? s.slice(0, max - 3) + '...' : s;
}

/** Children of each pid; the roots are processes whose parent is not in the container. */
function processForest(ps: InspectProcess[]): { roots: InspectProcess[]; children: Map<number, InspectProcess[]> } {
  const pids = new Set(ps.map((p) => p.pid));
  const children = new Map<number, InspectProcess[]>();
  const roots: InspectProcess[] = [];
  for (const p of ps) {
    if (pids.has(p.ppid) && p.ppid !== p.pid) {
      const list = children.get(p.ppid) ?? [];
      list.push(p);
      children.set(p.ppid, list);
    } else roots.push(p);
  }
  return { roots, children };
}

/** Mounts by parent; the roots are mounts whose parent is not in the table (the namespace's root). */
function mountForest(ms: InspectMount[]): { roots: InspectMount[]; children: Map<number, InspectMount[]> } {
  const ids = new Set(ms.map((m) => m.id));
  const children = new Map<number, InspectMount[]>();
  const roots: InspectMount[] = [];
  for (const m of ms) {
    if (ids.has(m.parentId) && m.parentId !== m.id) {
      const list = children.get(m.parentId) ?? [];
      list.push(m);
      children.set(m.parentId, list);
    } else roots.push(m);
  }
  return { roots, children };
}

interface Node {
  label: string;
  children: Node[];
}

function render(nodes: Node[], prefix: string, out: string[]): void {
  nodes.forEach((n, i) => {
    const last = i === nodes.length - 1;
    out.push(`${prefix}${last ? '└─ ' : '├─ '}${n.label}`);
    render(n.children, prefix + (last ? '   ' : '│  '), out);
  });
}

function mountLabel(m: InspectMount): string {
  const src = m.source && m.source !== m.fstype ? ` ${m.source}` : '';
  const root = m.root !== '/' ? ` [${m.root}]` : '';
  return `${m.mountPoint}  ${m.fstype}${src}${root}  (${m.options})`;
}

function limitText(limit: number | null, bytes: boolean): string {
  if (limit === null) return 'unlimited';
  return bytes ? formatBytes(limit) : String(limit);
}

/** The readable text tree. */
export function formatTree(r: InspectReport): string {
  const out: string[] = [];
  const init = r.processes.find((p) => p.init);
  out.push(`container ${r.id} (${r.status})${r.initPid ? `, init pid ${r.initPid}${init?.nsPid !== undefined ? ` (pid ${init.nsPid} inside)` : ''}` : ''}`);
  out.push(`bundle ${r.bundle}`);
  out.push(`rootfs ${r.rootfs}`);
  const sections: Node[] = [];

  const { roots, children } = processForest(r.processes);
  const procNode = (p: InspectProcess): Node => ({
    label: `${p.pid}${p.nsPid !== undefined ? ` [${p.nsPid}]` : ''} ${commandText(p)}${p.init ? '  (init)' : ''}`,
    children: (children.get(p.pid) ?? []).map(procNode),
  });
  sections.push({ label: `processes (${r.processes.length}; host pid [pid inside])`, children: roots.map(procNode) });

  const own = r.namespaces.filter((n) => !n.sharedWithHost).length;
  sections.push({
    label: `namespaces (${own} of ${r.namespaces.length} its own)`,
    children: r.namespaces.map((n) => ({ label: `${n.type.padEnd(8)} ${String(n.inode).padEnd(11)} ${n.sharedWithHost ? 'shared with the host' : 'own'}`, children: [] })),
  });

  if (r.cgroup) {
    const c = r.cgroup;
    sections.push({
      label: `cgroup (${c.driver})`,
      children: [
        ...Object.entries(c.paths).map(([k, v]) => ({ label: `${k}: ${v}`, children: [] })),
        { label: `memory ${formatBytes(c.memory.usage)} of ${limitText(c.memory.limit, true)} (peak ${formatBytes(c.memory.max)}, limit hit ${c.memory.failcnt} times${c.oomKills !== undefined ? `, ${c.oomKills} OOM kills` : ''})`, children: [] },
        { label: `pids ${c.pids.current} of ${limitText(c.pids.limit, false)}`, children: [] },
        { label: `cpu ${(c.cpuNs / 1e9).toFixed(3)} s`, children: [] },
      ],
    });
  } else sections.push({ label: 'cgroup: none', children: [] });

  const mf = mountForest(r.mounts);
  const mountNode = (m: InspectMount): Node => ({ label: mountLabel(m), children: (mf.children.get(m.id) ?? []).map(mountNode) });
  sections.push({ label: `mounts (${r.mounts.length}, as the container sees them)`, children: mf.roots.map(mountNode) });
  if (r.notes.length) sections.push({ label: 'notes', children: r.notes.map((n) => ({ label: n, children: [] })) });
  render(sections, '', out);
  return out.join('\n') + '\n';
}

/** A Graphviz string literal. */
function dq(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

/** The Graphviz view: one cluster each for processes, namespaces, the cgroup and the mounts. */
export function formatDot(r: InspectReport): string {
  const o: string[] = [];
  const id = (s: string) => dq(s);
  o.push(`digraph ${dq(`container ${r.id}`)} {`);
  o.push('  rankdir=LR;');
  o.push('  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica", fontsize=10];');
  o.push('  edge [fontname="Helvetica", fontsize=9];');
  o.push(`  container [label=${dq(`container ${r.id}\n${r.status}${r.initPid ? `, init pid ${r.initPid}` : ''}`)}, fillcolor="#dde8f8", shape=box3d];`);

  o.push('  subgraph cluster_processes {');
  o.push('    label="processes (host pid [pid inside])"; style=rounded; color="#4a7ab8";');
  for (const p of r.processes) {
    o.push(`    ${id(`p${p.pid}`)} [label=${dq(`${p.pid}${p.nsPid !== undefined ? ` [${p.nsPid}]` : ''}\n${commandText(p, 40)}`)}${p.init ? ', fillcolor="#f8f0c8"' : ''}];`);
  }
  o.push('  }');
  const pids = new Set(r.processes.map((p) => p.pid));
  for (const p of r.processes) {
    if (pids.has(p.ppid) && p.ppid !== p.pid) o.push(`  ${id(`p${p.ppid}`)} -> ${id(`p${p.pid}`)} [label="parent of"];`);
  }
  const init = r.processes.find((p) => p.init);
  if (init) o.push(`  container -> ${id(`p${init.pid}`)} [label="init"];`);

  o.push('  subgraph cluster_namespaces {');
  o.push('    label="namespaces of the init"; style=rounded; color="#5a9a5a";');
  for (const n of r.namespaces) {
    o.push(`    ${id(`ns_${n.type}`)} [label=${dq(`${n.type}\n${n.inode}\n${n.sharedWithHost ? 'shared with host' : 'own'}`)}, shape=ellipse, fillcolor=${n.sharedWithHost ? '"#f4d0d0"' : '"#d4efd4"'}];`);
  }
  o.push('  }');
  if (init) for (const n of r.namespaces) o.push(`  ${id(`p${init.pid}`)} -> ${id(`ns_${n.type}`)} [style=dashed, arrowhead=none];`);

  if (r.cgroup) {
    const c = r.cgroup;
    const lines = [
      `cgroup (${c.driver})`,
      c.paths['memory'] ?? c.paths['unified'] ?? Object.values(c.paths)[0] ?? '',
      `memory ${formatBytes(c.memory.usage)} / ${limitText(c.memory.limit, true)}`,
      `peak ${formatBytes(c.memory.max)}, failcnt ${c.memory.failcnt}${c.oomKills !== undefined ? `, OOM kills ${c.oomKills}` : ''}`,
      `pids ${c.pids.current} / ${limitText(c.pids.limit, false)}`,
      `cpu ${(c.cpuNs / 1e9).toFixed(3)} s`,
    ];
    o.push(`  cgroup [label=${dq(lines.join('\n'))}, shape=note, fillcolor="#fbe6cc"];`);
    o.push('  container -> cgroup [label="limited by"];');
    for (const p of r.processes) o.push(`  cgroup -> ${id(`p${p.pid}`)} [style=dotted, arrowhead=none, color="#c08040"];`);
  }

  o.push('  subgraph cluster_mounts {');
  o.push('    label="mounts (as the container sees them)"; style=rounded; color="#888888";');
  for (const m of r.mounts) o.push(`    ${id(`m${m.id}`)} [label=${dq(`${m.mountPoint}\n${m.fstype}${m.source && m.source !== m.fstype ? ` ${m.source}` : ''}`)}, shape=folder, fillcolor="#eeeeee"];`);
  o.push('  }');
  const mids = new Set(r.mounts.map((m) => m.id));
  for (const m of r.mounts) if (mids.has(m.parentId) && m.parentId !== m.id) o.push(`  ${id(`m${m.parentId}`)} -> ${id(`m${m.id}`)};`);
  const rootMount = r.mounts.find((m) => !mids.has(m.parentId));
  const mntNs = r.namespaces.find((n) => n.type === 'mount');
  if (rootMount && mntNs) o.push(`  ${id('ns_mount')} -> ${id(`m${rootMount.id}`)} [label="root"];`);
  o.push('}');
  return o.join('\n') + '\n';
}

/** The structured form. */
export function formatJson(r: InspectReport): string {
  return JSON.stringify(r, null, 2) + '\n';
}

/** The formats `tsrun inspect --format` accepts. */
export const INSPECT_FORMATS = ['tree', 'dot', 'json'] as const;
/** One of {@link INSPECT_FORMATS}. */
export type InspectFormat = (typeof INSPECT_FORMATS)[number];

/** Formats a report in one of the three views. */
export function formatReport(r: InspectReport, format: InspectFormat): string {
  return format === 'dot' ? formatDot(r) : format === 'json' ? formatJson(r) : formatTree(r);
}
