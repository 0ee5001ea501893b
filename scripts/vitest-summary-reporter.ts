import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends the run with one plain `vitest: N passed, N failed, N skipped` line, the closing line CI
 * reads for any test runner.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const testModule of testModules) {
      let failedTests = 0;
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === 'failed') failedTests += 1;
        if (state === 'passed' || state === 'failed') counts[state] += 1;
        else counts.skipped += 1;
      }
      // A file that fails without a failing test (it did not load, or a hook failed) counts once,
      // so the run cannot look green.
      if (testModule.state() === 'failed' && failedTests === 0) counts.failed += 1;
    }
    process.stdout.write(
      `\nvitest: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}
