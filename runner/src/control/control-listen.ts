import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { PilotlightError } from '../../../common/pilotlight-error.js';

export interface ControlListenOptions {
  host: string;
  tls?: { certFile: string; keyFile: string } | undefined;
  /** Plain HTTP on a host other than loopback, knowingly. */
  insecure: boolean;
}

/** How the control API listens: where, over HTTPS or not, and whether to warn that it is plain HTTP. */
export interface ControlListen {
  host: string;
  /** `certificates`: the certificate file's CERTIFICATE blocks only, for runner.json (never a key). */
  tls?: { cert: Buffer; key: Buffer; certificates: string };
  insecure: boolean;
}

export class ControlNeedsTlsError extends PilotlightError {
  constructor(host: string) {
    super(
      'CONTROL_NEEDS_TLS',
      `--control-host ${host} puts the control API and its token on the network: pass --tls-cert FILE --tls-key FILE to serve it over HTTPS, or --insecure-control to accept plain HTTP`,
      400,
    );
  }
}

export class TlsFilesError extends PilotlightError {
  constructor(message: string) {
    super('TLS_FILES', message, 400);
  }
}

/** Only an address of this machine's loopback keeps the control API off the network. */
export function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * Decides how the control API listens: on loopback it may be plain HTTP; anywhere else it needs a
 * certificate and key, unless plain HTTP is asked for knowingly. The files are read and checked here, so a
 * bad one stops `runner up` before anything starts.
 */
export function controlListen(
  options: ControlListenOptions,
  readFile: (path: string) => Buffer = readFileSync,
): ControlListen {
  if (!options.tls) {
    if (!isLoopback(options.host) && !options.insecure) throw new ControlNeedsTlsError(options.host);
    return { host: options.host, insecure: !isLoopback(options.host) };
  }
  const cert = readTlsFile('--tls-cert', options.tls.certFile, readFile);
  const key = readTlsFile('--tls-key', options.tls.keyFile, readFile);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsFilesError(
      `--tls-cert ${options.tls.certFile} and --tls-key ${options.tls.keyFile} are not a PEM certificate and its key: ${(error as Error).message}`,
    );
  }
  const certificates = cert.toString('utf8').match(CERTIFICATE_BLOCK)?.join('\n');
  if (!certificates) {
    throw new TlsFilesError(
      `--tls-cert ${options.tls.certFile} holds no PEM certificate (BEGIN CERTIFICATE)`,
    );
  }
  return { host: options.host, tls: { cert, key, certificates }, insecure: false };
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

function readTlsFile(flag: string, path: string, readFile: (path: string) => Buffer): Buffer {
  try {
    return readFile(resolve(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new TlsFilesError(`${flag} ${path} cannot be read (${code}): give a PEM file`);
  }
}

/** The URL the CLI on this machine calls: a wildcard address is reached on loopback. */
export function controlUrl(listen: ControlListen, port: number): string {
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return `${listen.tls ? 'https' : 'http'}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
