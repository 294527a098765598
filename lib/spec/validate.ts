/**
 * Validation of config.json and process.json: the JSON Schemas (precompiled
 * ajv validators, see scripts/build-validators.mjs) for shapes and types, then
 * the rules a schema cannot express (a hostname needs a uts namespace, a
 * namespace path must be a namespace of that type, a bind source must exist,
 * ...). Every problem is collected, so one run shows the user all of them.
 *
 * The spec says unknown or ungrantable capabilities MUST be logged and SHOULD
 * NOT fail: those come back as warnings, never as errors.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, normalize, resolve } from 'node:path';
import { SpecError, type SpecIssue } from '../errors.js';
import type { NamespaceType, Process, Spec } from './types.js';
import {
  CAPABILITIES, MOUNT_OPTIONS, NAMESPACES, RLIMITS, NAMESPACED_SYSCTLS, isFilesystemDataOption, sysctlNamespace,
} from './tables.js';
import {
  validateConfigSchema, validateFeaturesSchema, validateProcessSchema, validateStateSchema, type SchemaError, type SchemaValidator,
} from './generated/validators.js';
import { currentNamespace, inspectNamespaceFile } from '../sys/nsfs.js';

/** How to validate a config. */
export interface ValidateContext {
  /** Absolute path of the bundle: relative `root.path` and bind sources resolve against it. */
  bundle: string;
  /**
   * Check the host too (default true): that `root.path` is a directory, that
   * bind sources exist, that namespace paths are namespaces of their type.
   * False checks the document alone (e.g. for a config written for another machine).
   */
  host?: boolean;
  /** Which Linux security modules the host enforces; read from /sys when absent (injectable for tests). */
  lsm?: HostLsms;
}

/** The label-based security modules a host has enabled. */
export interface HostLsms {
  apparmor: boolean;
  selinux: boolean;
}

/** The host's AppArmor and SELinux state, as the kernel shows it in sysfs. */
export function detectHostLsms(): HostLsms {
  let apparmor = false;
  try {
    apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim().startsWith('Y');
  } catch {
    /* not built in */
  }
  return { apparmor, selinux: existsSync('/sys/fs/selinux/enforce') };
}

/** A valid config and the warnings found on the way. */
export interface ConfigValidation {
  /** The config, typed. It is the object that was passed in, unchanged. */
  spec: Spec;
  /** Problems that do not stop the container (unknown capabilities, ignored fields). */
  warnings: SpecIssue[];
}

/** A valid process document and the warnings found on the way. */
export interface ProcessValidation {
  /** The process, typed: the object passed in, unchanged. */
  process: Process;
  /** Problems that do not stop the process (unknown capabilities, ignored fields). */
  warnings: SpecIssue[];
}

/** Every problem of a document, errors and warnings apart; {@link checkConfig} never throws. */
export interface SpecReport {
  errors: SpecIssue[];
  warnings: SpecIssue[];
}

/** Runtime-spec major versions tsrun runs (any 1.x: config.md says 1.x configs stay compatible). */
const SUPPORTED_MAJOR = 1;

/**
 * Validate a parsed config.json.
 *
 * @param config - the parsed JSON, of any shape
 * @param ctx - the bundle directory, and whether to check the host
 * @returns the typed config and its warnings
 * @throws SpecError listing every problem (schema and semantic), each with the
 *   JSON path of its field
 */
export function validateConfig(config: unknown, ctx: ValidateContext): ConfigValidation {
  const report = checkConfig(config, ctx);
  if (report.errors.length > 0) throw new SpecError(report.errors, 'config.json');
  return { spec: config as Spec, warnings: report.warnings };
}

/**
 * Validate a process document (`tsrun exec --process FILE`): the schema, a
 * non-empty `args`, an absolute `cwd`, known and unique rlimit types, and
 * capability names (unknown ones are warnings).
 *
 * @throws SpecError listing every problem; fields are relative to the document (`args`, `rlimits[0].type`)
 */
export function validateProcess(process: unknown, source = 'process.json'): ProcessValidation {
  const report = checkProcess(process);
  if (report.errors.length > 0) throw new SpecError(report.errors, source);
  return { process: process as Process, warnings: report.warnings };
}

/** Like {@link validateConfig}, but returns every error and warning instead of throwing. */
export function checkConfig(config: unknown, ctx: ValidateContext): SpecReport {
  const c = new Checker(config, ctx.host ?? true);
  c.lsm = ctx.lsm ?? (c.host ? detectHostLsms() : undefined);
  c.schema(validateConfigSchema, '');
  if (isObject(config)) new ConfigRules(c, config, resolve(ctx.bundle)).run();
  return c.report();
}

/** Like {@link validateProcess}, but returns every error and warning instead of throwing. */
export function checkProcess(process: unknown, lsm: HostLsms = detectHostLsms()): SpecReport {
  const c = new Checker(process, false, true);
  c.lsm = lsm;
  c.schema(validateProcessSchema, '');
  if (isObject(process)) processRules(c, process, '');
  return c.report();
}

