import { randomUUID } from 'node:crypto';

/*
 * autocannon `setupRequest` for the intake benchmark. It runs inside autocannon's worker thread (so the
 * load generator does not share the servers' event loop), which loads it with require(): hence
 * CommonJS (.cts) exporting the function itself.
 */

/** Where the notifications say they come from: never contacted (the benchmark runs no workers). */
const BENCH_FHIR_BASE = 'http://ehr.bench.invalid/fhir/R4';

/** A full-resource R4 Backport event notification (a lipid-panel Observation), with placeholders. */
const TEMPLATE = JSON.stringify({
  resourceType: 'Bundle',
  type: 'history',
  timestamp: '2021-03-30T10:00:00.000Z',
  meta: {
    profile: [
      'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4',
    ],
  },
  entry: [
    {
      fullUrl: 'urn:uuid:__SUB__-__N__',
      resource: {
        resourceType: 'Parameters',
        meta: {
          profile: [
            'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4',
          ],
        },
        parameter: [
          { name: 'subscription', valueReference: { reference: `${BENCH_FHIR_BASE}/Subscription/__SUB__` } },
          { name: 'topic', valueCanonical: 'http://fhir-assess.dev/SubscriptionTopic/patient-data-changed' },
          { name: 'status', valueCode: 'active' },
          { name: 'type', valueCode: 'event-notification' },
          { name: 'events-since-subscription-start', valueString: '__N__' },
          {
            name: 'notification-event',
            part: [
              { name: 'event-number', valueString: '__N__' },
              { name: 'timestamp', valueInstant: '2021-03-30T10:00:00.000Z' },
              { name: 'focus', valueReference: { reference: `${BENCH_FHIR_BASE}/Observation/__ID__` } },
            ],
          },
        ],
      },
      request: { method: 'GET', url: `${BENCH_FHIR_BASE}/Subscription/__SUB__/$status` },
      response: { status: '200' },
    },
    {
      fullUrl: `${BENCH_FHIR_BASE}/Observation/__ID__`,
      resource: {
        resourceType: 'Observation',
        id: '__ID__',
        meta: { versionId: '__N__', lastUpdated: '2021-03-30T10:00:00.000Z' },
        status: 'final',
        category: [
          { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] },
        ],
        code: {
          coding: [
            { system: 'http://loinc.org', code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma' },
          ],
          text: 'Total cholesterol',
        },
        subject: { reference: 'Patient/bench-patient-__SUB__' },
        effectiveDateTime: '2021-03-30T09:30:00+00:00',
        issued: '2021-03-30T10:00:00.000+00:00',
        valueQuantity: { value: 213, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
        referenceRange: [{ high: { value: 200, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' } }],
      },
      request: { method: 'PUT', url: 'Observation/__ID__' },
      response: { status: '200' },
    },
  ],
});

/** One id per worker-thread load: every autocannon run gets fresh subscriptions (no replayed event numbers). */
const RUN = randomUUID().slice(0, 8);
let connections = 0;

/**
 * Each connection plays one subscription sending events 1, 2, 3... in order (as an EHR does), each
 * about a new resource version, so nothing is deduplicated away and no gap is ever seen.
 */
function setupRequest(req: { body?: string }, context: { sub?: string; n?: number }) {
  context.sub ??= `b${RUN}-${connections++}`;
  context.n = (context.n ?? 0) + 1;
  const n = String(context.n);
  req.body = TEMPLATE.replaceAll('__SUB__', context.sub)
    .replaceAll('__ID__', `${context.sub}-${n}`)
    .replaceAll('__N__', n);
  return req;
}

/** Where the notifications say they come from (the benchmark's source must use the same base). */
setupRequest.fhirBase = BENCH_FHIR_BASE;
/** Bytes of one notification body (for the report). */
setupRequest.bodyBytes = Buffer.byteLength(setupRequest({}, {}).body ?? '');

export = setupRequest;
