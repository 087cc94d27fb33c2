import { createHash } from 'node:crypto';

/**
 * The identity of one assessment: patient + model id@version + record hash. Every resource a
 * write-back creates derives its identifier from it, so a retry, a duplicate notification or a
 * second worker finds the first copy (conditional create) instead of writing another.
 */
export function assessmentKey(patientId: string, modelId: string, modelVersion: string, recordHash: string): string {
  return createHash('sha256').update(`${patientId}|${modelId}@${modelVersion}|${recordHash}`).digest('hex');
}
