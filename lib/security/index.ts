/**
 * Process security: seccomp profiles compiled to BPF in the host process.
 * Importing this index loads neither koffi nor libseccomp.
 */
export {
  compileSeccomp,
  seccompFeatures,
  SeccompUnavailableError,
  SECCOMP_FILTER_FLAG,
  type CompiledSeccomp,
  type CompileSeccompOptions,
  type SeccompFeatures,
} from './seccomp.js';
export { checkProfile, type CheckedProfile } from './seccomp-profile.js';
export { profileHash, canonicalJson } from './seccomp-cache.js';
export { DEFAULT_LIBSECCOMP, LIBSECCOMP_ENV } from './libseccomp.js';
