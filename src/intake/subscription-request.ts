import type { Subscription } from '@medplum/fhirtypes';

/** The topic we ask EHRs for (fhir-profiles/SubscriptionTopic-patient-data-changed.json). */
export const PATIENT_DATA_TOPIC = 'http://fhir-assess.dev/SubscriptionTopic/patient-data-changed';

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
/** HAPI sends deletes (`DELETE {endpoint}/{Type}/{id}`) only with this channel extension set. */
const HAPI_SEND_DELETES = 'http://hapifhir.io/fhir/StructureDefinition/subscription-send-delete-messages';
/** Medplum's Subscription extension holding the HMAC secret of `X-Signature`. */
const MEDPLUM_SECRET = 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret';

export type SubscriptionKind =
  | {
      kind: 'classic';
      criteria: string;
      payload: 'empty' | 'full-resource';
      /** Medplum signs each notification (X-Signature) with this secret. */
      hmacSecret?: string;
    }
  | { kind: 'backport'; filters?: string[]; content: 'empty' | 'id-only' | 'full-resource'; heartbeatSeconds?: number };

/** The Subscription resource we ask an EHR to hold, pointing at our `/notify` endpoint. */
export function subscriptionResource(
  endpoint: string,
  secret: string | undefined,
  spec: SubscriptionKind,
): Subscription {
  const header = secret ? [`Authorization: Bearer ${secret}`] : undefined;
  const reason = 'fhir-assess: AI risk assessment when patient data changes';
  if (spec.kind === 'classic') {
    return {
      resourceType: 'Subscription',
      status: 'requested',
      reason,
      criteria: spec.criteria,
      extension: spec.hmacSecret ? [{ url: MEDPLUM_SECRET, valueString: spec.hmacSecret }] : undefined,
      channel: {
        type: 'rest-hook',
        endpoint,
        header,
        payload: spec.payload === 'full-resource' ? 'application/fhir+json' : undefined,
        // A deleted lab value changes the record: ask HAPI for deletes too (other servers ignore it).
        extension: [{ url: HAPI_SEND_DELETES, valueBoolean: true }],
      },
    };
  }
  return {
    resourceType: 'Subscription',
    meta: { profile: [`${BACKPORT}/backport-subscription`] },
    status: 'requested',
    reason,
    criteria: PATIENT_DATA_TOPIC,
    _criteria: spec.filters?.length
      ? { extension: spec.filters.map((valueString) => ({ url: `${BACKPORT}/backport-filter-criteria`, valueString })) }
      : undefined,
    channel: {
      type: 'rest-hook',
      endpoint,
      header,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: spec.content }] },
      extension: spec.heartbeatSeconds
        ? [{ url: `${BACKPORT}/backport-heartbeat-period`, valueUnsignedInt: spec.heartbeatSeconds }]
        : undefined,
    },
  } as Subscription;
}
