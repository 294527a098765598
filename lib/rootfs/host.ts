/**
 * Builds a container rootfs from the host's own binaries: each program, its
 * `#!` interpreter, its ELF program interpreter and the closure of its shared
 * libraries, placed at the same paths as on the host (symlinks kept as
 * symlinks), plus the skeleton a container expects (`/proc`, `/sys`, `/dev`,
 * `/tmp`, `/etc/passwd`, ...). Nothing is downloaded: this is how tests,
 * examples and the demo get a rootfs on a machine with no image registry.
 * @module
 */
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, copyFile, lstat, mkdir, open, readdir, readlink, realpath, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { delimiter, dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';
import { defaultLibraryDirs, isElfMagic, readElf, type ElfInfo } from './elf.js';
import { linkFromStore } from './store.js';

const execFileAsync = promisify(execFile);

/** Options of {@link buildRootfsFromHost}. */
export interface BuildRootfsOptions {
  /** Directory to fill (created if missing). Existing content is kept; conflicting paths fail the build. */
  dest: string;
  /** Program names (looked up in `searchPath`) or absolute paths. */
  binaries: string[];
  /**
   * Content store directory: files are hard-linked from it, keyed by sha256
   * (and mode), so identical files across rootfs builds share one inode.
   * Without it, files are copied.
   */
  store?: string;
  /** For a busybox binary: symlink every applet (`busybox --list`) into `/bin`. */
  busyboxApplets?: boolean;
  /** PATH used to resolve bare names; defaults to the caller's PATH, then a standard one. */
  searchPath?: string;
  /** Library dirs searched after RPATH/RUNPATH; defaults to {@link defaultLibraryDirs} for the binary's machine. */
  libraryDirs?: string[];
  /** Content of `/etc/hostname` when the skeleton creates it (default `tsrun`). */
  hostname?: string;
  /**
   * Also copy the data files the programs need at run time (Python's
   * standard library: the `sys.path` directories of each python program,
   * asked from the host interpreter once). ELF objects found among them
   * (`lib-dynload/*.so`) bring their own library closure.
   */
  withData?: boolean;
  /** Extra host files or directories (copied recursively, through the store) placed at the same paths. */
  dataPaths?: string[];
}

/** One program asked for, as resolved on the host. */
export interface ResolvedProgram {
  /** The name as given. */
  name: string;
  /** The host path it resolved to (through PATH), not following symlinks. */
  path: string;
  /** `elf` (static or dynamic) or `script` (a `#!` file). */
  kind: 'elf' | 'script';
  /** For scripts: the `#!` interpreter; for dynamic ELF: `PT_INTERP`. */
  interpreter?: string;
  /** ELF `DT_NEEDED` entries (empty for static binaries and scripts). */
  needed: string[];
}

/** One path created in the rootfs. */
export interface RootfsEntry {
  /** Absolute path inside the rootfs. */
  path: string;
  kind: 'file' | 'symlink' | 'dir';
  /** Where it came from on the host (`skeleton` for generated files and dirs). */
  source: string;
  /** Symlink target, as on the host. */
  target?: string;
  /** Content hash, for files placed through the store. */
  sha256?: string;
  /** True when the file is a hard link into the store. */
  storeLinked?: boolean;
}

/** What {@link buildRootfsFromHost} did. */
export interface RootfsReport {
  dest: string;
  /** The programs asked for, resolved. */
  programs: ResolvedProgram[];
  /** Host paths of every object in the closure (programs, interpreters, libraries), sorted. */
  closure: string[];
  /** Every path created, sorted by path. */
  entries: RootfsEntry[];
  /** Busybox applets linked into `/bin` (empty unless `busyboxApplets`). */
  applets: string[];
  /** Store use, when a store was given. */
  store?: { dir: string; linked: number; copied: number; reused: number };
  /** Host data directories and files copied (with `withData` or `dataPaths`). */
  data: string[];
}

/** The build could not produce a complete rootfs; lists every problem found. */
export class RootfsBuildError extends Error {
  readonly code = 'ROOTFS_BUILD' as const;
  constructor(readonly problems: string[], options?: { cause?: unknown }) {
    super(`cannot build rootfs: ${problems.join('; ')}`, options);
    this.name = 'RootfsBuildError';
  }
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The kernel's and glibc's limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;
/** `#!` chains (script run by a script) deeper than this are refused, as by the kernel. */
const MAX_SCRIPT_DEPTH = 4;

const MERGED_USR_LINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

const SKELETON_DIRS: Array<[string, number]> = [
  ['/proc', 0o555],
  ['/sys', 0o555],
  ['/dev', 0o755],
  ['/tmp', 0o1777],
  ['/etc', 0o755],
  ['/root', 0o700],
];

const SKELETON_FILES: Array<[string, string, number]> = [
  ['/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n', 0o644],
  ['/etc/group', 'root:x:0:\nnogroup:x:65534:\n', 0o644],
];

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Resolves `path` inside `root` as if `root` were `/`: symlinks met on the
 * way (absolute or relative) are followed within `root`, and `..` never
 * climbs above it. The last component is not followed. The rootfs is treated
 * as hostile: a pre-existing `etc -> /etc` must not make us write on the host.
 *
 * @internal Returns a path string, so it is only safe while nothing else
 * changes the tree (the builder on its own dest); not exported from the
 * package, whose API uses fd-based resolution for live rootfs.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = posix.normalize('/' + path).split('/').filter(Boolean);
  const done: string[] = [];
  let followed = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    if (pending.length === 0) {
      done.push(part);
      break;
    }
    const here = join(root, ...done, part);
    const st = await lstatOrUndefined(here);
    if (st?.isSymbolicLink()) {
      if (++followed > MAX_SYMLINKS) throw new RootfsBuildError([`${path}: too many levels of symbolic links in the rootfs`]);
      const target = await readlink(here);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

/** Finds an executable `name` in `searchPath` (a PATH string); absolute and relative paths are taken as given. */
export async function findExecutable(name: string, searchPath = process.env.PATH || DEFAULT_PATH): Promise<string | undefined> {
  const candidates = name.includes('/') ? [resolve(name)] : searchPath.split(delimiter).filter(Boolean).map((d) => join(resolve(d), name));
  for (const c of candidates) {
    try {
      const st = await stat(c);
      if (!st.isFile()) continue;
      await access(c, fsConstants.X_OK);
      return c;
    } catch {
      /* not here: try the next PATH entry */
    }
  }
  return undefined;
}

/** Reads the `#!` line of a script: the interpreter and its optional single argument. */
export async function readShebang(path: string): Promise<{ interpreter: string; arg?: string } | undefined> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(256);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    if (head[0] !== 0x23 || head[1] !== 0x21) return undefined;
    const nl = head.indexOf(0x0a);
    const line = head.toString('utf8', 2, nl < 0 ? head.length : nl).trim();
    const m = /^(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) return undefined;
    return m[2] ? { interpreter: m[1]!, arg: m[2].trim() } : { interpreter: m[1]! };
  } finally {
    await fh.close();
  }
}

async function fileHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Expands the dynamic string tokens the loader knows in RPATH/RUNPATH entries. */
function expandOrigin(dir: string, origin: string, elf: ElfInfo): string {
  const lib = defaultLibraryDirs(elf.machine, elf.bits)[0]?.slice(1) ?? 'lib';
  return dir
    .replace(/\$(ORIGIN|\{ORIGIN\})/g, origin)
    .replace(/\$(LIB|\{LIB\})/g, lib)
    .replace(/\$(PLATFORM|\{PLATFORM\})/g, elf.machine === 62 ? 'x86_64' : elf.machine === 183 ? 'aarch64' : 'unknown');
}

/**
 * The shared-library closure of a set of host objects: the object paths as
 * the loader would find them, resolved with RPATH/RUNPATH and the standard
 * dirs only (no `ld.so.cache`, no `LD_LIBRARY_PATH`).
 */
export class LibraryResolver {
  private readonly elfCache = new Map<string, Promise<ElfInfo | undefined>>();

  constructor(private readonly libraryDirs?: string[]) {}

  /** Parses `path` once (undefined when it is not ELF). */
  elf(path: string): Promise<ElfInfo | undefined> {
    let p = this.elfCache.get(path);
    if (!p) {
      p = fileHead(path, 4).then((h) => (isElfMagic(h) ? readElf(path) : undefined));
      this.elfCache.set(path, p);
    }
    return p;
  }

  /**
   * Where the loader would find `needed` for the object `from` (parsed as
   * `fromElf`); `rpathChain` carries the DT_RPATH of the objects that loaded
   * `from`, which the loader also searches when `from` has no DT_RUNPATH.
   */
  async find(needed: string, from: string, fromElf: ElfInfo, rpathChain: string[]): Promise<string | undefined> {
    if (needed.includes('/')) return (await lstatOrUndefined(resolve(dirname(from), needed))) ? resolve(dirname(from), needed) : undefined;
    const origin = dirname(await realpath(from));
    const dirs: string[] = [];
    if (fromElf.runpath.length === 0) dirs.push(...fromElf.rpath.map((d) => expandOrigin(d, origin, fromElf)), ...rpathChain);
    dirs.push(...fromElf.runpath.map((d) => expandOrigin(d, origin, fromElf)));
    dirs.push(...(this.libraryDirs ?? defaultLibraryDirs(fromElf.machine, fromElf.bits)));
    for (const dir of dirs) {
      const candidate = join(dir, needed);
      try {
        const st = await stat(candidate);
        if (!st.isFile()) continue;
        const elf = await this.elf(candidate);
        // A library of another class or machine (a 32-bit copy in /usr/lib) is skipped, as by the loader.
        if (elf && elf.bits === fromElf.bits && elf.machine === fromElf.machine) return candidate;
      } catch {
        /* absent or unreadable: keep searching */
      }
    }
    return undefined;
  }
}

interface Closure {
  programs: ResolvedProgram[];
  objects: Set<string>;
  problems: string[];
}

async function computeClosure(names: string[], searchPath: string, resolver: LibraryResolver, extraObjects: string[] = []): Promise<Closure> {
  const closure: Closure = { programs: [], objects: new Set(), problems: [] };
  // Work list of [host path, rpath chain, #! depth]; visited by path.
  const queue: Array<[string, string[], number]> = [];
  const seen = new Set<string>();
  const enqueue = (p: string, chain: string[], depth: number) => {
    if (seen.has(p)) return;
    seen.add(p);
    queue.push([p, chain, depth]);
  };

  for (const name of names) {
    const path = await findExecutable(name, searchPath);
    if (!path) {
      closure.problems.push(`${name}: executable not found${name.includes('/') ? '' : ' in PATH'}`);
      continue;
    }
    const program: ResolvedProgram = { name, path, kind: 'elf', needed: [] };
    const shebang = await readShebang(path);
    if (shebang) {
      program.kind = 'script';
      program.interpreter = shebang.interpreter;
    } else {
      const elf = await resolver.elf(path).catch((err: Error) => {
        closure.problems.push(err.message);
        return undefined;
      });
      if (!elf) {
        if (!closure.problems.some((p) => p.startsWith(path))) closure.problems.push(`${path}: neither an ELF object nor a #! script`);
        continue;
      }
      if (elf.interpreter) program.interpreter = elf.interpreter;
      program.needed = [...elf.needed];
    }
    closure.programs.push(program);
    enqueue(path, [], 0);
  }
  for (const p of extraObjects) enqueue(p, [], 0);

  while (queue.length > 0) {
    const [path, chain, depth] = queue.shift()!;
    closure.objects.add(path);
    const shebang = await readShebang(path).catch(() => undefined);
    if (shebang) {
      if (depth >= MAX_SCRIPT_DEPTH) {
        closure.problems.push(`${path}: #! interpreters nested deeper than ${MAX_SCRIPT_DEPTH}`);
        continue;
      }
      const interp = await findExecutable(shebang.interpreter, searchPath);
      if (!interp || !isAbsolute(shebang.interpreter)) {
        closure.problems.push(`${path}: #! interpreter ${shebang.interpreter} not found`);
        continue;
      }
      enqueue(shebang.interpreter, [], depth + 1);
      // `#!/usr/bin/env prog`: the real interpreter is found through PATH at run time.
      if (/(^|\/)env$/.test(shebang.interpreter) && shebang.arg && !shebang.arg.startsWith('-')) {
        const target = await findExecutable(shebang.arg.split(/\s+/)[0]!, searchPath);
        if (target) enqueue(target, [], depth + 1);
        else closure.problems.push(`${path}: ${shebang.arg} (run through env) not found in PATH`);
      }
      continue;
    }
    let elf: ElfInfo | undefined;
    try {
      elf = await resolver.elf(path);
    } catch (err) {
      closure.problems.push((err as Error).message);
      continue;
    }
    if (!elf) continue;
    if (elf.interpreter) {
      if (await lstatOrUndefined(elf.interpreter)) enqueue(elf.interpreter, [], depth);
      else closure.problems.push(`${path}: program interpreter ${elf.interpreter} not found`);
    }
    const origin = dirname(await realpath(path));
    const nextChain = elf.runpath.length === 0 ? [...chain, ...elf.rpath.map((d) => expandOrigin(d, origin, elf!))] : chain;
    for (const needed of elf.needed) {
      const found = await resolver.find(needed, path, elf, chain);
      if (found) enqueue(found, nextChain, depth);
      else closure.problems.push(`${path}: needed library ${needed} not found`);
    }
  }
  return closure;
}

/** Copies host paths into a rootfs, replicating every symlink met on the way. */
class RootfsWriter {
  readonly entries = new Map<string, RootfsEntry>();
  readonly storeStats = { linked: 0, copied: 0, reused: 0 };

  constructor(private readonly dest: string, private readonly store?: string) {}

  /** Makes `hostPath` (and every directory and symlink on its way) exist in the rootfs as on the host. */
  async replicate(hostPath: string): Promise<void> {
    let pending = posix.normalize(hostPath).split('/').filter(Boolean);
    let prefix = '/';
    let followed = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '..') {
        prefix = dirname(prefix);
        continue;
      }
      const host = join(prefix, part);
      const st = await lstat(host);
      if (st.isSymbolicLink()) {
        if (++followed > MAX_SYMLINKS) throw new RootfsBuildError([`${hostPath}: too many levels of symbolic links`]);
        const target = await readlink(host);
        await this.placeSymlink(host, target);
        pending = [...target.split('/').filter(Boolean), ...pending];
        if (target.startsWith('/')) prefix = '/';
        continue;
      }
      if (st.isDirectory()) await this.placeDir(host, st.mode, host);
      else if (pending.length === 0 && st.isFile()) await this.placeFile(host, st.mode);
      else throw new RootfsBuildError([`${host}: not a regular file, directory or symlink`]);
      prefix = host;
    }
  }

  async placeDir(path: string, mode: number, source: string): Promise<void> {
    const at = await resolveInRoot(this.dest, path);
    const st = await lstatOrUndefined(at);
    if (st) {
      if (!st.isDirectory()) throw new RootfsBuildError([`${path}: exists in the rootfs and is not a directory`]);
      return;
    }
    await mkdir(at);
    await chmod(at, mode & 0o7777); // mkdir's mode is filtered by the umask
    this.entries.set(path, { path, kind: 'dir', source });
  }

  private async placeSymlink(path: string, target: string): Promise<void> {
    const at = await resolveInRoot(this.dest, path);
    const st = await lstatOrUndefined(at);
    if (st) {
      if (st.isSymbolicLink() && (await readlink(at)) === target) return;
      throw new RootfsBuildError([`${path}: exists in the rootfs and is not the symlink -> ${target} the host has`]);
    }
    await symlink(target, at);
    this.entries.set(path, { path, kind: 'symlink', source: path, target });
  }

  private async placeFile(path: string, mode: number): Promise<void> {
    if (this.entries.has(path)) return;
    const at = await resolveInRoot(this.dest, path);
    const st = await lstatOrUndefined(at);
    if (st && !st.isFile()) throw new RootfsBuildError([`${path}: exists in the rootfs and is not a regular file`]);
    if (this.store) {
      // Link under a temporary name and rename over: never write through an existing file
      // (it may be a hard link into the store shared by other rootfs).
      const tmp = `${at}.tsrun-tmp-${process.pid}`;
      const r = await linkFromStore(this.store, path, tmp, mode);
      await rename(tmp, at);
      if (r.linked) this.storeStats.linked++;
      else this.storeStats.copied++;
      if (r.reused) this.storeStats.reused++;
      this.entries.set(path, { path, kind: 'file', source: path, sha256: r.sha256, storeLinked: r.linked });
      return;
    }
    const tmp = `${at}.tsrun-tmp-${process.pid}`;
    await copyFile(path, tmp);
    await chmod(tmp, mode & 0o7777);
    await rename(tmp, at);
    this.entries.set(path, { path, kind: 'file', source: path });
  }

  /** Creates a symlink the host does not have (busybox applets); existing paths are left alone. */
  async addSymlink(path: string, target: string): Promise<boolean> {
    const at = await resolveInRoot(this.dest, path);
    if (await lstatOrUndefined(at)) return false;
    await symlink(target, at);
    this.entries.set(path, { path, kind: 'symlink', source: 'skeleton', target });
    return true;
  }

  /** Writes a generated file unless something is already there (never through a symlink). */
  async addFile(path: string, content: string, mode: number): Promise<void> {
    const at = await resolveInRoot(this.dest, path);
    try {
      await writeFile(at, content, { flag: 'wx', mode });
      await chmod(at, mode);
      this.entries.set(path, { path, kind: 'file', source: 'skeleton' });
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err;
    }
  }
}

