import type { Writable } from 'node:stream';
import { SingleBar } from 'cli-progress';
import type { BackfillProgress } from './run-backfill.js';

/** Non-TTY output: one progress line at most this often (ms). */
const LINE_EVERY_MS = 5_000;

export interface ProgressReporter {
  update(p: BackfillProgress): void;
  stop(): void;
}

/**
 * Live progress of a backfill: a cli-progress bar on a terminal (finished / total, done, failed,
 * skipped, rate, ETA), else a plain line every 5 s (logs, CI).
 */
export function progressReporter(out: Writable & { isTTY?: boolean }, quiet = false): ProgressReporter {
  const started = Date.now();
  const finished = (p: BackfillProgress) => p.done + p.failed + p.skipped;
  const rate = (p: BackfillProgress) => (finished(p) / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1);
  const total = (p: BackfillProgress) => Math.max(p.total ?? 0, p.enqueued, finished(p), 1);
  if (quiet) return { update: () => {}, stop: () => {} };
  if (!out.isTTY) {
    let last = 0;
    return {
      update: (p) => {
        if (Date.now() - last < LINE_EVERY_MS) return;
        last = Date.now();
        out.write(`${line(p)} rate ${rate(p)}/s\n`);
      },
      stop: () => {},
    };
  }
  const bar = new SingleBar({
    stream: out as NodeJS.WritableStream,
    format:
      'backfill [{bar}] {value}/{total} | done {done} failed {failed} skipped {skipped} | {rate}/s | ETA {eta_formatted} | {phase}',
    hideCursor: true,
    etaBuffer: 50,
  });
  let startedBar = false;
  return {
    update: (p) => {
      const payload = { done: p.done, failed: p.failed, skipped: p.skipped, rate: rate(p), phase: p.status ?? p.phase };
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

/** One line summarising a progress report. */
export function line(p: BackfillProgress): string {
  const of = p.total !== undefined ? `/${p.total}` : '';
  return `backfill ${p.runId} ${p.phase}${p.resumed ? ' (resumed)' : ''}: enqueued ${p.enqueued}${of}, done ${p.done}, failed ${p.failed}, skipped ${p.skipped}, duplicates ${p.duplicates}, outstanding ${p.outstanding}`;
}
