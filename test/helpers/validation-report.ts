import type { Database } from '../../src/db/database.js';
import type { PatientRow } from '../../src/validation/evaluate-patient.js';
import { buildReport } from '../../src/validation/report.js';
import { ValidationReportStore } from '../../src/validation/report-store.js';
import { targetFor } from '../../src/validation/targets.js';

/**
 * Stores a real validation report (built by the validation code from a small synthetic population
 * with known risks) for `model`, so that a promotion can cite it as evidence. Returns its id.
 */
export async function storeValidationReport(db: Database, model: { id: string; version: string }): Promise<string> {
  const rows: PatientRow[] = Array.from({ length: 60 }, (_, i) => {
    const risk = 0.02 + (i % 10) * 0.02;
    return {
      patientId: `p${i}`,
      prediction: 'pce-2013',
      risk,
      time: 10,
      event: i % 10 < risk * 10,
      end: 'horizon',
      sex: i % 2 ? 'male' : 'female',
      age: 40 + (i % 40),
      inputs: {},
    };
  });
  const report = buildReport(rows, {
    target: targetFor('pce-2013'),
    model: { id: model.id, version: model.version, title: model.id },
    asOf: new Date('2011-01-01'),
    source: 'ehr',
    selection: 'all patients',
    bootstrap: { reps: 10, seed: 1 },
  });
  await new ValidationReportStore(db).save(report);
  return report.id;
}
