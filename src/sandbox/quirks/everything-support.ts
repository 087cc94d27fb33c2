import { badRequest } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouteHandler } from '@medplum/fhir-router';
import type { CapabilityStatement, OperationOutcome } from '@medplum/fhirtypes';
import { errorOutcome, operationParams } from '../context.js';

/**
 * How the server offers `Patient/{id}/$everything`:
 * - `supported`: advertised in the CapabilityStatement, `_type`/`_since`/paging work (HAPI);
 * - `unadvertised-type-refused`: not advertised; it answers without `_type`, and any `_type` gets
 *   400 "types.push is not a function" (Medplum 5, seen on 5.0.10);
 * - `unsupported`: not advertised, 404 not-supported (Epic-like EHRs).
 */
export type EverythingSupport = 'supported' | 'unadvertised-type-refused' | 'unsupported';

/** Medplum 5's answer to `$everything?_type=...` (a server bug, reproduced verbatim). */
export const MEDPLUM_TYPE_ERROR = 'types.push is not a function';

/** Wraps the sandbox's `$everything` handler with the server's support level. */
export function everythingRoute(mode: EverythingSupport, handler: FhirRouteHandler): FhirRouteHandler {
  if (mode === 'supported') return handler;
  if (mode === 'unsupported') {
    const refused = errorOutcome(
      'not-supported',
      'Patient/$everything is not supported by this server',
    ) as OperationOutcome;
    return async (): Promise<FhirResponse> => [{ ...refused, id: 'not-found' }];
  }
  return async (req: FhirRequest, ...rest): Promise<FhirResponse> => {
    if (operationParams(req).has('_type')) return [badRequest(MEDPLUM_TYPE_ERROR)];
    return handler(req, ...rest);
  };
}

/** Removes `everything` from Patient's operations unless the mode is `supported`. */
export function everythingCapabilityEdit(mode: EverythingSupport): ((cs: CapabilityStatement) => void) | undefined {
  if (mode === 'supported') return undefined;
  return (cs) => {
    for (const rest of cs.rest ?? []) {
      const patient = rest.resource?.find((r) => r.type === 'Patient');
      if (patient?.operation) patient.operation = patient.operation.filter((op) => op.name !== 'everything');
    }
  };
}
