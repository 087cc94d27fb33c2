import { Writable } from 'node:stream';

/** A Writable that keeps what was written (a CLI command's stdout/stderr in tests). */
export function capture(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return Object.assign(w, { text: () => chunks.join('') });
}
