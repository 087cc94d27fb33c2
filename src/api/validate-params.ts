import { FHIR_ID } from '../fhir/fhir-id.js';
import type { ValidateJob } from '../jobs/validate-queue.js';
import {
  type ConfiguredModel,
  parseHorizonYears,
  parseTargetSpecs,
  resolveValidatedModel,
  ValidationSpecError,
} from '../validation/validation-spec.js';
import { ApiError } from './api-error.js';
import { operationParameters } from './assess-params.js';

/** Bootstrap resamples a caller may ask for: the CLI's default is 200; more only costs worker time. */
export const MAX_BOOTSTRAP = 2000;
const DEFAULT_BOOTSTRAP = { reps: 200, seed: 1 };

/** Parameters of fhir-profiles/OperationDefinition-validate-model.json (plus `source`, as `$assess`). */
const KNOWN = new Set([
  'model',
  'asOf',
  'horizon',
  'population',
  'recordsCompleteUntil',
  'bootstrap',
  'seed',
  'source',
]);
const SINGLE = [...KNOWN].filter((k) => k !== 'model');

/** A `$validate-model` request, checked: the job to queue minus the source, which the route resolves. */
export type ValidateParams = Omit<ValidateJob, 'source'> & { source?: string };

/**
 * Reads and checks `$validate-model` input: 400 for what cannot be parsed, 422 for what parses but
 * cannot be validated (an unknown prediction, a horizon that is not the prediction's own, a model
 * version not configured, a follow-up end before the as-of date). Every message names the parameter.
 */
export function parseValidateParams(
  query: unknown,
  body: unknown,
  configured: readonly ConfiguredModel[],
): ValidateParams {
  const values = operationParameters(query, body);
  const unknown = [...values.keys()].filter((k) => !KNOWN.has(k));
  if (unknown.length)
    throw bad(`unknown parameter(s): ${unknown.join(', ')}; $validate-model takes ${[...KNOWN].join(', ')}`);
  for (const name of SINGLE) if ((values.get(name)?.length ?? 0) > 1) throw bad(`at most one '${name}'`);
  const one = (name: string) => values.get(name)?.[0];
  const models = values.get('model');
  if (!models?.length) throw bad("'model' is required: a prediction id such as pce-2013, optionally @VERSION");
  const asOf = date(one('asOf'), 'asOf', true) as string;
  const completeUntil = date(one('recordsCompleteUntil'), 'recordsCompleteUntil', false);
  if (completeUntil && completeUntil <= asOf)
    throw new ApiError(422, `'recordsCompleteUntil' (${completeUntil}) must be after 'asOf' (${asOf})`);
  const { predictions, model } = resolve(models, horizonOf(one('horizon')), configured);
  return {
    predictions,
    model: { id: model.id, version: model.version },
    asOf,
    ...(completeUntil && { completeUntil }),
    selection: population(one('population')),
    bootstrap: {
      reps: integer(one('bootstrap'), 'bootstrap', 0, MAX_BOOTSTRAP) ?? DEFAULT_BOOTSTRAP.reps,
      seed: integer(one('seed'), 'seed', 0, 2 ** 31 - 1) ?? DEFAULT_BOOTSTRAP.seed,
    },
    source: one('source'),
  };
}

function resolve(models: string[], horizon: number | undefined, configured: readonly ConfiguredModel[]) {
  try {
    const { targets, version } = parseTargetSpecs(models, horizon);
    const model = resolveValidatedModel(configured, targets, version);
    return { predictions: targets.map((t) => t.prediction), model };
  } catch (err) {
    if (err instanceof ValidationSpecError) throw new ApiError(422, `'model': ${err.message}`);
    throw err;
  }
}

function horizonOf(v: string | undefined): number | undefined {
  try {
    return parseHorizonYears(v);
  } catch {
    throw bad(`'horizon' must be whole years such as 10y, got '${String(v).slice(0, 40)}'`);
  }
}

function date(v: string | undefined, name: string, required: boolean): string | undefined {
  if (v === undefined) {
    if (required) throw bad(`'${name}' is required: a date YYYY-MM-DD`);
    return undefined;
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(v)) || new Date(v).toISOString().slice(0, 10) !== v)
    throw bad(`'${name}' must be a date YYYY-MM-DD, got '${v.slice(0, 40)}'`);
  return v;
}

function integer(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw bad(`'${name}' must be a whole number ${min}–${max}, got '${v.slice(0, 40)}'`);
  return n;
}

/** `all` (default) or `Group/{id}`. */
function population(v: string | undefined): ValidateJob['selection'] {
  if (v === undefined || v === 'all') return { kind: 'all' };
  const m = /^Group\/([^/]+)$/.exec(v);
  if (!m) throw bad(`'population' must be all or Group/{id}, got '${v.slice(0, 80)}'`);
  if (!FHIR_ID.test(m[1])) throw bad(`'population': the Group id must be a FHIR id, got '${m[1].slice(0, 80)}'`);
  return { kind: 'group', id: m[1] };
}

function bad(message: string): ApiError {
  return new ApiError(400, message);
}
