/**
 * tsrun: a low-level OCI container runtime for Node.js.
 * @packageDocumentation
 */
export * from './errors.js';
export * from './spec/types.js';
