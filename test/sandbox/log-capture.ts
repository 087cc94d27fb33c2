import { type Logger, pino } from 'pino';

/** A pino logger (level info) whose lines the test can read. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[]; count: (msg: string) => number } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines, count: (msg) => lines.filter((l) => l.msg === msg).length };
}
