import { errorOutcome } from './context.js';
import type { SandboxApp } from './http-server.js';

/** `Retry-After` while the data loads, seconds. */
const RETRY_AFTER_S = 1;

/**
 * Keeps the server from answering while its `--data` loads: every request gets 503 with
 * `Retry-After` and an OperationOutcome saying how far the load is, so a client never sees a
 * partial population (issue 10). Why 503 rather than listening only after the load: the port is
 * bound (and a port conflict reported) at once, a probe can tell "loading" from "down", and FHIR
 * clients already retry 503 + Retry-After. Install it before any other hook.
 */
export class LoadingGate {
  private progress: { file: number; files: number; patients: number } | undefined;

  install(app: SandboxApp): void {
    app.addHook('onRequest', async (_req, reply) => {
      const p = this.progress;
      if (!p) return;
      const text = `The sandbox is loading its data (file ${p.file} of ${p.files}, ${p.patients} patients so far); retry after ${RETRY_AFTER_S} s`;
      return reply
        .code(503)
        .header('Retry-After', String(RETRY_AFTER_S))
        .type('application/fhir+json')
        .send(errorOutcome('transient', text));
    });
  }

  /** Closes the gate for a load of `files` files. */
  start(files: number): void {
    this.progress = { file: 0, files, patients: 0 };
  }

  /** Moves on to file `file` (1-based) after `patients` patients. */
  update(file: number, patients: number): void {
    if (this.progress) this.progress = { ...this.progress, file, patients };
  }

  /** Opens the gate: everything is loaded. */
  open(): void {
    this.progress = undefined;
  }
}
