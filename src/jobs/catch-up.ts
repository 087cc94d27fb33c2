import type { ChangeWindow } from '../intake/poll-changes.js';
import { advanceWatermark, forEachChange, pollStart } from '../intake/poll-changes.js';
import { type EventDeps, processChangeEvent } from './process-change-event.js';

/** Redis key of a source's `_lastUpdated` watermark (shared by pings, polls and reconciliation). */
export function watermarkKey(prefix: string, source: string): string {
  return `${prefix}:watermark:${source}`;
}

/**
 * Runs every change found in the window through the normal event path (own outputs ignored,
 * duplicates and stale versions dropped by the version gate, one coalesced assessment per patient).
 * Returns the patients whose assessment was scheduled, and the newest `lastUpdated` seen.
 */
export async function catchUpWindow(
  deps: EventDeps,
  source: string,
  window: ChangeWindow,
  via: string,
): Promise<{ patientIds: string[]; newest?: string; resourcesSeen: number; truncated: boolean }> {
  const patients = new Set<string>();
  const client = deps.sources.client(source);
  const result = await forEachChange(client, deps.watchedTypes, window, via, async (facts) => {
    for (const fact of facts) {
      const outcome = await processChangeEvent(deps, { ...fact, source });
      if (outcome.action === 'assess') for (const p of outcome.patientIds) patients.add(p);
    }
  });
  return { ...result, patientIds: [...patients] };
}

/**
 * "Something changed" (an empty ping, a poll tick, a reconciliation): everything since the source's
 * watermark minus the clock-skew overlap. The watermark moves only after every change was scheduled,
 * so a job that fails half-way is retried over the same window.
 */
export async function pollSinceWatermark(
  deps: EventDeps,
  source: string,
  via: string,
): Promise<{ patientIds: string[]; resourcesSeen: number; truncated: boolean }> {
  const key = watermarkKey(deps.keyPrefix, source);
  const from = await pollStart(deps.redis, key, deps.pollOverlapMs);
  const r = await catchUpWindow(deps, source, { from }, via);
  await advanceWatermark(deps.redis, key, r.newest);
  deps.logger.debug({ source, via, resources: r.resourcesSeen, patients: r.patientIds.length }, 'caught up by query');
  return { patientIds: r.patientIds, resourcesSeen: r.resourcesSeen, truncated: r.truncated };
}
