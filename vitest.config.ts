import { defineConfig } from 'vitest/config';

const backends = ['embedded', ...(process.env.TEST_DATABASE_URL ? ['postgres'] : [])];

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    pool: 'forks',
    isolate: false,
    projects: backends.map((backend) => ({
      extends: true,
      test: {
        name: backend,
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        env: { TEST_BACKEND: backend },
      },
    })),
  },
});
