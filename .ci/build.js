// Bundles the runner CLI and the benchmarks (dependencies left in node_modules) and the adapter
// (self-contained) into dist/.
import { readdirSync } from 'node:fs';
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node24', sourcemap: 'linked', logLevel: 'warning' };

await build({
  ...common,
  entryPoints: ['runner/src/cli.ts'],
  outfile: 'dist/runner.js',
  format: 'esm',
  packages: 'external',
});

// The adapter is two self-contained files: the entrypoint, which starts the app first, and the adapter itself,
// which it loads next (adapter/src/boot.ts).
for (const [entry, outfile] of [
  ['adapter/src/boot.ts', 'dist/adapter/adapter.mjs'],
  ['adapter/src/main.ts', 'dist/adapter/adapter-main.mjs'],
]) {
  await build({
    ...common,
    entryPoints: [entry],
    outfile,
    format: 'esm',
    minify: true,
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
}

await build({
  ...common,
  entryPoints: readdirSync('bench')
    .filter((file) => file.endsWith('.ts') && !['load.ts', 'runner-harness.ts'].includes(file))
    .map((file) => `bench/${file}`),
  outdir: 'dist/bench',
  format: 'esm',
  packages: 'external',
});
