import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** A one-issue OperationOutcome for errors raised on our side of the wire. */
export function localOutcome(code: OperationOutcomeIssue['code'], diagnostics: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

/** An EHR answer that was not 2xx: carries the HTTP status and the EHR's own OperationOutcome. */
export class FhirHttpError extends OperationOutcomeError {
  /** Delay the EHR asked for (Retry-After), ms; set on 429/503 answers that carry the header. */
  retryAfterMs?: number;

  constructor(
    readonly status: number,
    outcome: OperationOutcome,
    /** Path of the request (no query string: queries can carry search values). */
    readonly url: string,
  ) {
    super(outcome);
    this.name = 'FhirHttpError';
  }

  /** 408, 429 and 5xx may succeed later; every other 4xx will not. */
  get retryable(): boolean {
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** No usable answer: connection refused or dropped, or no answer within the timeout, on every attempt. */
export class FhirConnectionError extends OperationOutcomeError {
  readonly retryable = true;

  constructor(
    readonly url: string,
    readonly reason: string,
    readonly attempts: number,
  ) {
    super(localOutcome('transient', `${url}: ${reason} (${attempts} attempt${attempts === 1 ? '' : 's'})`));
    this.name = 'FhirConnectionError';
  }
}

/** The EHR's answer exceeded the configured response size limit; reading was aborted. */
export class FhirResponseTooLargeError extends OperationOutcomeError {
  readonly retryable = false;

  constructor(
    readonly url: string,
    readonly limitBytes: number,
  ) {
    super(localOutcome('too-costly', `${url}: response larger than ${limitBytes} bytes; reading aborted`));
    this.name = 'FhirResponseTooLargeError';
  }
}

/** The token endpoint refused us or could not be reached (the message never contains a secret). */
export class AuthError extends OperationOutcomeError {
  constructor(
    message: string,
    /** HTTP status of the token endpoint, when it answered. */
    readonly status?: number,
  ) {
    super(localOutcome('security', message));
    this.name = 'AuthError';
  }

  /** A token endpoint that is down may come back; one that says no will keep saying no. */
  get retryable(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }
}
