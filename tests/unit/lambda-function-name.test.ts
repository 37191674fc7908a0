import { describe, expect, test } from '@jest/globals';
import { lambdaFunctionName } from '../../runner/src/lambda/lambda-invoke.js';

describe('the function a Lambda Invoke path names', () => {
  test.each([
    ['/2015-03-31/functions/shop/invocations', 'shop'],
    ['/2015-03-31/functions/shop%3A2/invocations', 'shop'],
    ['/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ashop/invocations', 'shop'],
    ['/2015-03-31/functions/%ff/invocations', '%ff'],
    ['/2015-03-31/functions/%E0%A4%A/invocations', '%E0%A4%A'],
    ['/fn/shop/', undefined],
  ])('%s names %s (a malformed escape is kept as written, never thrown)', (url, name) => {
    expect(lambdaFunctionName(url)).toBe(name);
  });
});
