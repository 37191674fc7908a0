import { createEngine, dockerEndpointFromEnv } from '../../../engine/docker-endpoint.js';
import { defaultRuntimeCacheDir, ensureAdapterRuntime } from '../adapter-runtime/adapter-runtime.js';
import { defaultWrappedTag, wrapImage } from '../adapter-runtime/wrap-image.js';
import { execaProcessRunner } from '../../../host/process-runner.js';

export interface WrapOptions {
  env: Record<string, string | undefined>;
  image: string;
  tag?: string;
  port?: number;
  log: (line: string) => void;
}

/** `runner wrap IMAGE[:TAG] [--tag NEW]`: prints the new image's reference on stdout. */
export async function runWrap(options: WrapOptions): Promise<string> {
  const engine = createEngine(dockerEndpointFromEnv(options.env));
  const runtime = await ensureAdapterRuntime(defaultRuntimeCacheDir(), execaProcessRunner());
  const target = options.tag ?? defaultWrappedTag(options.image);
  await wrapImage(engine, options.image, target, runtime, { appPort: options.port, log: options.log });
  process.stdout.write(`${target}\n`);
  return target;
}
