import { FhirResponseTooLargeError } from './fhir-errors.js';

/**
 * Reads a response body as text, aborting as soon as it exceeds `limitBytes` (checked against
 * Content-Length first, then while streaming), so a runaway answer cannot exhaust memory.
 */
export async function readBodyLimited(res: Response, limitBytes: number, path: string): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limitBytes) {
    await res.body?.cancel();
    throw new FhirResponseTooLargeError(path, limitBytes);
  }
  if (!res.body) return '';
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  const parts: string[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await reader.cancel();
      throw new FhirResponseTooLargeError(path, limitBytes);
    }
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join('');
}
