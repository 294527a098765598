import type { OpArgs, OpName } from './ops.js';

/** One step of a plan: what tsrun-init does, and the config field behind it. */
export type PlanStep = {
  [N in OpName]: {
    op: N;
    args: OpArgs<N>;
    /** JSON path of the config field the step implements (`mounts[3]`), or `(runtime)`. */
    field: string;
    /** One sentence on why the step is there, for `tsrun plan --explain`. */
    why: string;
  };
}[OpName];

/** A compiled plan: everything tsrun-init will do, in order. */
export interface Plan {
  steps: PlanStep[];
}

/** Builds a typed step. */
export function step<N extends OpName>(op: N, args: OpArgs<N>, field: string, why: string): PlanStep {
  return { op, args, field, why } as PlanStep;
}
