// Builds the web bundles into dist/ (committed, served by the gateway): `make web`.
//
//   node build.mjs              every entry point into dist/
//   node build.mjs --out DIR    the same into DIR (`make web-check` diffs it against dist/)
//   node build.mjs --tests      the unit tests into .build/tests/, for `node --test`
//
// The output depends only on the sources and the locked tool versions: no timestamps, no
// absolute paths, stable names; so a fresh build of an unchanged tree equals the committed one.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));

// One line per entry point: its source, its name in dist/ (NAME.js), and whether a bundled
// NAME.d.ts is emitted beside it (for code that imports it as a library).
const ENTRIES = [
  { source: "sdk/index.ts", name: "sdk", types: true, format: "esm" },
  { source: "widget/index.tsx", name: "widget", types: false, format: "iife" },
  { source: "dashboard/index.tsx", name: "dashboard", types: false, format: "iife" },
];

// Style sheets, each built (bundled, minified) into dist/NAME.css.
const STYLES = [{ source: "dashboard/styles.css", name: "dashboard" }];

// The folders of unit tests (`*.test.ts`, run by `node --test`).
const TESTS = ["sdk/tests", "widget/tests", "dashboard/tests"];

const BANNER = "/* chatgate: built from gateway/web by `make web`; do not edit. */";

async function bundle(outDir) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const entry of ENTRIES) {
    await esbuild.build({
      absWorkingDir: here,
      entryPoints: [entry.source],
      outfile: join(outDir, `${entry.name}.js`),
      bundle: true,
      format: entry.format,
      platform: "browser",
      target: "es2020",
      minify: true,
      charset: "utf8",
      legalComments: "none",
      banner: { js: BANNER },
      logLevel: "warning",
    });
    if (entry.types)
      writeFileSync(join(outDir, `${entry.name}.d.ts`), await declarations(entry.source));
  }
  for (const sheet of STYLES) {
    await esbuild.build({
      absWorkingDir: here,
      entryPoints: [sheet.source],
      outfile: join(outDir, `${sheet.name}.css`),
      bundle: true,
      minify: true,
      charset: "utf8",
      legalComments: "none",
      logLevel: "warning",
    });
  }
}

async function declarations(source) {
  // dts-bundle-generator is CommonJS and loads TypeScript: only when types are asked for.
  const { generateDtsBundle } = (await import("dts-bundle-generator")).default;
  const [text] = generateDtsBundle(
    [{ filePath: join(here, source), output: { noBanner: true, exportReferencedTypes: false } }],
    { preferredConfigPath: join(here, "tsconfig.json") },
  );
  return `${BANNER}\n${text}`;
}

async function tests(outDir) {
  rmSync(outDir, { recursive: true, force: true });
  await esbuild.build({
    absWorkingDir: here,
    entryPoints: TESTS.flatMap((folder) =>
      readdirSync(join(here, folder))
        .filter((name) => name.endsWith(".test.ts"))
        .map((name) => join(folder, name)),
    ),
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "inline",
    logLevel: "warning",
  });
}

const args = process.argv.slice(2);
if (args.includes("--tests")) {
  await tests(join(here, ".build", "tests"));
} else {
  const at = args.indexOf("--out");
  await bundle(at >= 0 ? args[at + 1] : join(here, "dist"));
}