/**
 * Check a state document (what `tsrun state` prints, or a state read back
 * from disk) against schemas/state.schema.json.
 *
 * @returns every problem; empty when the document is valid
 */
export function checkStateDocument(state: unknown): SpecIssue[] {
  const c = new Checker(state, false, false, 'state');
  c.schema(validateStateSchema, '');
  return c.report().errors;
}

/**
 * Check a features document against schemas/features.schema.json (tests use
 * it to keep `tsrun features` valid).
 *
 * @returns every problem; empty when the document is valid
 */
export function checkFeaturesDocument(doc: unknown): SpecIssue[] {
  const c = new Checker(doc, false, false, 'features');
  c.schema(validateFeaturesSchema, '');
  return c.report().errors;
}

// ---------------------------------------------------------------------------
// Issue collection and ajv error translation

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short rendering of a JSON value for messages. */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  return `a ${typeof v}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean (true or false)',
  object: 'an object', array: 'an array', null: 'null',
};

/** `field` + `.key`, `[3]` or `["net.ipv4.ip_forward"]`. */
export function joinField(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** What an enum value is, by field (indices removed), for "is not a <noun>" messages. */
const ENUM_NOUNS: Record<string, string> = {
  'linux.namespaces[].type': 'namespace type',
  'linux.devices[].type': 'device type',
  'linux.resources.devices[].type': 'device rule type (a: all, c: char, b: block)',
  'linux.rootfsPropagation': 'rootfs propagation',
  'linux.seccomp.defaultAction': 'seccomp action',
  'linux.seccomp.syscalls[].action': 'seccomp action',
  'linux.seccomp.architectures[]': 'seccomp architecture',
  'linux.seccomp.flags[]': 'seccomp filter flag',
  'linux.seccomp.syscalls[].args[].op': 'seccomp operator',
  'linux.personality.domain': 'personality domain',
  'linux.memoryPolicy.mode': 'memory policy mode',
  'linux.memoryPolicy.flags[]': 'memory policy flag',
  'linux.timeOffsets': 'clock of the time namespace',
  'process.scheduler.policy': 'scheduling policy',
  'process.scheduler.flags[]': 'scheduler flag',
  'process.ioPriority.class': 'I/O priority class',
  status: 'container status',
};

/** Messages for `pattern` failures, by field (indices removed). */
const PATTERN_MESSAGES: Record<string, string> = {
  'mounts[].destination': 'must not be empty',
  'linux.resources.devices[].access': 'must be a combination of r (read), w (write) and m (mknod), e.g. "rwm"',
  'linux.resources.hugepageLimits[].pageSize': 'must be a page size such as "2MB" or "1GB"',
  'process.execCPUAffinity.initial': 'must be a CPU list such as "0-3,7"',
  'process.execCPUAffinity.final': 'must be a CPU list such as "0-3,7"',
  annotations: 'annotation keys must not be empty',
};

/**
 * What a required field is and a valid value for it, so a missing one gets
 * the same "what would be valid" as a wrong one. Keyed by the generic path.
 */
const REQUIRED_HINTS: Record<string, string> = {
  ociVersion: 'the runtime-spec version the config follows, e.g. "1.3.0"',
  'root.path': 'the container\'s root filesystem, relative to the bundle or absolute, e.g. "rootfs"',
  'process.cwd': 'the absolute working directory of the process, e.g. "/"',
  'process.user': 'the user the process runs as, e.g. {"uid": 0, "gid": 0}',
  'process.user.uid': 'the numeric user id the process runs as, e.g. 0',
  'process.user.gid': 'the numeric group id the process runs as, e.g. 0',
  'process.rlimits[].type': 'the limit\'s name, e.g. "RLIMIT_NOFILE"',
  'process.rlimits[].soft': 'the soft limit, a number such as 1024',
  'process.rlimits[].hard': 'the hard limit, a number such as 1024',
  'process.scheduler.policy': 'the scheduling policy, e.g. "SCHED_OTHER"',
  'process.ioPriority.class': 'the I/O class, e.g. "IOPRIO_CLASS_BE"',
  'process.consoleSize.height': 'the terminal\'s rows, e.g. 24',
  'process.consoleSize.width': 'the terminal\'s columns, e.g. 80',
  'mounts[].destination': 'the absolute path inside the container, e.g. "/data"',
  'linux.namespaces[].type': 'one of pid, network, mount, ipc, uts, user, cgroup, time',
  'linux.devices[].type': 'the device type: "c" (character), "b" (block), "u" (unbuffered) or "p" (fifo)',
  'linux.devices[].path': 'the device path in the container, e.g. "/dev/fuse"',
  'linux.resources.devices[].allow': 'true to allow the device rule, false to deny it',
  'linux.resources.hugepageLimits[].pageSize': 'the huge page size, e.g. "2MB"',
  'linux.resources.hugepageLimits[].limit': 'the limit in bytes, e.g. 1073741824',
  'linux.resources.network.priorities[].name': 'the interface name, e.g. "eth0"',
  'linux.resources.network.priorities[].priority': 'the priority number, e.g. 1',
  'linux.seccomp.defaultAction': 'the action for syscalls no rule names, e.g. "SCMP_ACT_ERRNO"',
  'linux.seccomp.syscalls[].names': 'the syscall names the rule applies to, e.g. ["mount"]',
  'linux.seccomp.syscalls[].action': 'the rule\'s action, e.g. "SCMP_ACT_ALLOW"',
  'linux.seccomp.syscalls[].args[].index': 'the argument\'s position, 0 to 5',
  'linux.seccomp.syscalls[].args[].value': 'the value to compare with, a number',
  'linux.seccomp.syscalls[].args[].op': 'the comparison, e.g. "SCMP_CMP_EQ"',
  'linux.personality.domain': '"LINUX" or "LINUX32"',
  'linux.memoryPolicy.mode': 'the NUMA policy, e.g. "MPOL_BIND"',
};

/** The hint for a missing required field (generic path, `[]` for indices), if there is one. */
export function requiredHint(generic: string): string | undefined {
  if (/^hooks\.[A-Za-z]+\[\]\.path$/.test(generic)) return 'the absolute path of the hook program, e.g. "/usr/bin/hook"';
  if (/\.(weightDevice|throttle[A-Za-z]+Device)\[\]\.(major|minor)$/.test(generic)) return 'the block device number, e.g. 8 (major) and 0 (minor) for /dev/sda';
  const mapping = /(?:^|\.)[ug]idMappings\[\]\.(containerID|hostID|size)$/.exec(generic)?.[1];
  if (mapping) return { containerID: 'the first id inside the container, e.g. 0', hostID: 'the first id on the host it maps to, e.g. 100000', size: 'how many ids the range has, e.g. 65536' }[mapping];
  if (/\.throttle[A-Za-z]+Device\[\]\.rate$/.test(generic)) return 'the limit in bytes (or operations) per second, e.g. 1048576';
  return REQUIRED_HINTS[generic];
}

function genericField(field: string, processPrefix: boolean): string {
  const g = field.replace(/\[\d+\]/g, '[]');
  return processPrefix ? `process.${g}` : g;
}

/** Collects issues, translating ajv errors into field paths and full messages. */
class Checker {
  private readonly errors: SpecIssue[] = [];
  private readonly warnings: SpecIssue[] = [];
  private readonly seen = new Set<string>();
  /** Fields whose value already failed the schema: semantic rules stay quiet there. */
  private readonly schemaFailed = new Set<string>();

  /** The host's security modules, for the label fields; undefined when the host is not checked. */
  lsm: HostLsms | undefined;

  constructor(readonly doc: unknown, readonly host: boolean, readonly isProcessDoc = false, readonly docName = isProcessDoc ? 'process.json' : 'config.json') {}

  error(field: string, message: string): void {
    const key = `${field}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.errors.push({ field, message });
  }

  warn(field: string, message: string): void {
    this.warnings.push({ field, message });
  }

  /** True when the schema already reported something at this field or inside it. */
  failed(field: string): boolean {
    if (this.schemaFailed.has(field)) return true;
    for (const f of this.schemaFailed) if (f.startsWith(field + '.') || f.startsWith(field + '[')) return true;
    return false;
  }

  report(): SpecReport {
    return { errors: this.errors, warnings: this.warnings };
  }

  schema(validate: SchemaValidator, prefix: string): void {
    if (validate(this.doc)) return;
    for (const e of validate.errors ?? []) {
      const issue = this.translate(e, prefix);
      if (!issue) continue;
      this.schemaFailed.add(issue.field);
      this.error(issue.field, issue.message);
    }
  }

  /** Walks a JSON Pointer over the document: the dotted field path and the value there. */
  private locate(pointer: string, prefix: string): { field: string; value: unknown } {
    let field = prefix;
    let value: unknown = this.doc;
    if (pointer === '') return { field, value };
    for (const raw of pointer.slice(1).split('/')) {
      const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (Array.isArray(value)) {
        const i = Number(seg);
        field = joinField(field, i);
        value = value[i];
      } else {
        field = joinField(field, seg);
        value = isObject(value) ? value[seg] : undefined;
      }
    }
    return { field, value };
  }

  private translate(e: SchemaError, prefix: string): SpecIssue | undefined {
    const { field, value } = this.locate(e.instancePath, prefix);
    const top = field === '' ? this.docName : field;
    const generic = genericField(field, this.isProcessDoc);
    switch (e.keyword) {
      case 'type': {
        const want = String(e.params.type).split(',').map((t) => TYPE_NAMES[t] ?? t).join(' or ');
        return { field: top, message: `must be ${want}, not ${kindOf(value)} (${show(value)})` };
      }
      case 'required': {
        const missing = String(e.params.missingProperty);
        const at = joinField(field, missing);
        const hint = requiredHint(genericField(at, this.isProcessDoc));
        return { field: at, message: hint ? `is required but missing: ${hint}` : 'is required but missing' };
      }
      case 'enum': {
        const allowed = (e.params.allowedValues as unknown[]).map(String).join(', ');
        if (e.propertyName !== undefined) {
          const noun = ENUM_NOUNS[generic] ?? 'valid key';
          return { field: joinField(field, e.propertyName), message: `"${e.propertyName}" is not a ${noun}; valid: ${allowed}` };
        }
        const noun = ENUM_NOUNS[generic];
        return {
          field: top,
          message: noun ? `${show(value)} is not a ${noun}; valid: ${allowed}` : `${show(value)} is not allowed here; valid: ${allowed}`,
        };
      }
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        return { field: top, message: `${show(value)} is out of range: ${rangeOf(e)}` };
      }
      case 'pattern': {
        if (e.propertyName !== undefined) {
          return { field: joinField(field, e.propertyName), message: PATTERN_MESSAGES[generic] ?? `key does not match ${String(e.params.pattern)}` };
        }
        const m = PATTERN_MESSAGES[generic];
        if (m && value === '') return { field: top, message: m };
        return { field: top, message: m ? `${show(value)} is invalid: ${m}` : `${show(value)} does not match the pattern ${String(e.params.pattern)}` };
      }
      case 'minItems':
        return { field: top, message: `must have at least ${String(e.params.limit)} ${Number(e.params.limit) === 1 ? 'entry' : 'entries'}` };
      case 'propertyNames':
      case 'if':
        // The inner error (with propertyName, or the `then` branch) carries the detail.
        return undefined;
      default:
        return { field: top, message: `${show(value)} is invalid (${e.keyword}: ${e.message ?? 'failed'})` };
    }
  }
}

