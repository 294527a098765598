/** Shared assertions for the cgroup unit tests. */
import type { Test } from 'tap';
import { CgroupError } from '../../../lib/errors.js';

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `fn` must throw a CgroupError whose detail.field and message name `field`. */
export function throwsField(t: Test, fn: () => unknown, field: string, msg?: RegExp): void {
  try {
    fn();
    t.fail(`expected a CgroupError naming ${field}`);
  } catch (err) {
    t.ok(err instanceof CgroupError, `a CgroupError for ${field}`);
    const e = err as CgroupError;
    t.equal(e.detail.field, field, `detail.field is ${field}`);
    t.match(e.message, new RegExp(escape(field)), 'the message names the field');
    if (msg) t.match(e.message, msg);
  }
}
