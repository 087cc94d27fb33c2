import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** Opens a possibly gzipped file; `destroy` closes the file descriptor and the gunzip stream. */
function open(path: string): { stream: Readable; destroy: () => void } {
  const file = createReadStream(path, { highWaterMark: 1024 * 1024 }); // 1 MB reads
  const stream = path.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  file.on('error', (err) => stream.destroy(err)); // pipe() does not forward source errors
  const destroy = (): void => {
    stream.destroy();
    file.destroy();
  };
  return { stream, destroy };
}

/**
 * Yields the parsed JSON documents of a data file, one at a time, so memory stays bounded by the
 * largest line (the population file is ~270 MB unpacked, ~1.5 MB per line):
 * - `*.ndjson[.gz]`: one JSON document per non-empty line;
 * - `*.json[.gz]`: the whole file is one document (may be pretty-printed).
 */
export async function* readJsonDocuments(path: string): AsyncGenerator<unknown> {
  if (/\.json(\.gz)?$/.test(path)) {
    const input = open(path);
    try {
      yield JSON.parse(await readAll(input.stream));
    } finally {
      input.destroy();
    }
    return;
  }
  const input = open(path);
  const lines = createInterface({ input: input.stream, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (!line.trim()) continue;
      yield parseLine(line, path, lineNo);
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

function parseLine(line: string, path: string, lineNo: number): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new Error(`${path}:${lineNo}: invalid JSON (${(err as Error).message})`);
  }
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
