/**
 * Types of the ajv standalone validators that scripts/build-validators.mjs
 * generates from schemas/*.json into build/lib/spec/generated/validators.js
 * (run by scripts/postbuild.mjs). Hand-written: the generated module is plain
 * JavaScript.
 */

/** One error as ajv reports it (the subset of ajv's ErrorObject tsrun reads). */
export interface SchemaError {
  /** JSON Pointer of the failing value, e.g. `/mounts/3/destination`. */
  instancePath: string;
  /** JSON Pointer into the schema, e.g. `#/definitions/namespace/properties/type/enum`. */
  schemaPath: string;
  /** The failing keyword: `type`, `required`, `enum`, `minimum`, `pattern`, ... */
  keyword: string;
  /** Keyword parameters: `{ type }`, `{ missingProperty }`, `{ allowedValues }`, `{ limit, comparison }`, ... */
  params: Record<string, unknown>;
  /** ajv's own text; never shown to users as is. */
  message?: string;
  /** For `propertyNames` errors: the offending property name. */
  propertyName?: string;
  /** The schema object holding the failing keyword (the generator turns on ajv's `verbose`). */
  parentSchema?: Record<string, unknown>;
  /** The failing value (`verbose`). */
  data?: unknown;
}

/** A precompiled validator: returns true when valid, else sets `errors`. */
export interface SchemaValidator {
  (data: unknown): boolean;
  errors?: SchemaError[] | null;
}

export declare const validateConfigSchema: SchemaValidator;
export declare const validateProcessSchema: SchemaValidator;
export declare const validateStateSchema: SchemaValidator;
export declare const validateFeaturesSchema: SchemaValidator;
