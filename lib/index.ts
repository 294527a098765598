/**
 * tsrun: a low-level OCI container runtime for Node.js.
 *
 * The container API (`createContainer`, `loadContainer`, `listContainers`)
 * sits on composable primitives, each exported as a namespace: `spec`
 * (types, validation, defaults, features), `plan` (compile, encode,
 * explain), `cgroups`, `namespaces` and `rootfs`.
 * @packageDocumentation
 */
export * from './errors.js';
export type * from './spec/types.js';
export { createContainer, loadContainer, listContainers, Container, ContainerProcess } from './runtime/container.js';
export { ContainerTerminal } from './runtime/terminal.js';
export type { ContainerOptions, ExitStatus, StdioSpec } from './runtime/container.js';
export * as spec from './spec/index.js';
export * as plan from './plan/index.js';
export * as cgroups from './cgroups/index.js';
export * as namespaces from './namespaces/index.js';
export * as rootfs from './rootfs/index.js';
export * as security from './security/index.js';
export * as sys from './sys/index.js';
export * as inspect from './inspect/index.js';
export { runPlan } from './runtime/run-plan.js';
export { FastRunner } from './runtime/fast.js';
export type { FastRunnerOptions } from './runtime/fast.js';
