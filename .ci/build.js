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
