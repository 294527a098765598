/**
 * `lib/inspect`: a running container as data and as pictures, for
 * `tsrun inspect`: its processes (from the cgroup, with parent links and
 * command lines), the init's namespaces (own or shared with the host), the
 * cgroup's limits and usage, and its mount table.
 * @module
 */
export type { InspectReport, InspectProcess, InspectNamespace, InspectCgroup, InspectMemory, InspectMount } from './types.js';
export { inspectContainer, collectReport, cgroupSummary, readProcess, parseStatPpid, parseNsPid, type CollectOptions } from './collect.js';
export { parseMountinfo, unescapeMountinfo } from './mountinfo.js';
export { formatTree, formatDot, formatJson, formatReport, formatBytes, INSPECT_FORMATS, type InspectFormat } from './format.js';
