// One id for the whole run, shared by every test file: everything a test creates is labelled with it.
import { randomBytes } from 'node:crypto';

export default function globalSetup() {
  process.env.PILOTLIGHT_TEST_RUN ??= `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
