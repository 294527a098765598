/**
 * Status is derived, not stored (runc's rule, oci-contract.md): the init's
 * pid must be alive *with the start time recorded at create*, so a pid the
 * kernel reused for another process never passes for the container. No root
 * needed: the "init" is this test process itself.
 */
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deriveStatus } from '../../../lib/runtime/lifecycle.js';
import { readProcStat } from '../../../lib/runtime/proc.js';
import { StateStore, type SavedState } from '../../../lib/runtime/state-store.js';

function saved(over: Partial<SavedState>): SavedState {
  return {
    version: 1, ociVersion: '1.3.0', id: 'st1', bundle: '/b', rootfs: '/b/rootfs', created: '2026-01-01T00:00:00Z', owner: '',
    initPid: process.pid, initStartTime: readProcStat(process.pid)!.startTime, phase: 'created',
    config: { ociVersion: '1.3.0' }, namespaces: [], privatePidNs: true, rootless: false, ...over,
  } as SavedState;
}

t.test('derived status: start time, phase, exec fifo', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsrun-test-status-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const st = new StateStore(root);
  const fifo = st.fifoPath('st1');
  mkdirSync(dirname(fifo), { recursive: true });

  t.equal(deriveStatus(st, saved({}), undefined), 'running', 'alive with its start time, no exec fifo: running');
  writeFileSync(fifo, '');
  t.equal(deriveStatus(st, saved({}), undefined), 'created', 'the exec fifo still there: created');
  t.equal(deriveStatus(st, saved({ phase: 'creating' }), undefined), 'creating', 'before the init reported ready');
  const reused = saved({ initStartTime: String(Number(readProcStat(process.pid)!.startTime) + 1) });
  t.equal(deriveStatus(st, reused, undefined), 'stopped', 'the same pid with another start time is another process: stopped');
  t.equal(deriveStatus(st, saved({ initPid: 0 }), undefined), 'stopped', 'no pid: stopped');
  t.equal(deriveStatus(st, saved({ initPid: 2 ** 22 + 1 }), undefined), 'stopped', 'a pid that does not exist: stopped');
});