/** Python's own interpreters: `python3`, `python3.11`. */
const PYTHON_NAME = /^python\d*(\.\d+)?$/;

/**
 * The data directories a program needs at run time, as the host program
 * reports them: for Python, its `sys.path` (the standard library and
 * `lib-dynload`; the empty entry, zip files that do not exist and
 * site-packages are left out). Other programs have none.
 */
export async function programDataDirs(binaries: string[], searchPath = process.env.PATH || DEFAULT_PATH): Promise<string[]> {
  const dirs: string[] = [];
  for (const name of binaries) {
    const path = await findExecutable(name, searchPath);
    if (!path) continue;
    const real = await realpath(path);
    if (!PYTHON_NAME.test(posix.basename(real))) continue;
    const { stdout } = await execFileAsync(real, ['-S', '-c', 'import sys, json; print(json.dumps(sys.path))'], { env: {} });
    for (const d of JSON.parse(stdout) as string[]) {
      if (!d || !isAbsolute(d) || /(site|dist)-packages/.test(d)) continue;
      if (await lstatOrUndefined(d)) dirs.push(d);
    }
  }
  return dirs;
}

/**
 * Every regular file under the given host files and directories (symlinks
 * inside are kept by replicate). Installed packages are not data of the
 * program: a python built from source (pyenv, /usr/local) keeps
 * site-packages inside its standard library directory.
 */
