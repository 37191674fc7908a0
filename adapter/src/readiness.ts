import { request, type ClientRequest } from 'node:http';
import { PROBE_USER_AGENT } from '../contract/contract.js';
import { connect } from 'node:net';
import type { AdapterConfig } from './config.js';
import { listeningPorts } from './listening-ports.js';
import { statusInRanges } from './status-ranges.js';

export type ProbeResult = { ready: true } | { ready: false; reason: string };

/**
 * A probe's GET, on a connection of its own (never one queued behind the app's requests), named as kube-probe
 * names its own: the app can tell a probe from a user's request, in its logs and its counters.
 */
export function probeRequest(host: string, port: number, path: string, timeoutMs: number): ClientRequest {
  return request({
    host,
    port,
    path,
    method: 'GET',
    headers: { 'user-agent': PROBE_USER_AGENT },
    agent: false,
    timeout: timeoutMs,
  });
}

/** One readiness probe of the app: an HTTP GET whose status must fall in the healthy ranges, or a TCP connect. */
export function probeApp(config: AdapterConfig, timeoutMs = 1000): Promise<ProbeResult> {
  const { readiness, appHost: host, appPort: port } = config;
  return new Promise((resolve) => {
    if (readiness.kind === 'tcp') {
      const socket = connect({ host, port });
      socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timed out')));
      socket.on('connect', () => {
        socket.destroy();
        resolve({ ready: true });
      });
      socket.on('error', (error: NodeJS.ErrnoException) =>
        resolve({ ready: false, reason: `tcp ${host}:${port}: ${error.code ?? error.message}` }),
      );
      return;
    }
    const probe = probeRequest(host, port, readiness.path, timeoutMs);
    probe.on('response', (answer) => {
      answer.resume();
      const status = answer.statusCode ?? 0;
      resolve(
        statusInRanges(status, readiness.healthy)
          ? { ready: true }
          : { ready: false, reason: `GET ${readiness.path} answered ${status}` },
      );
    });
    probe.on('timeout', () => probe.destroy(new Error('timed out')));
    probe.on('error', (error: NodeJS.ErrnoException) =>
      resolve({
        ready: false,
        reason: `GET ${readiness.path} on ${host}:${port}: ${error.code ?? error.message}`,
      }),
    );
    probe.end();
  });
}

/**
 * Probes every interval until the app is ready, the startup timeout passes, or `stopped` says to give up
 * (the app exited). Resolves with the time it took; rejects with the last reason.
 */
export async function waitUntilReady(
  config: AdapterConfig,
  stopped: () => string | undefined,
  onProbe: (reason: string) => void = () => {},
  now: () => number = Date.now,
): Promise<number> {
  const started = now();
  let last = 'not probed yet';
  let hint = '';
  let hintedAt = 0;
  while (now() - started < config.startupTimeoutMs) {
    const exit = stopped();
    if (exit) throw new Error(`${exit} before it became ready (last probe: ${last})`);
    const result = await probeApp(config);
    if (result.ready) return now() - started;
    const second = Math.floor((now() - started) / 1000);
    if (second > hintedAt) {
      hintedAt = second;
      hint = portHint(config);
    }
    last = result.reason + hint;
    onProbe(last);
    await new Promise((resolve) => setTimeout(resolve, config.readinessIntervalMs));
  }
  throw new Error(
    `the app was not ready within PILOTLIGHT_STARTUP_TIMEOUT_MS=${config.startupTimeoutMs} (last probe: ${last})`,
  );
}

/** When the app listens, but not on the port we probe, say where it does listen. */
function portHint(config: AdapterConfig): string {
  const elsewhere = listeningPorts([config.port]);
  if (elsewhere.length === 0 || elsewhere.includes(config.appPort)) return '';
  return `; the app listens on ${elsewhere.join(', ')}, not ${config.appPort}: set the app port to ${elsewhere[0]}`;
}
