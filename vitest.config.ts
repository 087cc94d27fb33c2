import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests share the machine's two cores and one Redis; keep file parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
  },
});
