/**
 * The spec module: OCI runtime-spec v1.3.0 types and tables, validation of
 * config.json and process.json, loading from a bundle, the default config
 * (`tsrun spec`) and the features document (`tsrun features`).
 */
export * from './types.js';
export * from './tables.js';
export {
  validateConfig, validateProcess, checkConfig, checkProcess, checkStateDocument, checkFeaturesDocument, joinField,
  type ValidateContext, type ConfigValidation, type ProcessValidation, type SpecReport,
} from './validate.js';
export { loadBundleConfig, loadProcessFile, readJsonDocument, locateJsonError, type LoadOptions, type JsonErrorLocation } from './load.js';
export {
  defaultSpec, DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, type DefaultSpecOptions,
} from './defaults.js';
export {
  features, OCI_VERSION_MIN, FEATURE_ANNOTATIONS, type Features, type FeaturesOptions, type SeccompFeatures,
} from './features.js';
export { SpecError, type SpecIssue } from '../errors.js';
