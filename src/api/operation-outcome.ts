import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** A one-issue OperationOutcome: what every error response of this service carries. */
export function outcome(
  severity: OperationOutcomeIssue['severity'],
  code: OperationOutcomeIssue['code'],
  diagnostics: string,
): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

/** FHIR issue type for an HTTP error status. */
export function issueCodeFor(status: number): OperationOutcomeIssue['code'] {
  if (status === 401 || status === 403) return 'security';
  if (status === 404) return 'not-found';
  if (status === 405 || status === 415) return 'not-supported';
  if (status === 413) return 'too-costly';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'exception';
  return 'invalid';
}