/** "must be an integer from 0 to 65535", from the schema around a failed minimum/maximum. */
function rangeOf(e: SchemaError): string {
  const ps = e.parentSchema ?? {};
  const kind = ps.type === 'integer' ? 'an integer' : 'a number';
  const min = typeof ps.minimum === 'number' ? ps.minimum : undefined;
  const max = typeof ps.maximum === 'number' ? ps.maximum : undefined;
  if (min !== undefined && max !== undefined) return `must be ${kind} from ${min} to ${max}`;
  if (min !== undefined) return min === 0 ? `must be ${kind} >= 0 (negative values are not allowed)` : `must be ${kind} >= ${min}`;
  if (max !== undefined) return `must be ${kind} <= ${max}`;
  return `must be ${String(e.params.comparison)} ${String(e.params.limit)}`;
}

// ---------------------------------------------------------------------------
// Rules the schema cannot express

/** Levenshtein distance, for "did you mean" hints on typos. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) { best = c; bestD = d; }
  }
  return best ? `; did you mean "${best}"?` : '';
}

const RLIMIT_NAMES = Object.keys(RLIMITS);
const CAPABILITY_SET = new Set(CAPABILITIES);
const CAPABILITY_SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;

/**
 * An AppArmor profile or SELinux label: tsrun applies neither yet. Where the
 * module is enabled, running the container would silently drop the
 * confinement the config asks for, so it is refused (runc-style "refuse
 * rather than ignore"); where the module is off, runc skips the field too,
 * and it is a warning.
 */
