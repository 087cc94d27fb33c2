/**
 * The one precedence rule between `SOURCES_FILE` and the environment: **when `SOURCES_FILE` is given,
 * it is the only place for per-source settings.** Each environment variable below describes the single
 * source built from the environment; set alongside a `SOURCES_FILE` it would be ignored (a secret
 * silently not applied, as once happened with `NOTIFY_HMAC_SECRET`), so it is a start-up error that
 * names the file field to use instead. Settings not listed here (PUBLIC_URL, REDIS_URL, POLL_OVERLAP_MS,
 * ...) are global and apply in both cases.
 *
 * Keyed by environment variable; the value is the source field in SOURCES_FILE that replaces it.
 */
export const PER_SOURCE_ENV = {
  SOURCE_NAME: 'name',
  FHIR_BASE_URL: 'fhirBaseUrl',
  FHIR_BEARER_TOKEN: 'auth',
  FHIR_TIMEOUT_MS: 'timeoutMs',
  RECORD_STRATEGY: 'recordStrategy',
  NOTIFY_SECRET: 'notify.bearerSecrets',
  NOTIFY_HMAC_SECRET: 'notify.hmacSecrets',
  INTAKE_MODE: 'intake.mode',
  POLL_INTERVAL_MS: 'intake.pollIntervalMs',
  INTAKE_RECONCILE: 'intake.reconcile',
  SUBSCRIBE_ON_START: 'subscription.manage',
  SUBSCRIPTION_KIND: 'subscription.kind',
  HEARTBEAT_SECONDS: 'subscription.heartbeatSeconds',
} as const;

export type PerSourceEnvVar = keyof typeof PER_SOURCE_ENV;
export type SourceField = (typeof PER_SOURCE_ENV)[PerSourceEnvVar];

/** How to write each setting in SOURCES_FILE, for the error message. */
const FILE_EXAMPLE: Record<PerSourceEnvVar, string> = {
  SOURCE_NAME: '"name": "..."',
  FHIR_BASE_URL: '"fhirBaseUrl": "https://..."',
  FHIR_BEARER_TOKEN: '"auth": { "type": "bearer", "token": "..." }',
  FHIR_TIMEOUT_MS: '"timeoutMs": 30000',
  RECORD_STRATEGY: '"recordStrategy": "auto"',
  NOTIFY_SECRET: '"notify": { "bearerSecrets": ["..."] }',
  NOTIFY_HMAC_SECRET: '"notify": { "hmacSecrets": ["..."] }',
  INTAKE_MODE: '"intake": { "mode": "push" }',
  POLL_INTERVAL_MS: '"intake": { "pollIntervalMs": 60000 }',
  INTAKE_RECONCILE: '"intake": { "reconcile": true }',
  SUBSCRIBE_ON_START: '"subscription": { "manage": true }',
  SUBSCRIPTION_KIND: '"subscription": { "kind": "auto" }',
  HEARTBEAT_SECONDS: '"subscription": { "heartbeatSeconds": 120 }',
};

/**
 * Per-source variables explicitly present in the environment (not defaulted) next to a SOURCES_FILE,
 * one problem each. Values are never echoed: several are secrets.
 */
export function precedenceProblems(present: ReadonlySet<string>, sourcesFile: string | undefined): string[] {
  if (!sourcesFile) return [];
  return (Object.keys(PER_SOURCE_ENV) as PerSourceEnvVar[])
    .filter((name) => present.has(name))
    .map(
      (name) =>
        `${name}: set together with SOURCES_FILE, which is the only place for per-source settings, so it would be ` +
        `ignored; put it in each source of ${sourcesFile} as ${FILE_EXAMPLE[name]} (field ${PER_SOURCE_ENV[name]}) ` +
        `and unset ${name}`,
    );
}

/** The environment variable behind a source field (for messages about the source built from the environment). */
export function envVarOf(field: SourceField): PerSourceEnvVar {
  return (Object.keys(PER_SOURCE_ENV) as PerSourceEnvVar[]).find((k) => PER_SOURCE_ENV[k] === field)!;
}
