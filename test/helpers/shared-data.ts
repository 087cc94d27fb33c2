import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `../shared/data` beside the checkout (where CI puts it). Tests that need it skip with this message
 * when it is absent, so a plain clone still runs the rest of the suite.
 */
export const SHARED_DATA = fileURLToPath(new URL('../../../shared/data', import.meta.url));
export const hasSharedData = existsSync(SHARED_DATA);
export const SHARED_DATA_MISSING = `skipped: ${SHARED_DATA} (../shared beside the checkout) is absent`;
