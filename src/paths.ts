import { fileURLToPath } from 'node:url';

/** Files shipped with the project, resolved from src/ or dist/ alike. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_PATIENTS_FILE = fileURLToPath(new URL('../data/synthea/patients.ndjson.gz', import.meta.url));
