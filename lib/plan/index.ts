/** Plan compilation, encoding and the teaching view. */
export { compilePlan, compileExecPlan, parseMountOptions, rootfsPath, DEFAULT_PATH } from './compile.js';
export type { PlanContext, ExecTarget, SourceKind, CgroupMountLayout, MountOptionsPlan } from './compile.js';
export { encodePlan, decodePlan, PlanCodecError } from './codec.js';
export type { DecodedStep } from './codec.js';
export { formatPlan, describeStep } from './explain.js';
export { OPS, MSG, SYNC_POINTS, NO_STEP } from './ops.js';
export type { OpName, OpArgs } from './ops.js';
export type { Plan, PlanStep } from './types.js';
export { step } from './types.js';
