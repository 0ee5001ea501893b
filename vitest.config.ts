import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspaces export their TypeScript sources under this condition, so tests need no build step.
// 'module' stays out, as in vitest's own defaults: Node would load packages' untranspiled ESM builds.
const conditions = ['iot-meter-source', ...defaultServerConditions.filter((c) => c !== 'module')];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    reporters: ['default', './scripts/vitest-summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['services/*/src/**/*.test.ts', 'scripts/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['services/*/test/**/*.test.ts', 'charts/test/**/*.test.ts'],
          // Starts (or reuses) the local stack of real servers and provides its env to the tests.
          globalSetup: ['scripts/stack/vitest-global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
