import type { Bundle } from '@medplum/fhirtypes';
import { FhirHttpError } from '../fhir/fhir-client.js';
import { EventLedger, type LedgerState } from '../intake/event-ledger.js';
import { NotificationError } from '../intake/notification.js';
import { parseSubscriptionBundle } from '../intake/parse-subscription-bundle.js';
import { catchUpWindow } from './catch-up.js';
import { type IntakeQueue, scheduleGapRecovery } from './intake-queue.js';
import type { EventDeps } from './process-change-event.js';

/** What the intake maintenance jobs need besides the event path. */
export interface IntakeDeps extends EventDeps {
  intakeQueue: IntakeQueue;
  /** Wait before recovering a gap: a late notification may still fill it (ms). */
  gapGraceMs: number;
  /** Repairs the source's Subscriptions (status error/off); absent when they are not managed. */
  repairSubscriptions?: (source: string) => Promise<void>;
  /** Reads the source's managed Subscriptions, records their state and repairs those not delivering. */
  checkSubscriptions?: (source: string) => Promise<void>;
}

/** What one watchdog run found for one subscription. */
export interface WatchdogFinding {
  subscriptionId: string;
  /** `status`: `$status` was asked; `search`: it failed, so the silent period was searched. */
  checked?: 'status' | 'search';
  gapsScheduled: number;
  reactivated?: boolean;
}

/**
 * The per-source watchdog (a repeatable job): re-schedules the recovery of gaps whose job was lost,
 * and for subscriptions silent past their heartbeat period (plus the grace period) asks the EHR for
 * `$status`. A status that counts more events than we received opens a gap, recovered at once; a
 * status of `error`/`off` gets the Subscription repaired; no `$status` at all means the silent period
 * is searched by `_lastUpdated` instead.
 */
export async function runWatchdog(deps: IntakeDeps, source: string, now = Date.now()): Promise<WatchdogFinding[]> {
  const ledger = new EventLedger(deps.redis, deps.keyPrefix);
  const heartbeatSeconds = deps.sources.get(source).source.subscription.heartbeatSeconds;
  const findings: WatchdogFinding[] = [];
  await deps.checkSubscriptions?.(source).catch((err: Error) => {
    deps.logger.warn(
      { source, err: err.message },
      'could not check our Subscriptions on the EHR; next watchdog run retries',
    );
  });
  for (const sub of await ledger.subscriptions(source)) {
    const finding: WatchdogFinding = { subscriptionId: sub, gapsScheduled: 0 };
    for (const gap of await ledger.openGaps(source, sub)) {
      // Same job id as at detection: a no-op while that job exists, a new one if it was lost.
      await scheduleGapRecovery(deps.intakeQueue, source, sub, gap, deps.gapGraceMs);
    }
    const state = await ledger.state(source, sub);
    if (heartbeatSeconds && isSilent(state, heartbeatSeconds * 1000, deps.gapGraceMs, now)) {
      Object.assign(finding, await checkStatus(deps, ledger, source, sub, state, now));
    }
    findings.push(finding);
  }
  return findings;
}

function isSilent(state: LedgerState, heartbeatMs: number, graceMs: number, now: number): boolean {
  if (state.seenAt === undefined || now - state.seenAt <= heartbeatMs + graceMs) return false;
  return state.checkedAt === undefined || now - state.checkedAt >= heartbeatMs;
}

async function checkStatus(
  deps: IntakeDeps,
  ledger: EventLedger,
  source: string,
  sub: string,
  state: LedgerState,
  now: number,
): Promise<Partial<WatchdogFinding>> {
  await ledger.markChecked(source, sub, now);
  const client = deps.sources.client(source);
  let status: ReturnType<typeof parseSubscriptionBundle>;
  try {
    status = parseSubscriptionBundle(await client.get<Bundle>(`Subscription/${sub}/$status`), client.guard);
  } catch (err) {
    if (!(err instanceof FhirHttpError || err instanceof NotificationError)) throw err;
    // No usable $status (classic server, Subscription gone): search what the silence may have hidden.
    const from = Math.max(state.seenAt ?? now, state.checkedAt ?? 0) - deps.pollOverlapMs;
    await catchUpWindow(deps, source, { from: new Date(from) }, 'heartbeat-search');
    deps.logger.warn({ source, subscription: sub }, 'heartbeats missing and $status unavailable: searched instead');
    return { checked: 'search' };
  }
  const update = await ledger.record(source, sub, { ...status, type: 'query-status', numbered: [] }, now);
  for (const gap of update.opened) await scheduleGapRecovery(deps.intakeQueue, source, sub, gap, 0);
  let reactivated = false;
  if ((status.status === 'error' || status.status === 'off') && deps.repairSubscriptions) {
    await deps.repairSubscriptions(source);
    reactivated = true;
  }
  deps.logger.warn(
    { source, subscription: sub, status: status.status, gaps: update.opened.length },
    'heartbeats missing: asked the EHR for $status',
  );
  return { checked: 'status', gapsScheduled: update.opened.length, reactivated };
}
