/**
 * Canonical URLs and defaults shared by the sandbox EHR modules.
 * Kept in one place so the CapabilityStatement, the Subscription parser and the notification
 * builder cannot drift apart.
 */

/** Base path of the FHIR API on the sandbox HTTP server. */
export const FHIR_BASE_PATH = '/fhir/R4';

/** The one SubscriptionTopic the sandbox supports (R4 Backport IG style). */
export const PATIENT_DATA_CHANGED_TOPIC = 'http://fhir-assess.dev/SubscriptionTopic/patient-data-changed';

/** Every topic canonical the sandbox advertises and accepts in `Subscription.criteria`. */
export const SUPPORTED_TOPICS: readonly string[] = [PATIENT_DATA_CHANGED_TOPIC];

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport';

/** Structure definition and extension URLs of the Subscriptions R5 Backport IG. */
export const BackportUrl = {
  subscriptionProfile: `${BACKPORT}/StructureDefinition/backport-subscription`,
  statusProfile: `${BACKPORT}/StructureDefinition/backport-subscription-status-r4`,
  notificationProfile: `${BACKPORT}/StructureDefinition/backport-subscription-notification-r4`,
  filterCriteria: `${BACKPORT}/StructureDefinition/backport-filter-criteria`,
  payloadContent: `${BACKPORT}/StructureDefinition/backport-payload-content`,
  heartbeatPeriod: `${BACKPORT}/StructureDefinition/backport-heartbeat-period`,
  timeout: `${BACKPORT}/StructureDefinition/backport-timeout`,
  maxCount: `${BACKPORT}/StructureDefinition/backport-max-count`,
  topicCanonical: `${BACKPORT}/StructureDefinition/capabilitystatement-subscriptiontopic-canonical`,
  serverCapabilities: `${BACKPORT}/CapabilityStatement/backport-subscription-server-r4`,
  statusOperation: `${BACKPORT}/OperationDefinition/backport-subscription-status`,
  eventsOperation: `${BACKPORT}/OperationDefinition/backport-subscription-events`,
} as const;

/** Default page size of type searches when the client sends no `_count`. */
export const DEFAULT_SEARCH_COUNT = 20;
/** Default page size of `Patient/$everything`. */
export const DEFAULT_EVERYTHING_COUNT = 100;
/** Largest page size the sandbox will return, whatever `_count` asks for. */
export const MAX_COUNT = 1000;

/** Body limit of the HTTP server: 50 MB (Synthea transaction bundles reach ~4 MB). */
export const BODY_LIMIT_BYTES = 50 * 1024 * 1024;

/** Default delivery retry policy: 5 attempts, 200 ms base delay, doubling. */
export const DEFAULT_NOTIFY_RETRY = { attempts: 5, baseDelayMs: 200 } as const;
/** Per-attempt HTTP timeout for notifications when the Subscription sets no `backport-timeout`: 10 s. */
export const DEFAULT_NOTIFY_TIMEOUT_MS = 10_000;
/** Events kept per topic Subscription for `$events`. */
export const RETAINED_EVENTS = 100;
