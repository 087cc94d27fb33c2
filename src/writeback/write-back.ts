import type { Bundle, Device } from '@medplum/fhirtypes';
import type { Redis } from 'ioredis';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { ModelOutput } from '../models/model.js';
import { ensureDevice } from './devices.js';
import type { WriteMode } from './map-resources.js';
import { type AssessmentToWrite, type PlannedEntry, planWriteBack, toTransaction } from './plan.js';
import { findPreviousImpression } from './previous-impression.js';
import { WriteBackKeys } from './redis-keys.js';
import { type LockOptions, withLock } from './redis-lock.js';
import type { ReturnPolicy } from './return-preference.js';
import {
  isTooLarge,
  isTransactionRefused,
  markTransactionsRefused,
  sendSequential,
  sendTransaction,
  supportsTransactions,
  type WrittenEntry,
  withResolvedRefs,
} from './send.js';
import { ShadowStore } from './shadow-store.js';
import { validatePlan } from './validate.js';

export interface WriteBackInput {
  patientId: string;
  key: string;
  output: ModelOutput;
  modelTitle: string;
  mode: WriteMode | 'shadow';
  asOf: Date;
  serviceVersion: string;
  now?: Date;
}

/** Default shadow-store retention when none is configured: 90 days. */
export const DEFAULT_SHADOW_RETENTION_DAYS = 90;

export interface WriteBackDeps {
  redis: Redis;
  /** Redis key prefix (QUEUE_PREFIX). */
  keyPrefix: string;
  /** Configured name of the EHR (keys of the shadow store). */
  source: string;
  shadowRetentionDays?: number;
  lock?: LockOptions;
  /** `Prefer: return=` policy of the writes (default adaptive; see return-preference.ts). */
  returnPolicy?: ReturnPolicy;
}

export interface WriteBackResult {
  mode: WriteMode | 'shadow';
  /** How it was sent: one transaction, the ordered single creates, or kept in the shadow store. */
  via: 'transaction' | 'sequential' | 'shadow';
  /** The transaction we sent or would have sent (shadow: complete, with the Devices as conditional creates). */
  bundle: Bundle;
  /** `Type/id` of the Devices and every output as the EHR holds them; empty in shadow mode. */
  written: string[];
  /** Outputs (RiskAssessment, ClinicalImpression, Provenance) the EHR newly created vs found already there. */
  created: number;
  existing: number;
  /** Shadow mode: false when this assessment was already in the shadow store. */
  stored?: boolean;
}

/**
 * Writes one assessment back to the EHR (or, in shadow mode, to the shadow store):
 * 1. looks up the patient's previous ClinicalImpression for the model (a read);
 * 2. plans and validates every resource, Devices included, against its profile: a failure throws
 *    {@link WriteBackValidationError} before anything is written;
 * 3. ensures the model and service Devices (cached id, or a conditional create under a Device lock);
 * 4. under a Redis lock on the assessment key, sends one transaction of conditional creates, or the
 *    ordered single conditional creates when the EHR refuses transactions.
 * Conditional creates make a retry or a duplicate notification find the first copies; the lock makes
 * two workers racing on an EHR whose conditional create is not atomic do the same.
 */
export async function writeBack(
  client: FhirClient,
  input: WriteBackInput,
  deps: WriteBackDeps,
): Promise<WriteBackResult> {
  const a: AssessmentToWrite = {
    ...input,
    mode: input.mode === 'final' ? 'final' : 'preliminary', // shadow keeps what preliminary would write
    now: input.now ?? new Date(),
  };
  const previous = await findPreviousImpression(client, a.patientId, a.output.modelId, `${a.key}-impression`);
  const planned = planWriteBack(a, { previous });
  validatePlan(planned, a.mode);
  if (input.mode === 'shadow') return keepInShadow(a, planned, deps);
  const keys = new WriteBackKeys(deps.keyPrefix, client.baseUrl);
  const deviceRefs = new Map<string, string>();
  for (const d of planned.filter((e) => e.resource.resourceType === 'Device')) {
    const ref = await ensureDevice(client, deps.redis, keys, d.resource as Device, deps.lock);
    deviceRefs.set(d.fullUrl, ref.reference ?? '');
  }
  const entries = planned
    .filter((e) => !deviceRefs.has(e.fullUrl))
    .map((e) => ({ ...e, resource: withResolvedRefs(e.resource, deviceRefs) }));
  const sent = await withLock(
    deps.redis,
    keys.assessmentLock(a.key),
    () => send(client, entries, deps.returnPolicy),
    deps.lock,
  );
  return {
    mode: input.mode,
    via: sent.via,
    bundle: toTransaction(entries),
    written: [...deviceRefs.values(), ...sent.written.map((w) => w.reference)],
    created: sent.written.filter((w) => w.created === true).length,
    existing: sent.written.filter((w) => w.created === false).length,
  };
}

/** Transaction when the EHR takes them; the ordered single creates when it does not or refuses one. */
async function send(
  client: FhirClient,
  entries: PlannedEntry[],
  policy: ReturnPolicy | undefined,
): Promise<{ via: 'transaction' | 'sequential'; written: WrittenEntry[] }> {
  if (await supportsTransactions(client)) {
    try {
      return { via: 'transaction', written: await sendTransaction(client, entries, policy) };
    } catch (err) {
      // Too large (Medplum: over 1 MB): this plan goes as single creates; smaller ones still go as transactions.
      if (!isTooLarge(err)) {
        if (!isTransactionRefused(err)) throw err;
        markTransactionsRefused(client);
      }
    }
  }
  return { via: 'sequential', written: await sendSequential(client, entries, policy) };
}

async function keepInShadow(
  a: AssessmentToWrite,
  planned: PlannedEntry[],
  deps: WriteBackDeps,
): Promise<WriteBackResult> {
  const bundle = toTransaction(planned);
  const store = new ShadowStore(deps.redis, deps.keyPrefix, deps.shadowRetentionDays ?? DEFAULT_SHADOW_RETENTION_DAYS);
  const stored = await store.save({
    key: a.key,
    source: deps.source,
    patientId: a.patientId,
    modelId: a.output.modelId,
    modelVersion: a.output.modelVersion,
    createdAt: a.now.toISOString(),
    bundle,
  });
  return { mode: 'shadow', via: 'shadow', bundle, written: [], created: 0, existing: 0, stored };
}
