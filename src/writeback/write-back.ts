import type { Bundle, Device } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import type { ModelOutput } from '../models/model.js';
import { ensureDevice } from './devices.js';
import type { WriteMode } from './map-resources.js';
import { type AssessmentToWrite, type PlannedEntry, planWriteBack, toTransaction } from './plan.js';
import { findModelImpressions, findPreviousImpression, previousImpression } from './previous-impression.js';
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
import { supersedePrevious } from './supersede.js';
import type { CurrentAssessment } from './supersede-plan.js';
import { validatePlan } from './validate.js';
import type { GateMode, StoppedMode, WriteGate } from './write-gate.js';

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
  redis: RedisClient;
  /** Redis key prefix (QUEUE_PREFIX). */
  keyPrefix: string;
  /** Configured name of the EHR (keys of the shadow store). */
  source: string;
  shadowRetentionDays?: number;
  lock?: LockOptions;
  /** `Prefer: return=` policy of the writes (default adaptive; see return-preference.ts). */
  returnPolicy?: ReturnPolicy;
  /**
   * The model registry's check under the write lock (governance): it decides the mode at the moment
   * of writing (a promotion or recall since the job started counts) and audits the result.
   */
  gate?: WriteGate;
}

export interface WriteBackResult {
  /** The mode written in; `retired`/`recalled`: the registry stopped the version, nothing was written. */
  mode: WriteMode | 'shadow' | StoppedMode;
  /** How it was sent: one transaction, the ordered single creates, kept in the shadow store, or not at all. */
  via: 'transaction' | 'sequential' | 'shadow' | 'none';
  /** The transaction we sent or would have sent (shadow: complete, with the Devices as conditional creates). */
  bundle: Bundle;
  /** `Type/id` of the Devices and every output as the EHR holds them; empty in shadow mode. */
  written: string[];
  /** Outputs (RiskAssessment, ClinicalImpression, Provenance) the EHR newly created vs found already there. */
  created: number;
  existing: number;
  /** Shadow mode: false when this assessment was already in the shadow store. */
  stored?: boolean;
  /** `Type/id` of the model's older preliminary results this write withdrew (see supersede.ts). */
  superseded: string[];
  /** Why older results that should have been superseded were not (the EHR refused the updates). */
  supersedeSkipped?: string;
}

/**
 * Writes one assessment back to the EHR (or, in shadow mode, to the shadow store). Live, under a
 * Redis lock on patient + model:
 * 1. searches the patient's ClinicalImpressions from the model (for `previous` and superseding);
 * 2. plans and validates every resource, Devices included, against its profile: a failure throws
 *    {@link WriteBackValidationError} before anything is written;
 * 3. ensures the model and service Devices (cached id, or a conditional create under a Device lock);
 * 4. sends one transaction of conditional creates, or the ordered single conditional creates when
 *    the EHR refuses transactions (or this one as too large);
 * 5. supersedes the model's older preliminary results (supersede.ts): one current result per model.
 * Conditional creates make a retry or a duplicate notification find the first copies; the lock makes
 * two workers racing on an EHR whose conditional create is not atomic do the same.
 */
export async function writeBack(
  client: FhirClient,
  input: WriteBackInput,
  deps: WriteBackDeps,
): Promise<WriteBackResult> {
  const keys = new WriteBackKeys(deps.keyPrefix, client.baseUrl);
  const lockKey = keys.patientModelLock(input.patientId, input.output.modelId);
  const write = (mode: GateMode) => writeIn(client, toWrite(input, mode), mode === 'shadow', deps, keys);
  const { gate } = deps;
  if (!gate) {
    // Shadow needs no lock: it writes nothing to the EHR, and the shadow store keeps the first copy.
    if (input.mode === 'shadow') return write('shadow');
    return withLock(deps.redis, lockKey, () => write(input.mode as GateMode), deps.lock);
  }
  return withLock(
    deps.redis,
    lockKey,
    async () => {
      const r = await gate.run(write);
      return typeof r === 'string' ? stoppedResult(r) : r;
    },
    deps.lock,
  );
}

