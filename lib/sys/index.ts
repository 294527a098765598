/**
 * `lib/sys`: the system calls tsrun makes from Node through koffi, with
 * typed errors ({@link SysError}: syscall, errno, errno name, path).
 *
 * The namespace-changing calls ({@link unshare}, {@link setns},
 * {@link pivotRoot}, {@link sethostname}) carry the thread caveat: from Node
 * they affect the main thread only, and the kernel refuses user and mount
 * namespace changes from a multithreaded process. tsrun's runtime never uses
 * them; they are here for teaching and for single-purpose tools.
 * @module
 */
export {
  unshare, setns, mount, umount2, pivotRoot, sethostname, gethostname, getpid,
  pidfdOpen, pidfdSendSignal, prctl, getNoNewPrivs, getDumpable, errnoName,
  CLONE, MNT, PR,
} from './libc.js';
export {
  inspectNamespaceFile, namespaceFlagOfFd, namespaceTypeOfFlag, currentNamespace, NS_GET_NSTYPE,
  type NamespaceFileInfo,
} from './nsfs.js';
export { SysError } from '../errors.js';
