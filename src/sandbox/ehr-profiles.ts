import { DEFAULT_NOTIFY_RETRY } from './constants.js';
import type { RetryPolicy } from './delivery-queue.js';
import type { EhrQuirks } from './ehr-quirks.js';
import { MEDPLUM_DEFAULT_ATTEMPTS } from './quirks/medplum-rest-hook.js';
import { MEDPLUM_REQUEST_LIMIT } from './quirks/request-size-limit.js';

/** The EHR behaviours `startSandbox({ behave })` and `fhir-assess sandbox --behave` can imitate. */
export const EHR_PROFILE_NAMES = ['generic', 'medplum', 'hapi', 'epic'] as const;
export type EhrProfileName = (typeof EHR_PROFILE_NAMES)[number];

/** One profile: a named set of quirks, and what it imitates. */
export interface EhrProfile {
  name: EhrProfileName;
  /** The server it imitates, one line. */
  imitates: string;
  /** What a client meets, one line per behaviour (printed by the CLI, listed in docs/sandbox.md). */
  behaviour: readonly string[];
  quirks: EhrQuirks;
  /** Notification retry policy of that server (SandboxOptions.notifyRetry overrides it). */
  notifyRetry: RetryPolicy;
}

const SANDBOX_RETRY: RetryPolicy = DEFAULT_NOTIFY_RETRY;

/**
 * Profile -> quirks. Each profile reproduces its server's documented (source-read) behaviour:
 * standards.md §1a-1e, library-notes.md, issue 10. "Real servers are the spec."
 */
export const EHR_PROFILES: Readonly<Record<EhrProfileName, EhrProfile>> = {
  generic: {
    name: 'generic',
    imitates: 'a permissive FHIR R4 server (the sandbox as it always was)',
    behaviour: [
      'classic and R4 Backport topic Subscriptions; classic ones active at once, topic ones after a handshake',
      'Patient/$everything, batch and transaction advertised and working; _offset paging links',
      'Prefer: return=minimal ignored (full resources come back); no auth',
    ],
    quirks: {},
    notifyRetry: SANDBOX_RETRY,
  },
  medplum: {
    name: 'medplum',
    imitates: 'Medplum server 5.x (packages/server, PostgreSQL)',
    behaviour: [
      'Prefer: return=minimal answers an empty body, transactions included',
      'only Subscriptions stored active fire; requested ones stay requested; no topic Subscriptions (stored as error)',
      'rest-hook: POST of the bare resource ({} on delete), X-Medplum-Subscription/-Interaction/-Deleted-Resource, X-Signature (HMAC-SHA256 with subscription-secret), channel.header cut at the second colon',
      'delivery: 4 attempts, exponential from 1 s; a retry is dropped when the resource has a newer version',
      'Patient/$everything not advertised; any _type answers 400 "types.push is not a function"',
      'request bodies over 1 MiB answer 400 "File too large"',
      'concurrent transactions run one at a time ("Retrying transaction" logged per wait)',
      '"Unknown profile referenced" logged for meta.profile URLs without a StructureDefinition',
    ],
    quirks: {
      minimalReply: 'empty',
      subscriptionActivation: 'client-set',
      subscriptions: 'classic-only',
      restHook: 'medplum',
      everything: 'unadvertised-type-refused',
      requestSizeLimit: MEDPLUM_REQUEST_LIMIT,
      serializedTransactions: { retryDelayMs: 50, holdMs: 20 },
      warnUnknownProfiles: true,
    },
    notifyRetry: { attempts: MEDPLUM_DEFAULT_ATTEMPTS, baseDelayMs: 1000 },
  },
  hapi: {
    name: 'hapi',
    imitates: 'HAPI FHIR JPA server 7.x/8.x',
    behaviour: [
      'activates requested classic Subscriptions itself; R4 Backport topic Subscriptions after a handshake',
      'classic rest-hook: empty POST {endpoint} without payload, PUT {endpoint}/{Type}/{id} with one; DELETE only with subscription-send-delete-messages = true',
      'paging links at the base: ?_getpages=ID&_getpagesoffset=N&_count=N&_bundletype=searchset (410 once forgotten)',
      'Prefer: return=minimal keeps Bundle entry responses without resources',
      'Patient/$everything advertised and working',
    ],
    quirks: {
      minimalReply: 'no-resources',
      subscriptionActivation: 'standard',
      subscriptions: 'classic-and-topic',
      restHook: 'hapi',
      everything: 'supported',
      paging: 'getpages',
    },
    notifyRetry: SANDBOX_RETRY,
  },
  epic: {
    name: 'epic',
    imitates:
      'an Epic-like EHR: read-mostly FHIR R4, no Subscriptions, SMART Backend Services (Epic specifics unverified)',
    behaviour: [
      'no Subscription resource (absent from the CapabilityStatement, 404 not-supported): poll with _lastUpdated',
      'SMART Backend Services required: 401 without a bearer token from {origin}/oauth2/token (private_key_jwt, RS384/ES384)',
      'Bulk $export (Group, Patient, system) with requiresAccessToken: true',
      'no Patient/$everything, no transaction and no batch Bundles (405): one request per search or write',
    ],
    quirks: {
      subscriptions: 'none',
      everything: 'unsupported',
      rejectTransactions: true,
      rejectBatches: true,
      smartBackendAuth: {},
    },
    notifyRetry: SANDBOX_RETRY,
  },
};

/** Whether a string names a profile. */
export function isEhrProfileName(name: string): name is EhrProfileName {
  return (EHR_PROFILE_NAMES as readonly string[]).includes(name);
}

/** The profile's quirks with explicit ones on top (an explicit key replaces the profile's value). */
export function resolveQuirks(profile: EhrProfileName, explicit: EhrQuirks = {}): EhrQuirks {
  const merged: Record<string, unknown> = { ...EHR_PROFILES[profile].quirks };
  for (const [key, value] of Object.entries(explicit)) if (value !== undefined) merged[key] = value;
  return merged as EhrQuirks;
}
