import type { Writable } from 'node:stream';
import { SingleBar } from 'cli-progress';
import type { BackfillProgress } from './run-backfill.js';

/** Non-TTY output: a progress line at least this often (ms) while something moves. */
const LINE_EVERY_MS = 5_000;
/** Non-TTY output: a new failure prints a line, but at most this often (ms). */
const FAILURE_LINE_EVERY_MS = 1_000;

export interface ProgressReporter {
  update(p: BackfillProgress): void;
  stop(): void;
}

/**
 * Live progress of a backfill: a cli-progress bar on a terminal (finished / total, done, failed,
 * skipped, rate, ETA, what it is doing), else plain lines (logs, CI): at each change of phase, on new
 * failures (at most once a second) and every 5 s.
 */
export function progressReporter(
  out: Writable & { isTTY?: boolean },
  quiet = false,
  /** Patients/s the run cannot exceed (--rate or EHR_RATE_LIMIT), shown beside the rate. */
  capPerSecond?: number,
): ProgressReporter {
  const started = Date.now();
  const finished = (p: BackfillProgress) => p.done + p.failed + p.skipped;
  const cap = capPerSecond ? ` (cap ${capPerSecond}/s)` : '';
  const rate = (p: BackfillProgress) =>
    `${(finished(p) / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1)}/s${cap}`;
  const total = (p: BackfillProgress) => Math.max(p.total ?? 0, p.enqueued, finished(p), 1);
  if (quiet) return { update: () => {}, stop: () => {} };
  if (!out.isTTY) {
    let last = 0;
    let lastActivity = '';
    let lastFailed = 0;
    return {
      update: (p) => {
        const now = Date.now();
        const changed = activity(p) !== lastActivity;
        const failing = p.failed > lastFailed && now - last >= FAILURE_LINE_EVERY_MS;
        if (!changed && !failing && now - last < LINE_EVERY_MS) return;
        last = now;
        lastActivity = activity(p);
        lastFailed = p.failed;
        out.write(`${line(p)} rate ${rate(p)}\n`);
      },
      stop: () => {},
    };
  }
  const bar = new SingleBar({
    stream: out as NodeJS.WritableStream,
    format:
      'backfill [{bar}] {value}/{total} | done {done} failed {failed} skipped {skipped} | {rate} | ETA {eta_formatted} | {phase}',
    hideCursor: true,
    etaBuffer: 50,
  });
  let startedBar = false;
  return {
    update: (p) => {
      const payload = { done: p.done, failed: p.failed, skipped: p.skipped, rate: rate(p), phase: activity(p) };
      if (!startedBar) {
        bar.start(total(p), finished(p), payload);
        startedBar = true;
      }
      bar.setTotal(total(p));
      bar.update(finished(p), payload);
    },
    stop: () => {
      if (startedBar) bar.stop();
      startedBar = false;
    },
  };
}

/**
 * What the run is doing, in words that match its enumerator: `enumerating by paging Patient search`,
 * `exporting via Bulk $export (Patient/$export) [EHR: in progress]`, `retrying [...]`, `waiting`.
 */
export function activity(p: BackfillProgress): string {
  const how = (p.phase === 'enumerating' || p.phase === 'exporting') && p.enumeration ? ` ${p.enumeration}` : '';
  const status = p.status && p.phase !== 'done' ? ` [${p.phase === 'exporting' ? 'EHR: ' : ''}${p.status}]` : '';
  return `${p.phase}${how}${status}`;
}

/** One line summarising a progress report. */
export function line(p: BackfillProgress): string {
  const of = p.total !== undefined ? `/${p.total}` : '';
  return `backfill ${p.runId} ${activity(p)}${p.resumed ? ' (resumed)' : ''}: enqueued ${p.enqueued}${of}, done ${p.done}, failed ${p.failed}, skipped ${p.skipped}, duplicates ${p.duplicates}, outstanding ${p.outstanding}`;
}
