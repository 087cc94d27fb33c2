import type { Writable } from 'node:stream';
import { SingleBar } from 'cli-progress';
import type { ValidationProgress } from './run-validation.js';

/** Non-TTY output: a progress line at least this often (ms). */
const LINE_EVERY_MS = 5_000;

/** One line summarising a validation run's progress. */
export function progressLine(p: ValidationProgress): string {
  const of = p.total !== undefined ? `/${p.total}` : '';
  const resumed = p.resumed ? ` (${p.resumed} from the checkpoint)` : '';
  return `validate ${p.runId} ${p.phase} ${p.enumeration ?? ''}: read ${p.done}${of}${resumed}, failed ${p.failed}`;
}

/**
 * Live progress of a validation run, like the backfill's: a cli-progress bar on a terminal, plain
 * lines elsewhere (logs, CI) every 5 s.
 */
export function validationProgress(out: Writable & { isTTY?: boolean }, quiet = false) {
  const started = Date.now();
  const rate = (p: ValidationProgress) =>
    ((p.done - p.resumed) / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1);
  if (quiet) return { update: (_p: ValidationProgress) => {}, stop: () => {} };
  if (!out.isTTY) {
    let last = 0;
    return {
      update: (p: ValidationProgress) => {
        if (Date.now() - last < LINE_EVERY_MS && p.phase === 'reading') return;
        last = Date.now();
        out.write(`${progressLine(p)} rate ${rate(p)}/s\n`);
      },
      stop: () => {},
    };
  }
  const bar = new SingleBar({
    stream: out as NodeJS.WritableStream,
    format: 'validate [{bar}] {value}/{total} | failed {failed} | {rate}/s | ETA {eta_formatted}',
    hideCursor: true,
    etaBuffer: 50,
  });
  let running = false;
  return {
    update: (p: ValidationProgress) => {
      const total = Math.max(p.total ?? 0, p.done + p.failed, 1);
      const payload = { failed: p.failed, rate: rate(p) };
      if (!running) bar.start(total, p.done + p.failed, payload);
      running = true;
      bar.setTotal(total);
      bar.update(p.done + p.failed, payload);
    },
    stop: () => {
      if (running) bar.stop();
      running = false;
    },
  };
}
