import { defineConfig } from "vitest/config";

// These suites start real processes against shared NATS and Postgres; one file at a time keeps
// a 2-core machine from timing them out.
export default defineConfig({
  test: {
    include: [
      "e2e/**/*.test.ts",
      "kubectl/**/*.test.ts",
      "contract/**/*.test.ts",
      "vectors/**/*.test.ts",
      "eval/**/*.test.ts",
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
