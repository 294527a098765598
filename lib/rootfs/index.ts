/**
 * Rootfs construction from the host's own binaries (no image, no download).
 * `lib/index.ts` re-exports this module.
 * @module
 */
export {
  buildRootfsFromHost,
  buildRootfsFromHost as buildFromHost,
  programDataDirs,
  buildBusyboxRootfs,
  findExecutable,
  readShebang,
  LibraryResolver,
  RootfsBuildError,
  type BuildRootfsOptions,
  type ResolvedProgram,
  type RootfsEntry,
  type RootfsReport,
} from './host.js';
export { readElf, defaultLibraryDirs, multiarchTriplet, ElfFormatError, type ElfInfo } from './elf.js';
export { sha256File, storeFile, linkFromStore, type StoredFile } from './store.js';
