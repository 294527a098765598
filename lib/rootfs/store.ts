/**
 * A content store for rootfs files: each distinct file lives once, named by
 * the sha256 of its bytes, and rootfs trees hard-link to it. Two rootfs built
 * from the same host binaries then share inodes (one page-cache copy, no
 * extra disk).
 *
 * Hard links share the inode, hence its mode and owner: the store key is the
 * content hash plus the permission bits, so a file stored as 0755 is never
 * handed out where 0644 was asked for. A container that writes into a shared
 * file writes into every rootfs that links it: give such a container a copy
 * (no store) or a read-only root.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, chmod, link, lstat, mkdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Hex sha256 of a file's bytes. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The result of putting one file in the store. */
export interface StoredFile {
  /** Path of the stored copy (the link target). */
  path: string;
  /** Hex sha256 of the content. */
  sha256: string;
  /** True when the content was already in the store. */
  reused: boolean;
}

/**
 * Adds `source` to the store at `storeDir` (created if missing) and returns
 * the stored path. Safe against concurrent writers: the copy is made under a
 * temporary name and published with `link`, which fails if another writer
 * got there first (their identical copy is then used).
 */
export async function storeFile(storeDir: string, source: string, mode: number): Promise<StoredFile> {
  const sha256 = await sha256File(source);
  const dir = join(storeDir, 'sha256', sha256.slice(0, 2));
  const path = join(dir, `${sha256}.${(mode & 0o7777).toString(8)}`);
  await mkdir(dir, { recursive: true });
  if (await exists(path)) return { path, sha256, reused: true };
  const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  await copyFile(source, tmp);
  try {
    await chmod(tmp, mode & 0o7777);
    try {
      await link(tmp, path);
      return { path, sha256, reused: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { path, sha256, reused: true };
      throw err;
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Places `source` at `dest` as a hard link to its stored copy. Falls back to
 * a plain copy when the store is on another filesystem (`EXDEV`) and says so
 * in the result.
 */
export async function linkFromStore(storeDir: string, source: string, dest: string, mode: number): Promise<StoredFile & { linked: boolean }> {
  const stored = await storeFile(storeDir, source, mode);
  try {
    await link(stored.path, dest);
    return { ...stored, linked: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    const tmp = `${dest}.tmp-${process.pid}`;
    await copyFile(stored.path, tmp);
    await chmod(tmp, mode & 0o7777);
    await rename(tmp, dest);
    return { ...stored, linked: false };
  }
}
