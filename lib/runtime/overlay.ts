/**
 * A writable container on a read-only rootfs: overlayfs with the rootfs as
 * the read-only lower layer and a per-container upper and work directory
 * under the container's state dir. The overlay is mounted by the container
 * init itself, in its own mount namespace, before `ROOTFS` (so nothing is
 * mounted in the host and nothing has to be unmounted at delete); `delete`
 * removes the upper layer with the state dir. The lower rootfs (for example a
 * slim rootfs hard-linked from a content store, shared by many containers)
 * is never written.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan, PlanStep } from '../plan/types.js';
import { step } from '../plan/types.js';
import { MS } from '../spec/tables.js';
import { UsageError } from '../errors.js';

/** Where a container's overlay layers live, under its state dir. */
export function overlayDirs(stateDir: string): { upper: string; work: string; merged: string } {
  const base = join(stateDir, 'overlay');
  return { upper: join(base, 'upper'), work: join(base, 'work'), merged: join(base, 'merged') };
}

/** overlayfs option values cannot hold `,` or `:` (separators), nor `\` unescaped. */
function checkOverlayPath(p: string): string {
  if (/[,:\\]/.test(p)) throw new UsageError(`overlay: the path ${JSON.stringify(p)} contains ',', ':' or '\\', which overlayfs options cannot carry`);
  return p;
}

/**
 * Rewrites a container plan so its root is an overlay of the plan's rootfs
 * (lower, read-only) and a fresh upper dir in `stateDir`: a propagation
 * change so the mount stays in the container's namespace, the overlay
 * `MOUNT`, then `ROOTFS` on the merged dir.
 */
export function overlayPlan(plan: Plan, stateDir: string): Plan {
  const at = plan.steps.findIndex((s) => s.op === 'ROOTFS');
  const rootfsStep = plan.steps[at];
  if (!rootfsStep || rootfsStep.op !== 'ROOTFS') throw new UsageError('overlay: the plan has no ROOTFS step');
  const lower = checkOverlayPath(rootfsStep.args.rootfs);
  const { upper, work, merged } = overlayDirs(stateDir);
  for (const d of [upper, work, merged]) mkdirSync(checkOverlayPath(d), { recursive: true, mode: 0o755 });
  const steps: PlanStep[] = [
    step('ROOT_PROPAGATION', { flags: MS.SLAVE | MS.REC }, '(--overlay)', 'makes the new mount namespace a slave of the host\'s first, so the overlay mount does not propagate to the host'),
    step('MOUNT', {
      source: 'overlay', dest: merged, fstype: 'overlay', flags: 0,
      data: `lowerdir=${lower},upperdir=${upper},workdir=${work}`, propagation: 0, attrSet: 0, attrClr: 0, kind: 0,
    }, '(--overlay)', 'mounts the rootfs read-only as the lower layer of an overlay whose upper layer is this container\'s own, in the container\'s mount namespace'),
    { ...rootfsStep, args: { ...rootfsStep.args, rootfs: merged }, why: `${rootfsStep.why}; the root is the overlay, not ${lower}` },
  ];
  return { steps: [...plan.steps.slice(0, at), ...steps, ...plan.steps.slice(at + 1)] };
}
