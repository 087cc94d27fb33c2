import { createHash } from 'node:crypto';
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue, Resource, RiskAssessment } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '../fhir/definitions.js';
import type { WriteMode } from './map-resources.js';
import type { PlannedEntry } from './plan.js';
import { validateAgainstProfile } from './profile-validator.js';
import { getProfile } from './profiles/profiles.js';
import { checkRequiredBindings } from './required-bindings.js';

/**
 * The write-back did not validate: nothing was written. Permanent (the same record gives the same
 * output), so the job layer fails the job without retrying; `outcome` names every problem.
 */
export class WriteBackValidationError extends OperationOutcomeError {
  constructor(outcome: OperationOutcome) {
    super(outcome);
    this.name = 'WriteBackValidationError';
  }
}

/**
 * Resources already validated, by profile + content hash: the Devices are identical on every run, so
 * they are validated once per process (profile validation itself: see profile-validator.ts).
 */
const validated = new Set<string>();
const MAX_MEMO = 512; // entries; cleared when full (the memo is an optimisation, not a cache to keep)

/** The profile a resource claims in `meta.profile` (ours), or none: then the base R4 definition. */
function profileOf(resource: Resource): string | undefined {
  return resource.meta?.profile?.find((p) => p.startsWith('http://fhir-assess.dev/'));
}

/**
 * Validates one resource against its profile (or its base type) and the required bindings.
 * @returns the error and warning issues, each `details.text` prefixed with where it was found
 */
export function validateOne(
  resource: Resource,
  mode: WriteMode,
  where: string = resource.resourceType,
): OperationOutcomeIssue[] {
  loadFhirDefinitions();
  const profileUrl = profileOf(resource);
  const memoKey = `${profileUrl}|${mode}|${createHash('sha1').update(JSON.stringify(resource)).digest('hex')}`;
  if (validated.has(memoKey)) return [];
  let issues: OperationOutcomeIssue[];
  try {
    issues = profileUrl ? validateAgainstProfile(resource, getProfile(profileUrl)) : validateResource(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    issues = err.outcome.issue ?? [];
  }
  issues = [...issues.flatMap((i) => replaceSpuriousRas2(resource, i)), ...checkRequiredBindings(resource, mode)];
  const label = `${where} (${profileUrl ?? `base ${resource.resourceType}`})`;
  const labelled = issues.map((i) => {
    const at = i.expression?.length ? ` at ${i.expression.join(', ')}` : '';
    return { ...i, details: { text: `${label}${at}: ${i.details?.text ?? i.code}` } };
  });
  if (!labelled.some((i) => i.severity === 'error' || i.severity === 'fatal')) {
    if (validated.size >= MAX_MEMO) validated.clear();
    validated.add(memoKey);
  }
  return labelled;
}

/**
 * @medplum/core 4.5.2 evaluates R4 `ras-2` ("probability is decimal implies (probability as decimal) <= 100")
 * as unmet when a prediction has no probability at all (qualitative-only scores such as NEWS2), and then
 * skips the element's remaining invariants. The implication is vacuously true there, so the issue is
 * dropped and our profile's rules it hid (fa-ra-3 outcome, fa-ra-4 probability or qualitative risk) are
 * checked here instead; present probabilities are range-checked by fa-ra-5.
 */
function replaceSpuriousRas2(resource: Resource, issue: OperationOutcomeIssue): OperationOutcomeIssue[] {
  if (resource.resourceType !== 'RiskAssessment' || !issue.details?.text?.includes('ras-2')) return [issue];
  const index = Number(/prediction\[(\d+)\]/.exec(issue.expression?.[0] ?? '')?.[1] ?? -1);
  const prediction = (resource as RiskAssessment).prediction?.[index];
  if (!prediction || prediction.probabilityDecimal !== undefined) return [issue];
  const hidden: [boolean, string][] = [
    [!prediction.outcome, 'Constraint fa-ra-3 not met: Every prediction names its outcome'],
    [
      !prediction.qualitativeRisk,
      'Constraint fa-ra-4 not met: Every prediction has a probability or a qualitative risk',
    ],
  ];
  return hidden.filter(([broken]) => broken).map(([, text]) => ({ ...issue, details: { text } }));
}

/**
 * Validates every entry of a write-back plan before anything is sent.
 * @throws WriteBackValidationError with every error of every entry, when any entry has one
 */
export function validatePlan(entries: PlannedEntry[], mode: WriteMode): void {
  const errors = entries.flatMap((e, i) =>
    validateOne(e.resource, mode, `entry ${i} ${e.resource.resourceType}`).filter(
      (issue) => issue.severity === 'error' || issue.severity === 'fatal',
    ),
  );
  if (errors.length) throw new WriteBackValidationError({ resourceType: 'OperationOutcome', issue: errors });
}
