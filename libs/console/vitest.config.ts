import { defineConfig } from "vitest/config";

// The app's modules are JSX for Preact; the tests import its pure helpers.
export default defineConfig({ esbuild: { jsx: "automatic", jsxImportSource: "preact" } });