function lsmLabelRule(c: Checker, field: string, value: unknown, module: 'AppArmor' | 'SELinux', noop?: string): void {
  if (typeof value !== 'string' || value === '' || value === noop || c.failed(field)) return;
  const enabled = module === 'AppArmor' ? c.lsm?.apparmor : c.lsm?.selinux;
  if (enabled) {
    c.error(field, `${JSON.stringify(value)} asks for ${module} confinement, which tsrun does not apply yet, and ${module} is enabled on this host: the container would run unconfined. Remove the field${noop ? ` (or set "${noop}")` : ''} to run it without ${module}`);
  } else {
    c.warn(field, `${module} is not enabled on ${c.lsm ? 'this host' : 'the host'}: ${JSON.stringify(value)} is not applied`);
  }
}

/** Checks of a process object, shared by config.json (`process.`) and process.json (``). */
function processRules(c: Checker, p: Obj, prefix: string): void {
  const f = (k: string): string => (prefix ? `${prefix}.${k}` : k);
  lsmLabelRule(c, f('apparmorProfile'), p.apparmorProfile, 'AppArmor', 'unconfined');
  lsmLabelRule(c, f('selinuxLabel'), p.selinuxLabel, 'SELinux');

  if (!c.failed(f('args'))) {
    if (p.args === undefined) c.error(f('args'), 'is required: the program to run and its arguments, e.g. ["sh"]');
    else if (Array.isArray(p.args) && p.args.length === 0) c.error(f('args'), 'must not be empty: give at least the program to run, e.g. ["sh"]');
  }
  if (typeof p.cwd === 'string' && !c.failed(f('cwd'))) {
    if (p.cwd === '') c.error(f('cwd'), 'must not be empty: give an absolute path such as "/"');
    else if (!p.cwd.startsWith('/')) c.error(f('cwd'), `${show(p.cwd)} is relative; the working directory must be an absolute path in the container (e.g. "/${p.cwd}")`);
  }

  if (Array.isArray(p.rlimits)) {
    const first = new Map<string, number>();
    p.rlimits.forEach((r, i) => {
      if (!isObject(r)) return;
      const at = `${f('rlimits')}[${i}]`;
      if (typeof r.type === 'string') {
        if (!(r.type in RLIMITS)) {
          c.error(`${at}.type`, `${show(r.type)} is not an rlimit type${didYouMean(r.type, RLIMIT_NAMES)}; valid: ${RLIMIT_NAMES.join(', ')}`);
        } else if (first.has(r.type)) {
          c.error(`${at}.type`, `duplicate rlimit type "${r.type}" (already set at ${f('rlimits')}[${first.get(r.type)}]); each type may appear once`);
        } else {
          first.set(r.type, i);
        }
      }
      if (typeof r.soft === 'number' && typeof r.hard === 'number' && r.soft > r.hard) {
        c.error(`${at}.soft`, `soft limit ${r.soft} is above the hard limit ${r.hard}; soft must be <= hard`);
      }
    });
  }

  if (isObject(p.capabilities)) {
    for (const set of CAPABILITY_SETS) {
      const list = p.capabilities[set];
      if (!Array.isArray(list)) continue;
      list.forEach((name, i) => {
        if (typeof name === 'string' && !CAPABILITY_SET.has(name)) {
          c.warn(`${f('capabilities')}.${set}[${i}]`, `${show(name)} is not a capability tsrun knows${didYouMean(name, CAPABILITIES)}; it is ignored`);
        }
      });
    }
    // What capset(2) refuses for certain is refused here, before anything exists: the helper
    // would only meet it after start, where `run` reports it late and `start` not at all.
    const caps = p.capabilities;
    const known = (set: (typeof CAPABILITY_SETS)[number]): Set<string> =>
      new Set((Array.isArray(caps[set]) ? caps[set] : []).filter((n): n is string => typeof n === 'string' && CAPABILITY_SET.has(n)));
    const outside = (set: (typeof CAPABILITY_SETS)[number], of: (typeof CAPABILITY_SETS)[number]): string[] => [...known(set)].filter((n) => !known(of).has(n));
    const them = (n: string[]) => (n.length > 1 ? 'them' : 'it');
    const effective = outside('effective', 'permitted');
    if (effective.length > 0 && !c.failed(`${f('capabilities')}.effective`)) {
      c.error(`${f('capabilities')}.effective`, `${effective.join(', ')} ${effective.length > 1 ? 'are' : 'is'} not in ${f('capabilities')}.permitted, and the kernel refuses an effective capability that is not permitted (capset EPERM): add ${them(effective)} to permitted or remove ${them(effective)} from effective`);
    }
    const inheritable = outside('inheritable', 'bounding');
    if (inheritable.length > 0 && !c.failed(`${f('capabilities')}.inheritable`)) {
      c.error(`${f('capabilities')}.inheritable`, `${inheritable.join(', ')} ${inheritable.length > 1 ? 'are' : 'is'} not in ${f('capabilities')}.bounding, and the kernel refuses an inheritable capability outside the bounding set (capset EPERM): add ${them(inheritable)} to bounding or remove ${them(inheritable)} from inheritable`);
    }
  }

  if (isObject(p.consoleSize)) {
    const cs = p.consoleSize;
    for (const dim of ['height', 'width'] as const) {
      const v = cs[dim];
      if (typeof v === 'number' && Number.isInteger(v) && v > 65535) {
        c.error(`${f('consoleSize')}.${dim}`, `${v} is too large: a terminal ${dim} is at most 65535 (struct winsize holds 16-bit values)`);
      }
    }
    if (p.terminal !== true) c.warn(f('consoleSize'), 'is ignored because process.terminal is not true');
  }
}

