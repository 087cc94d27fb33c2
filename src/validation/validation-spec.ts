import type { Selection } from '../backfill/choose-enumerator.js';
import type { Model } from '../models/model.js';
import { buildModelRegistry } from '../models/registry.js';
import type { ModelSpec } from '../models/registry-config.js';
import type { PatientRow } from './evaluate-patient.js';
import { buildReport, type ReportContext, type ValidationReport } from './report.js';
import { targetFor, UnknownTargetError, type ValidationTarget } from './targets.js';

/**
 * What to validate, as `fhir-assess validate` and `$validate-model` both take it: prediction ids with
 * an optional `@VERSION`, the horizon, and which configured model computes them. One module so the
 * command and the operation accept, refuse and compute exactly the same things.
 */

/** A request naming something validation cannot do; the message says what can. */
export class ValidationSpecError extends Error {}

/** `10y` or `10` → 10; anything else is refused. */
export function parseHorizonYears(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,3})y?$/.exec(v);
  if (!m) throw new ValidationSpecError(`horizon must be whole years such as 10y, got '${v.slice(0, 40)}'`);
  return Number(m[1]);
}

/**
 * The targets of `pce-2013,charlson-age-adjusted@0.2.0`-style specs (commas or several entries).
 * @returns the targets and the one `@VERSION` given, if any
 * @throws ValidationSpecError for an unknown prediction, a horizon that is not its own, or several versions
 */
export function parseTargetSpecs(
  specs: string[],
  horizonYears?: number,
): { targets: ValidationTarget[]; version?: string } {
  const parts = specs.flatMap((s) => s.split(',')).map((p) => p.trim());
  if (!parts.length || parts.some((p) => !p))
    throw new ValidationSpecError('a prediction id is required, e.g. pce-2013 or pce-2013@0.2.0');
  const versions = new Set<string>();
  const targets = parts.map((part) => {
    const [id, version] = part.split('@');
    if (version) versions.add(version);
    try {
      return targetFor(id, horizonYears);
    } catch (err) {
      if (err instanceof UnknownTargetError) throw new ValidationSpecError(err.message);
      throw err;
    }
  });
  if (versions.size > 1)
    throw new ValidationSpecError('give one @VERSION for all predictions (they come from one model)');
  const unique = [...new Map(targets.map((t) => [t.prediction, t])).values()];
  return { targets: unique, version: [...versions][0] };
}

/** A configured model with the spec it was built from (MODELS_FILE / MODELS). */
export interface ConfiguredModel {
  model: Model;
  spec: ModelSpec;
}

/** Every configured model with its spec, built as `serve` builds them (hosted models are never validated). */
export function configuredModels(cfg: { models: readonly ModelSpec[] }): ConfiguredModel[] {
  return buildModelRegistry(cfg).map((r, i) => ({ model: r.model, spec: cfg.models[i] }));
}

/**
 * The configured model each prediction comes from (embedded models: by their calculators).
 * @throws ValidationSpecError when none, or several without `@VERSION`, compute all of them
 */
export function resolveValidatedModel(
  configured: readonly ConfiguredModel[],
  targets: ValidationTarget[],
  version?: string,
): Model {
  const candidates = configured.filter(({ spec }) => {
    if (spec.type !== 'embedded') return false;
    const calculators = spec.calculators ?? 'all';
    return targets.every((t) => calculators === 'all' || calculators.includes(t.calculator));
  });
  const matching = version ? candidates.filter((c) => c.model.version === version) : candidates;
  const list = candidates.map((c) => `${c.model.id}@${c.model.version}`).join(', ') || 'none';
  if (matching.length === 0)
    throw new ValidationSpecError(
      `no configured model computes ${targets.map((t) => t.prediction).join(', ')}${version ? ` at version ${version}` : ''}; configured models that do: ${list}`,
    );
  if (matching.length > 1)
    throw new ValidationSpecError(`several configured models compute it (${list}): give @VERSION or set MODELS`);
  return matching[0].model;
}

/** How a report names its population. */
export function selectionText(s: Selection): string {
  return s.kind === 'all' ? 'all patients' : s.kind === 'group' ? `Group/${s.id}` : `patients of ${s.file}`;
}

/** One report per target from a finished run's rows (pure apart from the clock: seeded bootstrap). */
export function buildReports(
  rows: PatientRow[],
  targets: ValidationTarget[],
  ctx: Omit<ReportContext, 'target'>,
): ValidationReport[] {
  return targets.map((target) =>
    buildReport(
      rows.filter((r) => r.prediction === target.prediction),
      { ...ctx, target },
    ),
  );
}
