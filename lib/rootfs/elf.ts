/**
 * Just enough ELF to find what a dynamically linked program needs at run
 * time: the program interpreter (`PT_INTERP`), the libraries it names
 * (`DT_NEEDED`) and where it asks the loader to look (`DT_RPATH`,
 * `DT_RUNPATH`). Parsed in TypeScript so that building a rootfs runs no
 * host tool (`ldd` executes the loader on the binary, which is unsafe for
 * untrusted files and useless across architectures).
 * @module
 */
import { open } from 'node:fs/promises';

/** What the dynamic loader needs to know about one ELF object. */
export interface ElfInfo {
  /** 32 or 64 bit (`EI_CLASS`). */
  bits: 32 | 64;
  /** Byte order (`EI_DATA`). */
  littleEndian: boolean;
  /** `e_machine` (62 is x86-64, 183 is AArch64). */
  machine: number;
  /** `e_type`: 2 executable, 3 shared object or PIE. */
  type: number;
  /** `PT_INTERP`: the loader path, absent for static binaries and most libraries. */
  interpreter?: string;
  /** `DT_NEEDED` entries, in order. */
  needed: string[];
  /** `DT_RPATH` split on `:` (ignored by the loader when `DT_RUNPATH` is present). */
  rpath: string[];
  /** `DT_RUNPATH` split on `:`. */
  runpath: string[];
  /** `DT_SONAME`, if any. */
  soname?: string;
  /** True when the object has a `PT_DYNAMIC` segment. */
  dynamic: boolean;
}

/** A file that is not a readable ELF object (or is truncated or inconsistent). */
export class ElfFormatError extends Error {
  readonly code = 'ELF_FORMAT' as const;
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'ElfFormatError';
  }
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

/** Upper bounds that keep a hostile file from making us allocate gigabytes. */
const MAX_PHNUM = 4096;
const MAX_SEGMENT_READ = 16 * 1024 * 1024;

/** True when `head` starts with the ELF magic `\x7fELF`. */
export function isElfMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** Reads `length` bytes at `position`, failing on a short read (a truncated file). */
async function readExact(fh: import('node:fs/promises').FileHandle, path: string, position: number, length: number): Promise<Buffer> {
  if (length < 0 || length > MAX_SEGMENT_READ) throw new ElfFormatError(path, `unreasonable read of ${length} bytes`);
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  if (bytesRead !== length) throw new ElfFormatError(path, `truncated at offset ${position}`);
  return buf;
}

/** Reads a NUL-terminated string at `offset` of `buf`. */
function cString(buf: Buffer, offset: number, path: string): string {
  if (offset < 0 || offset >= buf.length) throw new ElfFormatError(path, `string offset ${offset} outside the string table`);
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 ? buf.length : end);
}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/**
 * Parses the ELF headers and dynamic section of `path`.
 *
 * The string table is found through `DT_STRTAB` (a virtual address, mapped
 * back to a file offset through the `PT_LOAD` segments) rather than through
 * section headers, because `strip --strip-all` may remove the latter and the
 * loader never reads them.
 */