/** Files under /proc a mount may replace (what lxcfs provides; runc's allow-list). */
const PROC_MOUNT_ALLOWED = new Set([
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime', '/proc/loadavg',
  '/proc/slabinfo', '/proc/net/dev', '/proc/sys/kernel/ns_last_pid',
]);

/** The namespace entries of a config, by type. */
interface NsEntry { index: number; path: string | undefined }

class ConfigRules {
  private readonly ns = new Map<NamespaceType, NsEntry>();
  private readonly linux: Obj;

  constructor(private readonly c: Checker, private readonly cfg: Obj, private readonly bundle: string) {
    this.linux = isObject(cfg.linux) ? cfg.linux : {};
  }

  run(): void {
    this.version();
    this.root();
    this.namespaces();
    this.mounts();
    if (isObject(this.cfg.process)) processRules(this.c, this.cfg.process, 'process');
    if (isObject(this.cfg.linux)) lsmLabelRule(this.c, 'linux.mountLabel', this.cfg.linux.mountLabel, 'SELinux');
    this.hooks();
    this.uts();
    this.idMappings();
    this.timeOffsets();
    this.sysctls();
    this.devices();
    this.netDevices();
    this.pathLists();
    this.seccomp();
    this.nulBytes();
  }

  /** No path, name, argument or value tsrun passes to the kernel can hold a NUL byte: it would be cut there. */
  private nulBytes(): void {
    const walk = (v: unknown, at: string, depth: number): void => {
      if (typeof v === 'string') {
        if (v.includes('\0')) this.c.error(at || '(config)', 'contains a NUL byte, which no path, name, argument or value passed to the kernel can hold');
      } else if (Array.isArray(v)) {
        if (depth < 16) v.forEach((x, i) => walk(x, `${at}[${i}]`, depth + 1));
      } else if (isObject(v) && depth < 16) {
        for (const [k, x] of Object.entries(v)) {
          if (k.includes('\0')) this.c.error(at || '(config)', `has a key with a NUL byte (${JSON.stringify(k)})`);
          walk(x, at ? `${at}.${k}` : k, depth + 1);
        }
      }
    };
    // Annotations are metadata only: they never reach the kernel.
    const { annotations: _annotations, ...rest } = this.cfg;
    walk(rest, '', 0);
  }

