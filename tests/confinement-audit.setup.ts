import { afterAll, beforeAll, expect } from '@jest/globals';
import { auditInstances } from './helpers/confinement-audit.js';
import { testDocker } from './helpers/test-docker.js';

// Every integration test file: each instance container its runners create is checked against the isolation
// defaults, whatever the test itself asserts.
let audit: Awaited<ReturnType<typeof auditInstances>> | undefined;

beforeAll(async () => {
  audit = await auditInstances(testDocker()).catch(() => undefined);
});

afterAll(async () => {
  const problems = (await audit?.stop()) ?? [];
  expect(problems).toEqual([]);
});
