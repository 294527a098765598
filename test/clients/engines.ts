/**
 * Shared plumbing of the engine tests (podman + conmon, containerd + its runc
 * shim v2): running an engine's CLI with a deadline, a busybox image built
 * from the host (a rootfs tarball and a docker archive of it), cgroup and
 * process bookkeeping so that each test can prove it left nothing behind.
 *
 * Every path a test creates holds one tag, `tsrun-clients-XXXXXX` (the name
 * of its work dir): the engines' storage and state, tsrun's `--root`, the
 * cgroup parents. Leak checks look for that tag, so they stay exact even when
 * other test runs share the machine.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildBusyboxRootfs } from '../../lib/rootfs/host.js';
import { removeTree } from '../helpers/fsutil.js';

export { tsrunBin } from '../helpers/paths.js';

/** Outcome of one command; `code` is 128 + signal when it was killed. */
export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Options of {@link runCmd}. */
export interface CmdOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, then closed; stdin is /dev/null otherwise. */
  input?: string;
  /** SIGKILL (by pid) after this long; default 60 s. */
  timeoutMs?: number;
}

const SIGNUM: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Runs a command with stdout and stderr going to files, and resolves when the
 * command itself exits: detached containers and conmon may inherit these fds
 * and keep them open long after, so a pipe would never reach EOF.
 */
export async function runCmd(cmd: string, args: string[], opts: CmdOptions = {}): Promise<CmdResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-clients-out-'));
  const outPath = join(dir, 'stdout');
  const errPath = join(dir, 'stderr');
  const out = openSync(outPath, 'w');
  const err = openSync(errPath, 'w');
  try {
    const limit = opts.timeoutMs ?? 60_000;
    const { code, timedOut } = await new Promise<{ code: number; timedOut: boolean }>((resolve, reject) => {
      const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', out, err] });
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        if (child.pid) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }, limit);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('exit', (c, sig) => {
        clearTimeout(timer);
        resolve({ code: c ?? 128 + (sig ? (SIGNUM[sig] ?? 0) : 0), timedOut: killed });
      });
      if (opts.input !== undefined && child.stdin) {
        child.stdin.on('error', () => undefined);
        child.stdin.end(opts.input);
      }
    });
    return { code, timedOut, stdout: await readFile(outPath, 'utf8'), stderr: await readFile(errPath, 'utf8') };
  } finally {
    closeSync(out);
    closeSync(err);
    await rm(dir, { recursive: true, force: true });
  }
}

/** POSIX shell quoting of one word. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `cmd args` on a fresh pseudo-terminal (util-linux `script`), for
 * clients that insist on a console (`ctr run -t`, `ctr task exec -t`).
 * Resolves with the command's exit status (`script -e`).
 */
export function runOnPty(cmd: string, args: string[], opts: CmdOptions = {}): Promise<CmdResult> {
  return runCmd('script', ['-qec', [cmd, ...args].map(shq).join(' '), '/dev/null'], opts);
}

/** Absolute path of an executable on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const d of (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** A work dir `/tmp/tsrun-clients-XXXXXX`; its basename is the tag. */
export interface WorkDir {
  dir: string;
  tag: string;
}

export async function makeWorkDir(): Promise<WorkDir> {
  const dir = await mkdtemp(join(tmpdir(), 'tsrun-clients-'));
  return { dir, tag: basename(dir) };
}

/** Removes a work dir; mounts still below it are detached first (see removeTree). */
export async function removeWorkDir(w: WorkDir): Promise<void> {
  await removeTree(w.dir);
}

/**
 * The test image: busybox with its applets, built from the host's
 * busybox-static by lib/rootfs, packed as a plain rootfs tarball (for
 * `podman import`).
 */
export async function buildRootfsTar(dir: string): Promise<string> {
  const rootfs = join(dir, 'image-rootfs');
  await buildBusyboxRootfs(rootfs);
  const tarPath = join(dir, 'rootfs.tar');
  const r = await runCmd('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarPath, '.']);
  if (r.code !== 0) throw new Error(`tar of the test rootfs failed: ${r.stderr}`);
  await removeTree(rootfs);
  return tarPath;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * A docker-archive (`docker save` layout: manifest.json, the image config,
 * one layer tarball) of a rootfs tarball, tagged `ref`, for `ctr image import`.
 */
export async function buildDockerArchive(rootfsTar: string, dir: string, ref: string): Promise<string> {
  const stage = join(dir, 'docker-archive');
  await mkdir(join(stage, 'layer'), { recursive: true });
  const layer = await readFile(rootfsTar);
  await writeFile(join(stage, 'layer', 'layer.tar'), layer);
  const config = JSON.stringify({
    architecture: process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : process.arch,
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] },
  });
  const configName = `${sha256(config)}.json`;
  await writeFile(join(stage, configName), config);
  await writeFile(join(stage, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [ref], Layers: ['layer/layer.tar'] }]));
  const out = join(dir, 'image-docker.tar');
  const r = await runCmd('tar', ['-C', stage, '-cf', out, 'manifest.json', configName, 'layer']);
  if (r.code !== 0) throw new Error(`tar of the docker archive failed: ${r.stderr}`);
  await rm(stage, { recursive: true, force: true });
  return out;
}

/** Mount points of every cgroup hierarchy (v1 controllers, the v2 unified one). */
export function cgroupMounts(): string[] {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0) continue;
    const type = f[dash + 1];
    if (type === 'cgroup' || type === 'cgroup2') out.add(f[4]!);
  }
  return [...out];
}

/** `<hierarchy>/<rel>` for every hierarchy where it exists. */
export function cgroupDirs(rel: string): string[] {
  return cgroupMounts()
    .map((m) => join(m, rel))
    .filter((p) => existsSync(p));
}

/** Names of the child cgroups of `rel`, in any hierarchy (deduplicated). */
export function cgroupChildren(rel: string): string[] {
  const names = new Set<string>();
  for (const d of cgroupDirs(rel)) {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) names.add(e.name);
  }
  return [...names].sort();
}

function rmdirTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmdirTree(join(dir, e.name));
  rmdirSync(dir);
}

/**
 * Removes the cgroup `rel` and its children in every hierarchy (an engine's
 * own parent: podman never removes its cgroupfs parent, nor ctr its
 * namespace cgroup). Retries briefly while a cgroup is still busy; returns
 * what could not be removed.
 */
export async function removeCgroupTree(rel: string): Promise<string[]> {
  for (let i = 0; i < 20; i++) {
    for (const d of cgroupDirs(rel)) {
      try {
        rmdirTree(d);
      } catch {
        /* busy: again below */
      }
    }
    if (cgroupDirs(rel).length === 0) return [];
    await sleep(100);
  }
  return cgroupDirs(rel);
}

/** Live processes (not zombies) whose command line contains `needle`, as "pid cmdline". */
export function processesMentioning(needle: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmdline.includes(needle)) out.push(`${name} ${cmdline}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Polls `pred` every 100 ms until it returns true or `ms` elapse; returns its last value. */
export async function waitFor(pred: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() > end) return false;
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The cgroup paths of a process, one per hierarchy line of /proc/<pid>/cgroup. */
export function procCgroups(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  } catch {
    return [];
  }
}

/** Entries of a directory, or [] when it does not exist. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Why a client test cannot run here, or undefined when every binary is present and we are root. */
export function missingPrerequisite(binaries: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'the engine tests need root';
  const missing = binaries.filter((b) => !which(b));
  if (missing.length) return `not installed: ${missing.join(', ')} (Debian: apt-get install podman containerd busybox-static; .ci/run does)`;
  return undefined;
}
