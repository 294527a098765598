/**
 * Typed errors. The library throws these and never logs or exits; the CLI
 * turns them into runc-style log lines and exit codes, once.
 *
 * Messages are lower case with no final period, and the wording clients
 * pattern-match (containerd, podman, CRI-O) is kept exactly as runc's.
 */

/** Every error code the library can throw. */
export type ErrorCode =
  | 'SPEC_INVALID'
  | 'INCORRECT_STATUS'
  | 'NOT_FOUND'
  | 'EXISTS'
  | 'INVALID_ID'
  | 'SYSCALL'
  | 'CGROUP'
  | 'CHILD_SETUP'
  | 'PROTOCOL'
  | 'CREATE_FAILED'
  | 'HOOK_FAILED'
  | 'USAGE'
  | 'EXEC_NOT_FOUND'
  | 'INTERNAL';

/** Base class of every error the library throws. */
export abstract class TsrunError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found in a config: the JSON path of the field and what is wrong. */
export interface SpecIssue {
  /** JSON path of the field, e.g. `mounts[3].destination` or `process.args`. */
  field: string;
  /** What is wrong and, where it helps, what would be valid. */
  message: string;
}

/** A config (or process.json) that cannot be run; lists every problem at once. */
export class SpecError extends TsrunError {
  readonly code = 'SPEC_INVALID' as const;
  constructor(readonly issues: SpecIssue[], readonly source = 'config.json') {
    super(`invalid ${source}: ` + issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  }
}

/** A lifecycle verb called in a status that does not allow it. */
export class StatusError extends TsrunError {
  readonly code = 'INCORRECT_STATUS' as const;
  constructor(message: string, readonly verb: string, readonly status: string) {
    super(message);
  }
}

/** runc's ErrNotExist: containerd and CRI-O match "does not exist". */
export class NotFoundError extends TsrunError {
  readonly code = 'NOT_FOUND' as const;
  constructor(readonly id: string) {
    super('container does not exist');
  }
}

/** runc's ErrExist. */
export class ExistsError extends TsrunError {
  readonly code = 'EXISTS' as const;
  constructor(readonly id: string) {
    super('container with given ID already exists');
  }
}

/** An id outside `[A-Za-z0-9_+.-]+`, or `.`/`..`. */
export class InvalidIdError extends TsrunError {
  readonly code = 'INVALID_ID' as const;
  constructor(readonly id: string) {
    super('invalid container ID format');
  }
}

/** A failed system call made by the host side. */
export class SysError extends TsrunError {
  readonly code = 'SYSCALL' as const;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly errnoName: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(`${syscall}${path ? ` ${path}` : ''}: ${errnoName} (${errnoMessage(errnoName)})`, options);
  }
}

/** A cgroup file could not be written or read. */
export class CgroupError extends TsrunError {
  readonly code = 'CGROUP' as const;
  constructor(
    message: string,
    readonly detail: { driver?: string; file?: string; value?: string; field?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A plan step failed inside tsrun-init; carries the step and the config field behind it. */
export class ChildSetupError extends TsrunError {
  readonly code = 'CHILD_SETUP' as const;
  constructor(
    readonly step: number,
    readonly op: string,
    readonly field: string,
    readonly errno: number,
    readonly errnoName: string,
    readonly detail: string,
  ) {
    super(`${op} ${detail}${field ? ` (${field})` : ''}: ${errnoName ? `${errnoName}: ${errnoMessage(errnoName)}` : 'failed'}`);
  }
}

/**
 * `args[0]` was not found in the container (podman maps this wording to exit
 * 127), or, with `permissionDenied`, a path to it exists but is not executable
 * (runc's `exec: "X": permission denied`, exit 126 in podman).
 */
export class ExecNotFoundError extends TsrunError {
  readonly code = 'EXEC_NOT_FOUND' as const;
  constructor(readonly executable: string, readonly permissionDenied = false) {
    super(`exec: "${executable}": ${permissionDenied ? 'permission denied' : 'executable file not found in $PATH'}`);
  }
}

/** tsrun-init sent something the host did not expect. */
export class ProtocolError extends TsrunError {
  readonly code = 'PROTOCOL' as const;
  constructor(readonly expected: string, readonly received: string) {
    super(`helper protocol: expected ${expected}, received ${received}`);
  }
}

/** A hook exited non-zero or ran past its timeout. */
export class HookError extends TsrunError {
  readonly code = 'HOOK_FAILED' as const;
  constructor(message: string, readonly hook: string, readonly index: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Create failed; `cause` is the first error, `cleanupErrors` what undoing it hit. */
export class CreateError extends TsrunError {
  readonly code = 'CREATE_FAILED' as const;
  constructor(cause: unknown, readonly cleanupErrors: unknown[] = []) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/** Something that should not happen: the helper died unexpectedly, a process could not be spawned. */
export class InternalError extends TsrunError {
  readonly code = 'INTERNAL' as const;
}

/** Bad command-line usage. */
export class UsageError extends TsrunError {
  readonly code = 'USAGE' as const;
}

const ERRNO_MESSAGES: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted system call',
  EIO: 'input/output error',
  EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  EXDEV: 'invalid cross-device link',
  ENODEV: 'no such device',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENOSYS: 'function not implemented',
  ENOTEMPTY: 'directory not empty',
  EOPNOTSUPP: 'operation not supported',
  ENXIO: 'no such device or address',
  E2BIG: 'argument list too long',
  ENOEXEC: 'exec format error',
  ETXTBSY: 'text file busy',
  ERANGE: 'numerical result out of range',
};

/** The strerror text for an errno name (what podman and CRI-O match on). */
export function errnoMessage(name: string): string {
  return ERRNO_MESSAGES[name] ?? name.toLowerCase();
}
