// Bundles the console for browsers into www/: one script and one stylesheet, minified, with the
// sizes written to www/bundle.json (and printed) so the docs and the browser test can report them.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

rmSync("www", { recursive: true, force: true });
mkdirSync("www/assets", { recursive: true });
const result = await build({
  entryPoints: { app: "app/main.tsx" },
  bundle: true,
  minify: true,
  format: "esm",
  // The graph and chart libraries are most of the weight: they load with the pages that draw.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  target: ["chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: "www/assets",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});
writeFileSync("www/index.html", readFileSync("app/index.html"));
const sizes = Object.fromEntries(
  Object.keys(result.metafile.outputs).map((file) => {
    const bytes = readFileSync(file);
    return [file.replace(/^www\//, ""), { bytes: bytes.length, gzip: gzipSync(bytes).length }];
  }),
);
writeFileSync("www/bundle.json", `${JSON.stringify(sizes, null, 2)}\n`);
const report = Object.entries(sizes).map(
  ([file, { bytes, gzip }]) =>
    `console bundle: ${file} ${(bytes / 1024).toFixed(1)} KiB, ${(gzip / 1024).toFixed(1)} KiB gzipped\n`,
);
process.stdout.write(report.join(""));