function toWrite(input: WriteBackInput, mode: GateMode): AssessmentToWrite {
  // Shadow keeps what preliminary would write.
  return { ...input, mode: mode === 'final' ? 'final' : 'preliminary', now: input.now ?? new Date() };
}

async function writeIn(
  client: FhirClient,
  a: AssessmentToWrite,
  shadow: boolean,
  deps: WriteBackDeps,
  keys: WriteBackKeys,
): Promise<WriteBackResult> {
  if (!shadow) return writeLive(client, a, deps, keys);
  const previous = await findPreviousImpression(client, a.patientId, a.output.modelId, `${a.key}-impression`);
  const planned = planWriteBack(a, { previous });
  validatePlan(planned, a.mode);
  return keepInShadow(a, planned, deps);
}

/** What a version the registry has stopped "wrote": nothing. */
function stoppedResult(mode: StoppedMode): WriteBackResult {
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [] };
  return { mode, via: 'none', bundle, written: [], created: 0, existing: 0, superseded: [] };
}

async function writeLive(
  client: FhirClient,
  a: AssessmentToWrite,
  deps: WriteBackDeps,
  keys: WriteBackKeys,
): Promise<WriteBackResult> {
  const ownIdentifier = `${a.key}-impression`;
  const impressions = await findModelImpressions(client, a.patientId, a.output.modelId);
  const planned = planWriteBack(a, { previous: previousImpression(impressions, ownIdentifier) });
  validatePlan(planned, a.mode);
  const deviceRefs = new Map<string, string>();
  for (const d of planned.filter((e) => e.resource.resourceType === 'Device')) {
    const ref = await ensureDevice(client, deps.redis, keys, d.resource as Device, deps.lock);
    deviceRefs.set(d.fullUrl, ref.reference ?? '');
  }
  const entries = planned
    .filter((e) => !deviceRefs.has(e.fullUrl))
    .map((e) => ({ ...e, resource: withResolvedRefs(e.resource, deviceRefs) }));
  const sent = await send(client, entries, deps.returnPolicy);
  const [, serviceDevice] = deviceRefs.values();
  const supersede = await supersedePrevious(client, {
    modelId: a.output.modelId,
    impressions,
    current: currentAssessment(a, entries, sent.written, ownIdentifier),
    serviceDevice: { reference: serviceDevice },
    now: a.now,
    policy: deps.returnPolicy,
  });
  return {
    mode: a.mode,
    via: sent.via,
    bundle: toTransaction(entries),
    written: [...deviceRefs.values(), ...sent.written.map((w) => w.reference)],
    created: sent.written.filter((w) => w.created === true).length,
    existing: sent.written.filter((w) => w.created === false).length,
    superseded: supersede.superseded,
    supersedeSkipped: supersede.skipped,
  };
}

/** The assessment as written: its impression's reference and its RiskAssessment per calculator. */
function currentAssessment(
  a: AssessmentToWrite,
  entries: PlannedEntry[],
  written: WrittenEntry[],
  identifier: string,
): CurrentAssessment {
  const risks = new Map<string, string>();
  let reference = '';
  entries.forEach((e, i) => {
    if (e.resource.resourceType === 'ClinicalImpression') reference = written[i].reference;
    const calculator = e.resource.resourceType === 'RiskAssessment' && e.resource.method?.coding?.[0]?.code;
    if (calculator) risks.set(calculator, written[i].reference);
  });
  const status = a.mode === 'final' ? 'completed' : 'in-progress';
  return { identifier, reference, date: a.now.toISOString(), status, risks };
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
  return { mode: 'shadow', via: 'shadow', bundle, written: [], created: 0, existing: 0, stored, superseded: [] };
}
