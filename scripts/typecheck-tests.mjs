#!/usr/bin/env node
// Type-checks test/ with the compiler options of the one tsconfig.json (which builds src/ only):
// vitest strips types without checking them, so without this a wrong type in a test goes unnoticed.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const configFile = ts.readConfigFile('tsconfig.json', ts.sys.readFile);
const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, process.cwd());
const files = (function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
})('test');
const program = ts.createProgram(files, { ...options, noEmit: true, rootDir: undefined, outDir: undefined });
const diagnostics = ts.getPreEmitDiagnostics(program);
if (diagnostics.length) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}
console.log(`test/: ${files.length} files type-check`);