export async function readElf(path: string): Promise<ElfInfo> {
  const fh = await open(path, 'r');
  try {
    const ident = await readExact(fh, path, 0, 16).catch(() => {
      throw new ElfFormatError(path, 'too short to be an ELF object');
    });
    if (!isElfMagic(ident)) throw new ElfFormatError(path, 'not an ELF object (bad magic)');
    const cls = ident[4];
    const data = ident[5];
    if (cls !== 1 && cls !== 2) throw new ElfFormatError(path, `unknown ELF class ${cls}`);
    if (data !== 1 && data !== 2) throw new ElfFormatError(path, `unknown ELF byte order ${data}`);
    const bits: 32 | 64 = cls === 2 ? 64 : 32;
    const le = data === 1;
    const hdr = await readExact(fh, path, 0, bits === 64 ? 64 : 52);
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number) => {
      const v = le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfFormatError(path, `64-bit value too large at ${o}`);
      return Number(v);
    };
    const word = (b: Buffer, o: number) => (bits === 64 ? u64(b, o) : u32(b, o));
    const type = u16(hdr, 16);
    const machine = u16(hdr, 18);
    const phoff = bits === 64 ? u64(hdr, 32) : u32(hdr, 28);
    const phentsize = u16(hdr, bits === 64 ? 54 : 42);
    const phnum = u16(hdr, bits === 64 ? 56 : 44);
    if (phnum > MAX_PHNUM) throw new ElfFormatError(path, `too many program headers (${phnum})`);
    if (phnum > 0 && phentsize < (bits === 64 ? 56 : 32)) throw new ElfFormatError(path, `program header size ${phentsize} too small`);

    const segments: Segment[] = [];
    if (phnum > 0) {
      const ph = await readExact(fh, path, phoff, phentsize * phnum);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        segments.push(
          bits === 64
            ? { type: u32(ph, o), offset: u64(ph, o + 8), vaddr: u64(ph, o + 16), filesz: u64(ph, o + 32) }
            : { type: u32(ph, o), offset: u32(ph, o + 4), vaddr: u32(ph, o + 8), filesz: u32(ph, o + 16) },
        );
      }
    }

    const info: ElfInfo = { bits, littleEndian: le, machine, type, needed: [], rpath: [], runpath: [], dynamic: false };
    const interp = segments.find((s) => s.type === PT_INTERP);
    if (interp) {
      const b = await readExact(fh, path, interp.offset, interp.filesz);
      info.interpreter = cString(b, 0, path);
    }
    const dyn = segments.find((s) => s.type === PT_DYNAMIC);
    if (!dyn) return info;
    info.dynamic = true;

    const entSize = bits === 64 ? 16 : 8;
    const dynBuf = await readExact(fh, path, dyn.offset, dyn.filesz);
    const entries: Array<[number, number]> = [];
    for (let o = 0; o + entSize <= dynBuf.length; o += entSize) {
      const tag = word(dynBuf, o);
      if (tag === DT_NULL) break;
      entries.push([tag, word(dynBuf, o + entSize / 2)]);
    }
    const strtabAddr = entries.find(([t]) => t === DT_STRTAB)?.[1];
    const strsz = entries.find(([t]) => t === DT_STRSZ)?.[1];
    const wantsStrings = entries.some(([t]) => t === DT_NEEDED || t === DT_RPATH || t === DT_RUNPATH || t === DT_SONAME);
    if (!wantsStrings) return info;
    if (strtabAddr === undefined || strsz === undefined) throw new ElfFormatError(path, 'dynamic section without DT_STRTAB/DT_STRSZ');
    const load = segments.find((s) => s.type === PT_LOAD && strtabAddr >= s.vaddr && strtabAddr < s.vaddr + s.filesz);
    if (!load) throw new ElfFormatError(path, `DT_STRTAB address 0x${strtabAddr.toString(16)} is in no PT_LOAD segment`);
    const strtab = await readExact(fh, path, load.offset + (strtabAddr - load.vaddr), strsz);
    for (const [tag, val] of entries) {
      if (tag === DT_NEEDED) info.needed.push(cString(strtab, val, path));
      else if (tag === DT_RPATH) info.rpath.push(...splitPath(cString(strtab, val, path)));
      else if (tag === DT_RUNPATH) info.runpath.push(...splitPath(cString(strtab, val, path)));
      else if (tag === DT_SONAME) info.soname = cString(strtab, val, path);
    }
    return info;
  } finally {
    await fh.close();
  }
}

function splitPath(s: string): string[] {
  return s.split(':').filter((p) => p.length > 0);
}

/** The Debian multiarch triplet for an ELF machine, used for the standard library dirs. */
export function multiarchTriplet(machine: number, bits: 32 | 64): string | undefined {
  switch (machine) {
    case 62:
      return 'x86_64-linux-gnu';
    case 3:
      return 'i386-linux-gnu';
    case 183:
      return 'aarch64-linux-gnu';
    case 40:
      return 'arm-linux-gnueabihf';
    case 243:
      return bits === 64 ? 'riscv64-linux-gnu' : undefined;
    case 21:
      return 'powerpc64le-linux-gnu';
    case 22:
      return 's390x-linux-gnu';
    default:
      return undefined;
  }
}

/**
 * The directories searched after RPATH/RUNPATH, without `/etc/ld.so.cache`:
 * the multiarch dirs first (where Debian puts everything), then the
 * traditional ones.
 */
export function defaultLibraryDirs(machine = 62, bits: 32 | 64 = 64): string[] {
  const triplet = multiarchTriplet(machine, bits);
  const dirs = triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : [];
  if (bits === 64) dirs.push('/lib64', '/usr/lib64');
  dirs.push('/usr/lib', '/lib');
  return dirs;
}
