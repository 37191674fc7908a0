import { PilotlightError } from '../common/pilotlight-error.js';

export class EngineUnavailableError extends PilotlightError {
  constructor(message: string) {
    super('ENGINE_UNAVAILABLE', message, 503);
  }
}

export class ImageBuildError extends PilotlightError {
  constructor(image: string, detail: string) {
    super('IMAGE_BUILD_FAILED', `building ${image} failed: ${detail}`, 500);
  }
}

/** The engine answered with a failure it has no better name for; `statusCode` is its HTTP status. */
export class EngineError extends PilotlightError {
  constructor(
    message: string,
    /** The engine's HTTP status; undefined when it did not answer at all. */
    readonly statusCode: number | undefined,
  ) {
    super('ENGINE_ERROR', message, 502);
  }

  /** The engine did not answer (it is restarting, or its socket is gone). */
  get unreachable(): boolean {
    return this.statusCode === undefined;
  }
}

export class NetworkNotFoundError extends EngineError {
  constructor(network: string, message: string) {
    super(`network ${network} does not exist: ${message}`, 404);
  }
}

export class NetworkPoolExhaustedError extends PilotlightError {
  constructor(network: string, detail: string) {
    super(
      'NETWORK_POOL_EXHAUSTED',
      `the engine has no address range left for network ${network} (${detail}): remove unused networks ` +
        '(`docker network prune`) or give dockerd smaller default-address-pools, e.g. ' +
        '{"default-address-pools":[{"base":"172.17.0.0/12","size":24}]} in /etc/docker/daemon.json',
      503,
    );
  }
}
