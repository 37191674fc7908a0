// Bundles the runner CLI (dependencies left in node_modules) and the adapter (self-contained) into dist/.
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: 'linked', logLevel: 'warning' };

await build({
  ...common,
  entryPoints: ['runner/src/cli.ts'],
  outfile: 'dist/runner.js',
  format: 'esm',
  packages: 'external',
});

await build({
  ...common,
  entryPoints: ['adapter/src/main.ts'],
  outfile: 'dist/adapter/adapter.mjs',
  format: 'esm',
  minify: true,
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
});
