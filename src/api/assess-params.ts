import { z } from 'zod';
import { FHIR_ID } from '../fhir/fhir-id.js';
import { ApiError } from './api-error.js';

/** Patients one system-level `$assess` may list; larger populations go through a Group or backfill. */
export const MAX_LISTED_PATIENTS = 1000;

const ParameterSchema = z
  .object({
    name: z.string().min(1),
    valueString: z.string().optional(),
    valueCode: z.string().optional(),
    valueId: z.string().optional(),
    valueDate: z.string().optional(),
    valueInteger: z.number().optional(),
    valueReference: z.object({ reference: z.string().optional() }).optional(),
  })
  .loose();

const ParametersSchema = z.object({
  resourceType: z.literal('Parameters', { error: 'the body must be a FHIR Parameters resource' }),
  parameter: z
    .array(ParameterSchema)
    .max(MAX_LISTED_PATIENTS + 50)
    .optional(),
});

/** What an `$assess` call asked for, validated. */
export interface AssessParams {
  models?: string[];
  /** Patient ids (system level only). */
  patients: string[];
  /** Configured EHR source name (default: the first). */
  source?: string;
}

/** Parameters `$assess` accepts (fhir-profiles/OperationDefinition-assess.json) plus `source`. */
const KNOWN = new Set(['model', 'patient', 'source', 'mode', 'asOf']);

/**
 * Reads `$assess` input from the query string and/or a Parameters body and validates it.
 * @param knownModels - model ids this deployment runs; an unknown `model` is a 400
 * @throws ApiError 400/413/422 naming the problem (sent as an OperationOutcome)
 */
export function parseAssessParams(query: unknown, body: unknown, knownModels: string[]): AssessParams {
  const values = operationParameters(query, body);
  const unknown = [...values.keys()].filter((k) => !KNOWN.has(k));
  if (unknown.length) throw bad(`unknown parameter(s): ${unknown.join(', ')}`);
  for (const unsupported of ['mode', 'asOf']) {
    if (values.has(unsupported))
      throw new ApiError(
        422,
        `parameter '${unsupported}' is not supported by this server yet; the configured MODEL_MODE / AS_OF apply`,
      );
  }
  const models = values.get('model');
  const unknownModels = (models ?? []).filter((m) => !knownModels.includes(m));
  if (unknownModels.length)
    throw bad(`unknown model(s): ${unknownModels.join(', ')}; this server runs: ${knownModels.join(', ')}`);
  const patients = (values.get('patient') ?? []).map(patientId);
  if (patients.length > MAX_LISTED_PATIENTS)
    throw new ApiError(
      413,
      `${patients.length} patients listed; at most ${MAX_LISTED_PATIENTS} per request (use Group/{id}/$assess or the backfill command)`,
    );
  const sources = values.get('source');
  if (sources && sources.length > 1) throw bad('at most one source');
  return { models: models ? [...new Set(models)] : undefined, patients: [...new Set(patients)], source: sources?.[0] };
}

/**
 * An operation's input from the query string and/or a Parameters body, by name (values as text).
 * @throws ApiError 400 when the body is not a Parameters resource
 */
export function operationParameters(query: unknown, body: unknown): Map<string, string[]> {
  const values = new Map<string, string[]>();
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined) values.set(name, [...(values.get(name) ?? []), value]);
  };
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, string | string[]>)) {
    for (const one of Array.isArray(v) ? v : [v]) add(k, one);
  }
  if (body !== undefined && body !== null) {
    const parsed = ParametersSchema.safeParse(body);
    if (!parsed.success) throw bad(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    for (const p of parsed.data.parameter ?? []) {
      const integer = p.valueInteger === undefined ? undefined : String(p.valueInteger);
      add(p.name, p.valueString ?? p.valueCode ?? p.valueId ?? p.valueDate ?? integer ?? p.valueReference?.reference);
    }
  }
  return values;
}

/** `Patient/{id}` (or a bare id) to the id; anything else is a 400. */
function patientId(ref: string): string {
  const m = /^(?:Patient\/)?([^/]+)$/.exec(ref);
  if (!m || !FHIR_ID.test(m[1])) throw bad(`patient '${ref.slice(0, 80)}' is not a Patient/{id} reference`);
  return m[1];
}

function bad(message: string): ApiError {
  return new ApiError(400, message);
}
