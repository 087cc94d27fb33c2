import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PatientRow } from './evaluate-patient.js';

/**
 * A validation run's progress on disk, one line per finished patient, so an interrupted run resumes
 * where it stopped (run the same command again). It holds patient ids with computed values and
 * outcomes (no names or resources); it is deleted once the reports are written.
 */
export class CheckpointFile {
  constructor(readonly path: string) {}

  /** Rows of the patients already done, by patient id (empty when there is no checkpoint). */
  load(): Map<string, PatientRow[]> {
    const done = new Map<string, PatientRow[]>();
    if (!existsSync(this.path)) return done;
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const { patientId, rows } = JSON.parse(line) as { patientId: string; rows: PatientRow[] };
        done.set(patientId, rows);
      } catch {
        // A line cut short by a crash: that patient is simply read again.
      }
    }
    return done;
  }

  append(patientId: string, rows: PatientRow[]): void {
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, `${JSON.stringify({ patientId, rows })}\n`);
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
