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