async function listDataFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.isDirectory()) {
      for (const e of (await readdir(p)).sort()) if (e !== 'site-packages' && e !== 'dist-packages') await walk(join(p, e));
    } else if (st.isFile() || st.isSymbolicLink()) out.push(p);
  };
  for (const p of paths) await walk(p);
  return out;
}

/** Where applets go: the host's real `/bin` directory, whatever symlinks lead to it. */
async function appletDir(): Promise<string> {
  return realpath('/bin').catch(() => '/bin');
}

/**
 * Fills `opts.dest` with the programs in `opts.binaries` and everything they
 * need to run: `#!` interpreters, the ELF program interpreter and the
 * shared-library closure, at their host paths. Then adds the skeleton
 * (`/proc /sys /dev /tmp /etc /root`, `/etc/passwd` with root and nobody,
 * `/etc/group`, `/etc/hostname`) where missing.
 *
 * Fails with {@link RootfsBuildError} listing every program or library that
 * cannot be found, before anything is written.
 *
 * @example
 * ```ts
 * const report = await buildRootfsFromHost({ dest: '/tmp/rootfs', binaries: ['sh', 'ls'] });
 * console.log(report.closure); // ['/lib/x86_64-linux-gnu/libc.so.6', ...]
 * ```
 */
export async function buildRootfsFromHost(opts: BuildRootfsOptions): Promise<RootfsReport> {
  const searchPath = opts.searchPath ?? (process.env.PATH || DEFAULT_PATH);
  const resolver = new LibraryResolver(opts.libraryDirs);
  const data = [...(opts.dataPaths ?? []).map((p) => resolve(p))];
  if (opts.withData) data.push(...(await programDataDirs(opts.binaries, searchPath)));
  const dataFiles = await listDataFiles([...new Set(data)]);
  const dataElf: string[] = [];
  for (const f of dataFiles) if (/\.so(\.|$)/.test(f) && (await resolver.elf(f).catch(() => undefined))) dataElf.push(f);
  const closure = await computeClosure(opts.binaries, searchPath, resolver, dataElf);
  if (closure.problems.length > 0) throw new RootfsBuildError(closure.problems);

  const dest = resolve(opts.dest);
  await mkdir(dest, { recursive: true });
  if (opts.store) await mkdir(opts.store, { recursive: true });
  const writer = new RootfsWriter(dest, opts.store ? resolve(opts.store) : undefined);

  const objects = [...closure.objects].sort();
  for (const p of objects) await writer.replicate(p);
  for (const f of dataFiles) {
    // A dangling symlink in a data directory (a missing optional module) is left out.
    await writer.replicate(f).catch((err: unknown) => {
      if (errCode(err) !== 'ENOENT') throw err;
    });
  }

  // Merged-/usr hosts (Debian 12) have /bin -> usr/bin: keep that layout so /bin/sh and /usr/bin/sh both work.
  for (const top of MERGED_USR_LINKS) {
    if ((await lstatOrUndefined(top))?.isSymbolicLink()) await writer.replicate(top).catch(() => undefined);
  }
  if (!(await lstatOrUndefined(await resolveInRoot(dest, '/bin')))) await writer.placeDir('/bin', 0o755, 'skeleton');
  for (const [dir, mode] of SKELETON_DIRS) await writer.placeDir(dir, mode, 'skeleton');
  for (const [file, content, mode] of SKELETON_FILES) await writer.addFile(file, content, mode);
  await writer.addFile('/etc/hostname', `${opts.hostname ?? 'tsrun'}\n`, 0o644);

  const applets: string[] = [];
  if (opts.busyboxApplets) {
    const busybox = closure.programs.find((p) => /(^|\/)busybox[^/]*$/.test(p.path));
    if (!busybox) throw new RootfsBuildError(['busyboxApplets: no busybox among the binaries']);
    await writer.replicate('/bin');
    const binDir = await appletDir();
    const { stdout } = await execFileAsync(busybox.path, ['--list'], { env: {} });
    // Relative when busybox sits in the same directory, so a link reads right from the host too.
    const target = (await realpath(dirname(busybox.path))) === binDir ? posix.basename(busybox.path) : busybox.path;
    for (const name of stdout.split('\n').map((s) => s.trim())) {
      if (!name || name.includes('/') || name === 'busybox') continue;
      if (await writer.addSymlink(join(binDir, name), target)) applets.push(name);
    }
  }

  const report: RootfsReport = {
    dest,
    programs: closure.programs,
    closure: objects,
    entries: [...writer.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    applets: applets.sort(),
    data: [...new Set(data)].sort(),
  };
  if (opts.store) report.store = { dir: resolve(opts.store), ...writer.storeStats };
  return report;
}

/**
 * A busybox rootfs: the host's busybox (Debian's busybox-static is a single
 * static binary) with every applet linked into `/bin`, and the skeleton.
 */
export async function buildBusyboxRootfs(dest: string, opts: { store?: string; hostname?: string } = {}): Promise<RootfsReport> {
  return buildRootfsFromHost({ dest, binaries: ['busybox'], busyboxApplets: true, ...opts });
}
