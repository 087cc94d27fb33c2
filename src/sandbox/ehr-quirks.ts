import type { SandboxContext } from './context.js';
import type { SandboxApp } from './http-server.js';
import { delayCreates } from './quirks/create-delay.js';
import type { EverythingSupport } from './quirks/everything-support.js';
import { everythingCapabilityEdit } from './quirks/everything-support.js';
import { getpagesPaging } from './quirks/getpages-paging.js';
import { minimalReplies } from './quirks/minimal-reply.js';
import { rejectBundles } from './quirks/reject-bundles.js';
import { limitRequestSize, type RequestSizeLimit } from './quirks/request-size-limit.js';
import { type SerializedTransactions, serializeTransactions } from './quirks/serialized-transactions.js';
import { requireSmartBackendAuth, type SmartClient } from './quirks/smart-backend-auth.js';
import { applySubscriptionSupport, type SubscriptionSupport } from './quirks/subscription-support.js';
import { warnUnknownProfiles } from './quirks/unknown-profiles.js';
import type { NotifierBehaviour, RestHookStyle } from './subscription-notifier.js';

export type { EverythingSupport } from './quirks/everything-support.js';
export type { RequestSizeLimit } from './quirks/request-size-limit.js';
export type { SerializedTransactions } from './quirks/serialized-transactions.js';
export type { SmartClient } from './quirks/smart-backend-auth.js';
export type { SubscriptionSupport } from './quirks/subscription-support.js';
export type { RestHookStyle } from './subscription-notifier.js';

/**
 * Behaviours of real EHRs the sandbox can imitate, one property per quirk, so tests can use a
 * single quirk or a whole profile (ehr-profiles.ts). Absent (or `false`) = the sandbox's standard
 * behaviour; every default below is what `generic` does.
 */
export interface EhrQuirks {
  /**
   * Refuse `transaction` Bundles (405 OperationOutcome `not-supported`) and leave `transaction` out of
   * the CapabilityStatement, as EHRs without transaction support do. Batches still work.
   */
  rejectTransactions?: boolean;
  /** Refuse `batch` Bundles the same way (405, not advertised). */
  rejectBatches?: boolean;
  /**
   * Wait this long (ms) inside every create, between a conditional create's "no match" check and the
   * insert: the window in which a slow EHR whose conditional create is not atomic lets two concurrent
   * conditional creates both insert. Off (0) by default.
   */
  createDelayMs?: number;
  /**
   * What a write answers when the client sends `Prefer: return=minimal`:
   * - `empty`: the status and headers, with an **empty body**, even for a transaction (Medplum's FHIR
   *   route does `if (prefer === 'return=minimal') return res.send()`);
   * - `no-resources`: Bundle replies keep every entry's `response` but lose `resource`; a single
   *   resource write answers with an empty body and its `Location` (the FHIR http.html reading, HAPI);
   * - absent/false: the preference is ignored and the resources come back (Medplum's router as is).
   */
  minimalReply?: 'empty' | 'no-resources' | false;
  /**
   * How `requested` Subscriptions become active:
   * - `standard` (default): classic criteria Subscriptions at once (R4 has no handshake), Backport
   *   topic Subscriptions after a successful handshake (HAPI);
   * - `client-set`: never by the server; only Subscriptions a client stores as `active` deliver
   *   (Medplum: "requested" ones stay requested and never fire).
   */
  subscriptionActivation?: 'standard' | 'client-set';
  /** Which Subscriptions exist (quirks/subscription-support.ts); default `classic-and-topic`. */
  subscriptions?: SubscriptionSupport;
  /**
   * Wire format of classic criteria rest-hooks: `standard` (default: empty POST, or PUT/DELETE
   * `{endpoint}/{Type}/{id}` with a payload), `hapi` (the same, deletes only with
   * `subscription-send-delete-messages`), `medplum` (bare-resource POST, `X-Medplum-*`, `X-Signature`,
   * Medplum's retries; quirks/medplum-rest-hook.ts).
   */
  restHook?: RestHookStyle;
  /** `Patient/$everything` support (quirks/everything-support.ts); default `supported`. */
  everything?: EverythingSupport;
  /**
   * Paging links: `offset` (default: `{base}/{Type}?...&_offset=N`) or `getpages` (HAPI:
   * `{base}?_getpages=ID&_getpagesoffset=N&_count=N&_bundletype=searchset`).
   */
  paging?: 'offset' | 'getpages';
  /** Refuse request bodies over a size (Medplum: 1 MiB, 400 "File too large"). */
  requestSizeLimit?: RequestSizeLimit | false;
  /** Run transactions one at a time, each at least `holdMs`, logging "Retrying transaction" per wait (Medplum). */
  serializedTransactions?: SerializedTransactions | false;
  /** Log "Unknown profile referenced" for `meta.profile` URLs without a stored StructureDefinition (Medplum). */
  warnUnknownProfiles?: boolean;
  /**
   * Require SMART Backend Services: 401 without a bearer token from the sandbox's token endpoint,
   * which verifies `private_key_jwt` assertions of the registered `smartClients` (Epic-like).
   */
  smartBackendAuth?: { tokenLifetimeS?: number } | false;
}

/** Everything the quirks need besides the app and the context. */
export interface QuirkDeps {
  /** Clients registered for SMART Backend Services (with `smartBackendAuth`). */
  smartClients?: readonly SmartClient[];
}

/** Installs the HTTP- and repository-level quirks; call before the server listens (fastify hooks). */
export function applyEhrQuirks(app: SandboxApp, ctx: SandboxContext, quirks: EhrQuirks, deps: QuirkDeps = {}): void {
  if (quirks.smartBackendAuth) {
    requireSmartBackendAuth(app, ctx, deps.smartClients ?? [], ctx.logger, quirks.smartBackendAuth.tokenLifetimeS);
  }
  if (quirks.requestSizeLimit) limitRequestSize(app, quirks.requestSizeLimit);
  if (quirks.createDelayMs) delayCreates(ctx.repo, quirks.createDelayMs);
  const refused = [
    ...(quirks.rejectTransactions ? (['transaction'] as const) : []),
    ...(quirks.rejectBatches ? (['batch'] as const) : []),
  ];
  if (refused.length) rejectBundles(app, ctx, refused);
  if (quirks.serializedTransactions) serializeTransactions(app, ctx.logger, quirks.serializedTransactions);
  if (quirks.warnUnknownProfiles) warnUnknownProfiles(app, ctx.repo, ctx.logger);
  if (quirks.minimalReply) minimalReplies(app, quirks.minimalReply);
  if (quirks.paging === 'getpages') getpagesPaging(app, ctx);
  applySubscriptionSupport(app, ctx, quirks.subscriptions ?? 'classic-and-topic');
  const everythingEdit = everythingCapabilityEdit(quirks.everything ?? 'supported');
  if (everythingEdit) ctx.capabilityEdits.push(everythingEdit);
}

/** The Subscription behaviour the notifier needs from the quirks. */
export function notifierBehaviour(quirks: EhrQuirks): NotifierBehaviour {
  return {
    activation: quirks.subscriptionActivation ?? 'standard',
    topics: (quirks.subscriptions ?? 'classic-and-topic') === 'classic-and-topic',
    restHook: quirks.restHook ?? 'standard',
  };
}
