import type { Resource } from '@medplum/fhirtypes';
import { startSandbox } from '../sandbox/index.js';

/**
 * The EHR of the record benchmark, run as a child process so that the benchmark's CPU measurement
 * (process.cpuUsage) counts only the service side. Builds one synthetic patient per requested size,
 * optionally loads a Synthea file, prints `{"baseUrl","synthetic":{size:id},"patients":[ids]}` on one
 * line, and exits when stdin closes.
 *
 * Usage: node dist/bench/record-bench-ehr.js SIZES [FILE [PATIENTS]]
 */
async function main([sizesArg, file, patientsArg]: string[]): Promise<void> {
  const sb = await startSandbox({ logger: false });
  const synthetic: Record<number, string> = {};
  for (const size of sizesArg.split(',').map(Number)) {
    const id = `synthetic-${size}`;
    for (const r of syntheticRecord(id, size)) await sb.repo.importResource(r as Resource & { id: string });
    synthetic[size] = id;
  }
  let patients: string[] = [];
  if (file) {
    const before = new Set([...sb.repo.resourcesOf('Patient')].map((p) => p.id));
    await sb.loadFile(file, patientsArg ? Number(patientsArg) : undefined);
    patients = [...sb.repo.resourcesOf('Patient')].map((p) => p.id).filter((id) => !before.has(id));
  }
  process.stdout.write(`${JSON.stringify({ baseUrl: sb.baseUrl, synthetic, patients })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void sb.close().then(() => process.exit(0)));
}

/** A Synthea-shaped record of `size` resources: Patient, 70 % Observations, 20 % Conditions, 10 % MedicationRequests. */
export function syntheticRecord(patientId: string, size: number): Resource[] {
  const subject = { reference: `Patient/${patientId}` };
  const out: Resource[] = [{ resourceType: 'Patient', id: patientId, gender: 'male', birthDate: '1960-05-01' }];
  for (let i = 1; i < size; i++) {
    const day = new Date(Date.UTC(2016, 0, 1) + (i % 1900) * 86_400_000).toISOString();
    const kind = i % 10;
    if (kind < 7) {
      out.push({
        resourceType: 'Observation',
        id: `${patientId}-o${i}`,
        status: 'final',
        category: [
          {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/observation-category',
                code: 'laboratory',
                display: 'laboratory',
              },
            ],
          },
        ],
        code: {
          coding: [
            { system: 'http://loinc.org', code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma' },
          ],
          text: 'Cholesterol',
        },
        subject,
        encounter: { reference: `Encounter/${patientId}-e${i % 50}` },
        effectiveDateTime: day,
        issued: day,
        valueQuantity: { value: 150 + (i % 90), unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      } as Resource);
    } else if (kind < 9) {
      out.push({
        resourceType: 'Condition',
        id: `${patientId}-c${i}`,
        clinicalStatus: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
        },
        code: {
          coding: [{ system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertension' }],
          text: 'Hypertension',
        },
        subject,
        onsetDateTime: day,
        recordedDate: day,
      } as Resource);
    } else {
      out.push({
        resourceType: 'MedicationRequest',
        id: `${patientId}-m${i}`,
        status: 'active',
        intent: 'order',
        medicationCodeableConcept: {
          coding: [
            {
              system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
              code: '314076',
              display: 'lisinopril 10 MG Oral Tablet',
            },
          ],
        },
        subject,
        authoredOn: day,
      } as Resource);
    }
  }
  return out;
}

if (process.argv[1]?.endsWith('record-bench-ehr.js')) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`record-bench-ehr failed: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
