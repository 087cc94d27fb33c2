import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { z } from 'zod';
import type { WriteMode } from './map-resources.js';

/**
 * The R4 *required* bindings of the elements we write. @medplum/core's validator does not check
 * code bindings (`status: 'bogus'` passes, library-notes §2), so these zod schemas do.
 */
const ObservationStatus = z.enum([
  'registered',
  'preliminary',
  'final',
  'amended',
  'corrected',
  'cancelled',
  'entered-in-error',
  'unknown',
]);
const ClinicalImpressionStatus = z.enum(['in-progress', 'completed', 'entered-in-error']);
const ProvenanceEntityRole = z.enum(['derivation', 'revision', 'quotation', 'source', 'removal']);
const DeviceStatus = z.enum(['active', 'inactive', 'entered-in-error', 'unknown']);
const DeviceNameType = z.enum([
  'udi-label-name',
  'user-friendly-name',
  'patient-reported-name',
  'manufacturer-name',
  'model-name',
  'other',
]);
const IdentifierUse = z.enum(['usual', 'official', 'temp', 'secondary', 'old']).optional();
const identifiers = z.array(z.looseObject({ use: IdentifierUse })).optional();

const SCHEMAS: Record<string, z.ZodType> = {
  RiskAssessment: z.looseObject({ status: ObservationStatus, identifier: identifiers }),
  ClinicalImpression: z.looseObject({ status: ClinicalImpressionStatus, identifier: identifiers }),
  Provenance: z.looseObject({ entity: z.array(z.looseObject({ role: ProvenanceEntityRole })).optional() }),
  Device: z.looseObject({
    status: DeviceStatus.optional(),
    identifier: identifiers,
    deviceName: z.array(z.looseObject({ type: DeviceNameType })).optional(),
  }),
};

/** The status each mode must write (issue 6): preliminary → preliminary/in-progress, final → final/completed. */
const MODE_STATUS: Record<WriteMode, Record<string, string>> = {
  preliminary: { RiskAssessment: 'preliminary', ClinicalImpression: 'in-progress' },
  final: { RiskAssessment: 'final', ClinicalImpression: 'completed' },
};

/**
 * Checks required code bindings and the status the deployment mode demands.
 * @returns OperationOutcome issues (empty when the resource passes)
 */
export function checkRequiredBindings(resource: Resource, mode: WriteMode): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const result = SCHEMAS[resource.resourceType]?.safeParse(resource);
  for (const i of result?.success === false ? result.error.issues : []) {
    issues.push({
      severity: 'error',
      code: 'code-invalid',
      details: { text: `${resource.resourceType}.${i.path.join('.')}: not a code of its required binding` },
      expression: [`${resource.resourceType}.${i.path.join('.')}`],
    });
  }
  const expected = MODE_STATUS[mode][resource.resourceType];
  const status = (resource as { status?: string }).status;
  if (expected && status !== expected) {
    issues.push({
      severity: 'error',
      code: 'business-rule',
      details: { text: `${resource.resourceType}.status must be ${expected} in ${mode} mode, not ${status}` },
      expression: [`${resource.resourceType}.status`],
    });
  }
  return issues;
}