  private hasNs(type: NamespaceType): boolean {
    return this.ns.has(type);
  }

  private addNsHint(type: NamespaceType): string {
    return `add {"type": "${type}"} to linux.namespaces`;
  }

  private version(): void {
    const v = this.cfg.ociVersion;
    if (typeof v !== 'string') return;
    const m = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
    if (!m) {
      this.c.error('ociVersion', `${show(v)} is not a SemVer version; use the runtime-spec version the config was written for, e.g. "1.3.0"`);
    } else if (Number(m[1]) !== SUPPORTED_MAJOR) {
      this.c.error('ociVersion', `${show(v)} is not supported: tsrun runs configs of runtime-spec 1.x (1.0.0 to 1.3.0)`);
    }
  }

  private root(): void {
    const root = this.cfg.root;
    if (root === undefined) {
      this.c.error('root', 'is required on Linux: give root.path, the container\'s root filesystem (conventionally "rootfs" in the bundle)');
      return;
    }
    if (!isObject(root) || typeof root.path !== 'string') return;
    const p = root.path;
    if (p === '') {
      this.c.error('root.path', 'must not be empty: give the rootfs directory, e.g. "rootfs"');
      return;
    }
    if (!isAbsolute(p)) {
      const n = normalize(p);
      if (n === '..' || n.startsWith('../')) {
        this.c.error('root.path', `${show(p)} is relative and leaves the bundle; use a directory inside the bundle (e.g. "rootfs") or an absolute path`);
        return;
      }
    }
    if (!this.c.host) return;
    const abs = resolve(this.bundle, p);
    const what = abs === p ? show(p) : `${show(p)} (${abs})`;
    try {
      if (!statSync(abs).isDirectory()) this.c.error('root.path', `${what} is not a directory; the root filesystem must be a directory`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      this.c.error('root.path', code === 'ENOENT' ? `${what} does not exist; the root filesystem must be a directory` : `${what} cannot be checked: ${code ?? String(e)}`);
    }
  }

  private namespaces(): void {
    const list = this.linux.namespaces;
    if (!Array.isArray(list)) return;
    list.forEach((n, i) => {
      if (!isObject(n) || typeof n.type !== 'string') return;
      const type = n.type as NamespaceType;
      if (!(type in NAMESPACES)) return; // the schema reported it
      const at = `linux.namespaces[${i}]`;
      const prev = this.ns.get(type);
      if (prev) {
        this.c.error(`${at}.type`, `duplicate namespace type "${type}" (already at linux.namespaces[${prev.index}]); list each type once`);
        return;
      }
      const path = typeof n.path === 'string' && n.path !== '' ? n.path : undefined;
      this.ns.set(type, { index: i, path });
      if (path !== undefined) this.namespacePath(`${at}.path`, type, path);
    });
  }

  private namespacePath(field: string, type: NamespaceType, path: string): void {
    if (!path.startsWith('/')) {
      this.c.error(field, `${show(path)} is relative; a namespace path must be absolute (e.g. /proc/1234/ns/${NAMESPACES[type].procName})`);
      return;
    }
    if (!this.c.host) return;
    const info = inspectNamespaceFile(path);
    switch (info.kind) {
      case 'namespace':
        if (info.type !== type) this.c.error(field, `${show(path)} is a ${info.type} namespace, not a ${type} namespace`);
        return;
      case 'unknown-namespace':
        this.c.error(field, `${show(path)} is a namespace of an unknown type (flag 0x${info.flag.toString(16)}), not a ${type} namespace`);
        return;
      case 'not-namespace':
        this.c.error(field, `${show(path)} is not a namespace file; expected a ${type} namespace such as /proc/<pid>/ns/${NAMESPACES[type].procName}`);
        return;
      case 'unopenable':
        this.c.error(field, info.code === 'ENOENT'
          ? `${show(path)} does not exist; expected a ${type} namespace such as /proc/<pid>/ns/${NAMESPACES[type].procName}`
          : `${show(path)} cannot be opened (${info.code}); expected a ${type} namespace file`);
    }
  }

  private mounts(): void {
    const mounts = this.cfg.mounts;
    if (!Array.isArray(mounts)) return;
    mounts.forEach((m, i) => {
      if (!isObject(m)) return;
      const at = `mounts[${i}]`;
      if (typeof m.destination === 'string' && m.destination !== '' && !m.destination.startsWith('/')) {
        // The spec (1.2.0) deprecates relative destinations and takes them
        // relative to "/"; tsrun refuses them so the intent is never guessed.
        this.c.error(`${at}.destination`, `${show(m.destination)} is relative; a mount destination must be an absolute path in the container (e.g. "/${m.destination}")`);
      }
      const options = Array.isArray(m.options) ? m.options : [];
      options.forEach((o, j) => {
        if (typeof o !== 'string') return;
        if (o in MOUNT_OPTIONS || isFilesystemDataOption(o)) return;
        this.c.error(`${at}.options[${j}]`, `${show(o)} is not a mount option${didYouMean(o, Object.keys(MOUNT_OPTIONS))} (filesystem data must have the form key=value; "tsrun features" lists the options)`);
      });
      const bind = m.type === 'bind' || options.includes('bind') || options.includes('rbind');
      if (bind && !this.c.failed(`${at}.source`)) this.bindSource(at, m.source);
      if (typeof m.destination === 'string' && m.destination.startsWith('/')) this.procMount(at, m.destination, bind ? 'bind' : m.type);
      const hasU = Array.isArray(m.uidMappings) && m.uidMappings.length > 0;
      const hasG = Array.isArray(m.gidMappings) && m.gidMappings.length > 0;
      if (hasU && !hasG) this.c.error(`${at}.gidMappings`, 'is required when uidMappings is set: an idmapped mount needs both uidMappings and gidMappings');
      if (hasG && !hasU) this.c.error(`${at}.uidMappings`, 'is required when gidMappings is set: an idmapped mount needs both uidMappings and gidMappings');
    });
  }

  /**
   * Only a procfs may be mounted on /proc, and under /proc only the files
   * lxcfs-style tools replace (CVE-2019-16884): a volume over /proc turns
   * label and sysctl writes into writes to ordinary files, and a bind onto
   * /proc/sys/kernel/core_pattern or /proc/sysrq-trigger reaches the host.
   */
  private procMount(at: string, destination: string, type: unknown): void {
    const dest = normalize(destination).replace(/\/+$/, '') || '/';
    if (dest === '/proc') {
      if (type !== 'proc') this.c.error(`${at}.type`, `${show(type ?? 'none')} cannot be mounted on /proc: only a filesystem of type "proc" may be mounted there`);
      return;
    }
    if (!dest.startsWith('/proc/')) return;
    if (PROC_MOUNT_ALLOWED.has(dest) || dest.startsWith('/proc/pressure/')) return;
    this.c.error(`${at}.destination`, `${show(destination)} is inside /proc: mounts there are refused (only ${[...PROC_MOUNT_ALLOWED].join(', ')} and /proc/pressure/* may be replaced)`);
  }

  private bindSource(at: string, source: unknown): void {
    if (source === undefined || source === '') {
      this.c.error(`${at}.source`, 'is required for a bind mount: the host path to bind');
      return;
    }
    if (typeof source !== 'string' || !this.c.host) return;
    const abs = resolve(this.bundle, source);
    try {
      statSync(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const what = abs === source ? show(source) : `${show(source)} (${abs})`;
      this.c.error(`${at}.source`, code === 'ENOENT'
        ? `bind source ${what} does not exist; relative sources are taken from the bundle`
        : `bind source ${what} cannot be checked: ${code ?? String(e)}`);
    }
  }

  private hooks(): void {
    const hooks = this.cfg.hooks;
    if (!isObject(hooks)) return;
    for (const [name, list] of Object.entries(hooks)) {
      if (!Array.isArray(list)) continue;
      list.forEach((h, i) => {
        if (isObject(h) && typeof h.path === 'string' && !h.path.startsWith('/')) {
          this.c.error(`hooks.${name}[${i}].path`, `${show(h.path)} is relative; a hook path must be absolute`);
        }
      });
    }
  }

  private uts(): void {
    for (const key of ['hostname', 'domainname'] as const) {
      const v = this.cfg[key];
      if (typeof v === 'string' && v !== '' && !this.hasNs('uts')) {
        this.c.error(key, `setting the ${key} needs a uts namespace of the container, or it would change the host's; ${this.addNsHint('uts')}`);
      }
    }
  }

  private idMappings(): void {
    const user = this.ns.get('user');
    for (const key of ['uidMappings', 'gidMappings'] as const) {
      const v = this.linux[key];
      const has = Array.isArray(v) && v.length > 0;
      if (has && !user) this.c.error(`linux.${key}`, `needs a user namespace; ${this.addNsHint('user')} or remove the mappings`);
      if (!has && user && user.path === undefined && !this.c.failed(`linux.${key}`)) {
        this.c.error(`linux.${key}`, `is required with a new user namespace (linux.namespaces[${user.index}]): map at least one id, e.g. [{"containerID": 0, "hostID": 1000, "size": 1}]`);
      }
    }
  }

  private timeOffsets(): void {
    const t = this.linux.timeOffsets;
    if (!isObject(t) || Object.keys(t).length === 0) return;
    const time = this.ns.get('time');
    if (!time) this.c.error('linux.timeOffsets', `needs a time namespace; ${this.addNsHint('time')}`);
    else if (time.path !== undefined) {
      this.c.error('linux.timeOffsets', `cannot be applied to an existing time namespace (linux.namespaces[${time.index}].path): offsets are set only when the namespace is created`);
    }
  }

  private sysctls(): void {
    const s = this.linux.sysctl;
    if (!isObject(s)) return;
    const allowed = [
      ...Object.keys(NAMESPACED_SYSCTLS.exact),
      ...NAMESPACED_SYSCTLS.prefixes.map((p) => `${p.prefix}*`),
    ].join(', ');
    for (const key of Object.keys(s)) {
      const field = joinField('linux.sysctl', key);
      const ns = sysctlNamespace(key);
      if (!ns) {
        this.c.error(field, `${show(key)} is not a namespaced sysctl: setting it would change the host; allowed: ${allowed}`);
        continue;
      }
      const entry = this.ns.get(ns);
      if (!entry) {
        this.c.error(field, `${show(key)} belongs to the ${ns} namespace, which the container does not have; ${this.addNsHint(ns)}`);
      } else if (entry.path !== undefined && this.c.host && this.isOwnNamespace(ns, entry.path)) {
        this.c.error(field, `${show(key)} would change the host: linux.namespaces[${entry.index}].path is the host's own ${ns} namespace`);
      }
    }
  }

  private isOwnNamespace(type: NamespaceType, path: string): boolean {
    const info = inspectNamespaceFile(path);
    if (info.kind !== 'namespace') return false;
    const own = currentNamespace(type);
    return own !== undefined && own.dev === info.dev && own.ino === info.ino;
  }

  private devices(): void {
    const list = this.linux.devices;
    if (!Array.isArray(list)) return;
    list.forEach((d, i) => {
      if (!isObject(d)) return;
      const at = `linux.devices[${i}]`;
      if (typeof d.path === 'string' && !d.path.startsWith('/')) {
        this.c.error(`${at}.path`, `${show(d.path)} is relative; a device path must be absolute in the container (e.g. "/dev/${d.path}")`);
      }
      if (d.type === 'c' || d.type === 'b' || d.type === 'u') {
        for (const k of ['major', 'minor'] as const) {
          if (d[k] === undefined) this.c.error(`${at}.${k}`, `is required for a device of type "${d.type}" (only "p", a fifo, has no device numbers)`);
        }
      }
    });
  }

  private netDevices(): void {
    const nd = this.linux.netDevices;
    if (!isObject(nd) || Object.keys(nd).length === 0) return;
    // Moving a host interface "into" the host's own namespace would do nothing
    // the user meant; the spec requires a network namespace of the container.
    if (!this.hasNs('network')) this.c.error('linux.netDevices', `needs a network namespace of the container to move the devices into; ${this.addNsHint('network')}`);
  }

  private pathLists(): void {
    for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
      const list = this.linux[key];
      if (!Array.isArray(list)) continue;
      list.forEach((p, i) => {
        if (typeof p === 'string' && !p.startsWith('/')) {
          this.c.error(`linux.${key}[${i}]`, `${show(p)} is relative; it must be an absolute path in the container`);
        }
      });
    }
  }

  private seccomp(): void {
    const s = this.linux.seccomp;
    if (!isObject(s)) return;
    const notify = s.defaultAction === 'SCMP_ACT_NOTIFY'
      || (Array.isArray(s.syscalls) && s.syscalls.some((x) => isObject(x) && x.action === 'SCMP_ACT_NOTIFY'));
    if (notify && (typeof s.listenerPath !== 'string' || s.listenerPath === '')) {
      this.c.error('linux.seccomp.listenerPath', 'is required when an action is SCMP_ACT_NOTIFY: the unix socket that receives the notify fd');
    }
  }
}

