import { envVarOf, type SourceField } from './source-precedence.js';
import type { Source } from './sources.js';

/** Start-up findings: problems stop the service (exit 78), warnings are logged. */
export interface ConfigFindings {
  problems: string[];
  warnings: string[];
}

interface CheckContext {
  /** The sources came from SOURCES_FILE (messages name file fields), else from the environment (env names). */
  fromFile: boolean;
  PUBLIC_URL?: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True for `http://` to anything but this machine: what travels there can be read on the network. */
function cleartext(url: string | undefined): boolean {
  if (!url) return false;
  const u = new URL(url);
  return u.protocol === 'http:' && !LOOPBACK.has(u.hostname);
}

/**
 * Security settings that are given but would not apply, and combinations that leave a source unable to
 * authenticate its notifications. Rule of thumb: a setting that would be silently ignored, or that makes
 * notifications impossible to authenticate, is a problem; one that works but weakens protection in a way a
 * development setup legitimately wants (no secret on a single local EHR, plain HTTP) is a warning.
 */
export function sourceFindings(sources: readonly Source[], ctx: CheckContext): ConfigFindings {
  const problems: string[] = [];
  const warnings: string[] = [];
  const at = (s: Source, field: SourceField) =>
    ctx.fromFile ? `SOURCES_FILE source '${s.name}': ${field}` : envVarOf(field);
  for (const s of sources) {
    const { bearerSecrets, hmacSecrets } = s.notify;
    const secrets = bearerSecrets.length + hmacSecrets.length > 0;
    const poll = s.intake.mode === 'poll';
    if (poll) {
      // A polled EHR sends no notifications, and /notify refuses any that claim to come from it.
      for (const field of ['notify.bearerSecrets', 'notify.hmacSecrets'] as const) {
        if ((field === 'notify.bearerSecrets' ? bearerSecrets : hmacSecrets).length)
          problems.push(
            `${at(s, field)}: given, but ${at(s, 'intake.mode')} is poll, so no notification is ever checked ` +
              `against it (a polled source sends none); remove it, or set ${at(s, 'intake.mode')} to push`,
          );
      }
      if (s.subscription.manage)
        problems.push(
          `${at(s, 'subscription.manage')}: on, but ${at(s, 'intake.mode')} is poll: the service would create a ` +
            `Subscription whose notifications it refuses; turn one of them off`,
        );
      continue;
    }
    if (s.subscription.manage && !secrets)
      problems.push(
        `${at(s, 'subscription.manage')}: the Subscription the service creates would carry no secret, so the EHR's ` +
          `notifications could not be authenticated; set ${at(s, 'notify.bearerSecrets')} (sent back as ` +
          `channel.header) or ${at(s, 'notify.hmacSecrets')} (Medplum X-Signature)`,
      );
    if (s.subscription.manage && !bearerSecrets.length && hmacSecrets.length) {
      const why =
        `Backport (topic) Subscriptions carry only channel.header secrets; the X-Signature secret is Medplum's ` +
        `classic-Subscription extension`;
      if (s.subscription.kind === 'backport')
        problems.push(
          `${at(s, 'subscription.manage')}: ${at(s, 'subscription.kind')} is backport but only ` +
            `${at(s, 'notify.hmacSecrets')} is set: ${why}; set ${at(s, 'notify.bearerSecrets')}`,
        );
      else if (s.subscription.kind === 'auto')
        warnings.push(
          `${at(s, 'notify.hmacSecrets')} is the only notify secret and ${at(s, 'subscription.kind')} is auto: if ` +
            `the EHR advertises our topic, the Backport Subscription cannot carry it (${why}) and its notifications ` +
            `are refused; set ${at(s, 'notify.bearerSecrets')} too, or the kind to classic`,
        );
    }
    if (!secrets && sources.length > 1)
      problems.push(
        `${at(s, 'notify.bearerSecrets')}: a push source needs a notify secret when several sources are configured ` +
          `(intake tells them apart by their secrets; without one every notification from '${s.name}' is refused); ` +
          `set notify.bearerSecrets or notify.hmacSecrets, or set intake.mode to poll`,
      );
    if (!secrets && sources.length === 1)
      warnings.push(
        `no notify secret (${at(s, 'notify.bearerSecrets')} / ${at(s, 'notify.hmacSecrets')}): /notify accepts ` +
          `notifications from anyone who can reach it (development only; a present X-Signature is still refused)`,
      );
    if (secrets && s.subscription.manage && cleartext(ctx.PUBLIC_URL))
      warnings.push(
        `PUBLIC_URL is plain http: the EHR sends ${at(s, 'notify.bearerSecrets')} to it unencrypted; use https`,
      );
  }
  for (const s of sources) {
    const tokenUrl = 'tokenUrl' in s.auth ? s.auth.tokenUrl : undefined;
    if (s.auth.type !== 'none' && (cleartext(s.fhirBaseUrl) || cleartext(tokenUrl)))
      warnings.push(
        `${ctx.fromFile ? `SOURCES_FILE source '${s.name}': auth` : 'FHIR_BEARER_TOKEN'}: credentials go to the ` +
          `EHR over plain http (not encrypted); use https`,
      );
  }
  problems.push(...sharedSecretProblems(sources));
  return { problems, warnings };
}

/**
 * Intake identifies the sender by its secret: a secret shared by two sources would attribute one EHR's
 * notifications to the other (and read from the wrong EHR). Names the sources, never the secret.
 */
function sharedSecretProblems(sources: readonly Source[]): string[] {
  const owners = new Map<string, Set<string>>();
  for (const s of sources)
    for (const secret of [...s.notify.bearerSecrets, ...s.notify.hmacSecrets]) {
      const names = owners.get(secret) ?? new Set<string>();
      names.add(s.name);
      owners.set(secret, names);
    }
  const problems = new Set<string>();
  for (const names of owners.values())
    if (names.size > 1)
      problems.add(
        `SOURCES_FILE: sources ${[...names].join(', ')} share a notify secret; each EHR needs its own ` +
          `(intake tells the sources apart by it)`,
      );
  return [...problems];
}
