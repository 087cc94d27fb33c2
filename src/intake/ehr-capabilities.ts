import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';

/** Backport IG extension on `CapabilityStatement.rest.resource` (Subscription) naming each supported topic. */
export const TOPIC_CANONICAL_EXT =
  'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical';

/** How long a CapabilityStatement is trusted before it is read again (ms): 10 min. */
const CACHE_MS = 10 * 60_000;
const cache = new WeakMap<FhirClient, { at: number; cs: Promise<CapabilityStatement | undefined> }>();

/** The EHR's CapabilityStatement, cached per client; undefined when it cannot be read (then we just try). */
export function capabilityStatement(client: FhirClient, now = Date.now()): Promise<CapabilityStatement | undefined> {
  const hit = cache.get(client);
  if (hit && now - hit.at < CACHE_MS) return hit.cs;
  const cs = client.get<CapabilityStatement>('metadata').then(
    (r) => (r?.resourceType === 'CapabilityStatement' ? r : undefined),
    () => {
      cache.delete(client); // a failure is not remembered: the next call asks again
      return undefined;
    },
  );
  cache.set(client, { at: now, cs });
  return cs;
}

function subscriptionEntry(cs: CapabilityStatement | undefined): CapabilityStatementRestResource | undefined {
  return cs?.rest?.flatMap((r) => r.resource ?? []).find((r) => r.type === 'Subscription');
}

/** True when the EHR advertises the topic (R4 Backport: subscriptiontopic-canonical extension). */
export async function advertisesTopic(client: FhirClient, topic: string): Promise<boolean> {
  const entry = subscriptionEntry(await capabilityStatement(client));
  return !!entry?.extension?.some((e) => e.url === TOPIC_CANONICAL_EXT && e.valueCanonical === topic);
}

/**
 * Whether `Subscription/{id}/$events` is offered: true or false when the CapabilityStatement lists the
 * Subscription operations, undefined when it does not say (then try it and fall back on 400/404).
 */
export async function supportsEventsOperation(client: FhirClient): Promise<boolean | undefined> {
  const ops = subscriptionEntry(await capabilityStatement(client))?.operation;
  if (!ops?.length) return undefined;
  return ops.some((o) => o.name === 'events' || o.name === '$events' || o.definition?.endsWith('-events'));
}
