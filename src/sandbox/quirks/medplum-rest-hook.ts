import { createHmac } from 'node:crypto';
import { getExtension, resourceMatchesSubscriptionCriteria, stringify, type WithId } from '@medplum/core';
import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { DeliveryRequest } from '../delivery-queue.js';
import type { IndexedRepository, ResourceChange } from '../indexed-repository.js';

/** Medplum's Subscription extensions (standards.md §1c). */
export const MedplumUrl = {
  secret: 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret',
  legacySecret: 'https://www.medplum.com/fhir/StructureDefinition-subscriptionSecret',
  supportedInteraction: 'https://medplum.com/fhir/StructureDefinition/subscription-supported-interaction',
  maxAttempts: 'https://medplum.com/fhir/StructureDefinition/subscription-max-attempts',
  successCodes: 'https://medplum.com/fhir/StructureDefinition/subscription-success-codes',
} as const;

/** Medplum's DEFAULT_ATTEMPTS and MAX_JOB_ATTEMPTS (workers/subscription.ts). */
export const MEDPLUM_DEFAULT_ATTEMPTS = 4;
const MEDPLUM_MAX_ATTEMPTS = 19;
/** Medplum's REQUEST_TIMEOUT for rest-hooks: 120 s. */
const MEDPLUM_TIMEOUT_MS = 120_000;

/**
 * Whether Medplum would enqueue a job for this change: `resourceMatchesSubscriptionCriteria` from
 * @medplum/core, the function Medplum's server runs (criteria, the FHIRPath criteria extension with
 * `%previous`, and `subscription-supported-interaction`; deletes match unless that extension says otherwise).
 */
export function medplumMatches(subscription: Subscription, change: ResourceChange): Promise<boolean> {
  return resourceMatchesSubscriptionCriteria({
    resource: change.resource,
    subscription,
    context: { interaction: change.interaction },
    getPreviousResource: async () => change.previous,
  });
}

/**
 * The rest-hook request Medplum sends (workers/subscription.ts `sendRestHook`): `POST {endpoint}`
 * with the resource version that triggered it (Medplum's `stringify`, which drops empty values) or
 * `{}` on delete; `Content-Type: application/fhir+json`, `X-Medplum-Subscription`,
 * `X-Medplum-Interaction`, on delete `X-Medplum-Deleted-Resource`, each `channel.header` (see
 * {@link medplumHeaders}) and `X-Signature` = hex HMAC-SHA256 of the exact body with the
 * subscription secret. Attempts follow `subscription-max-attempts` (default 4), success follows
 * `subscription-success-codes` (default 200-399), and before each attempt the job stops when the
 * Subscription is gone or no longer active, when the resource was deleted, or (on a retry) when the
 * resource has moved on to a newer version: Medplum's "latest state" semantics.
 * Throws where Medplum's job throws (a `channel.header` entry without a colon).
 */
export function medplumRestHookRequest(
  repo: IndexedRepository,
  subscription: WithId<Subscription>,
  change: ResourceChange,
): DeliveryRequest {
  const { resource, interaction } = change;
  const body = interaction === 'delete' ? '{}' : stringify(resource);
  const headers: Record<string, string> = {
    'Content-Type': 'application/fhir+json',
    'X-Medplum-Subscription': subscription.id,
    'X-Medplum-Interaction': interaction,
  };
  if (interaction === 'delete') headers['X-Medplum-Deleted-Resource'] = `${resource.resourceType}/${resource.id}`;
  Object.assign(headers, medplumHeaders(subscription.channel?.header));
  const secret = signatureSecret(subscription);
  if (secret) headers['X-Signature'] = createHmac('sha256', secret).update(body).digest('hex');
  return {
    method: 'POST',
    url: subscription.channel?.endpoint as string,
    headers,
    body,
    timeoutMs: MEDPLUM_TIMEOUT_MS,
    label: `medplum ${interaction} ${resource.resourceType}/${resource.id}`,
    attempts: maxAttempts(subscription),
    isSuccess: (status) => isJobSuccessful(subscription, status),
    shouldAttempt: (attempt) => stopReason(repo, subscription.id, change, attempt),
  };
}

/**
 * `channel.header` the way Medplum parses it: `header.split(/:/)`, keeping the text between the
 * first and second colon, so `Authorization: Bearer a:b` arrives as `Bearer a`. An entry without a
 * colon makes Medplum's job throw (`value` is undefined), and so does this.
 */
export function medplumHeaders(lines: readonly string[] | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines ?? []) {
    const [key, value] = line.split(/:/);
    if (value === undefined) throw new TypeError("Cannot read properties of undefined (reading 'trim')");
    headers[key.trim()] = value.trim();
  }
  return headers;
}

function signatureSecret(subscription: Subscription): string | undefined {
  const value =
    getExtension(subscription, MedplumUrl.secret)?.valueString ||
    getExtension(subscription, MedplumUrl.legacySecret)?.valueString;
  return value || undefined;
}

function maxAttempts(subscription: Subscription): number {
  const n = getExtension(subscription, MedplumUrl.maxAttempts)?.valueInteger;
  return n && n > 0 ? Math.min(n, MEDPLUM_MAX_ATTEMPTS) : MEDPLUM_DEFAULT_ATTEMPTS;
}

/** Medplum's `isJobSuccessful`: `subscription-success-codes` (e.g. `200-399,404`), else 200-399. */
export function isJobSuccessful(subscription: Subscription, status: number): boolean {
  const codes = getExtension(subscription, MedplumUrl.successCodes)?.valueString;
  if (!codes) return status >= 200 && status < 400;
  for (const code of codes.replace(/ /g, '').split(',')) {
    const [low, high] = code.includes('-') ? code.split('-').map(Number) : [Number(code), Number(code)];
    if (!Number.isInteger(low) || !Number.isInteger(high)) return status >= 200 && status < 400;
    if (status >= low && status <= high) return true;
  }
  return false;
}

/** Medplum's job preamble, run before every attempt. */
function stopReason(
  repo: IndexedRepository,
  subscriptionId: string,
  change: ResourceChange,
  attempt: number,
): string | undefined {
  const current = repo.peek<Subscription>('Subscription', subscriptionId);
  if (!current) return `Subscription ${subscriptionId} not found`;
  if (current.status !== 'active') return `Subscription ${subscriptionId} is not active`;
  if (change.interaction === 'delete') return undefined;
  const { resourceType, id } = change.resource;
  const now: Resource | undefined = repo.peek(resourceType, id);
  if (!now) return `Resource ${resourceType}/${id} not found`;
  if (attempt > 1 && now.meta?.versionId !== change.resource.meta?.versionId) {
    return `Resource ${resourceType}/${id} is not the current version`;
  }
  return undefined;
}
