import { describe, expect, test } from '@jest/globals';
import { countRequestStreams, parseWorkerPids } from '../../runner/src/edge/edge-process.js';

// As HAProxy 2.6.12's master CLI printed them during a reload and a soft stop.
const SHOW_PROC = `#<PID>          <type>          <reloads>       <uptime>        <version>
1784            master          1 [failed: 0]   0d00h00m02s     2.6.12-1+deb12u4
# workers
1922            worker          0               0d00h00m01s     2.6.12-1+deb12u4
# old workers
1801            worker          1               0d00h00m09s     2.6.12-1+deb12u4
# programs
`;

const SHOW_SESS = `0x555583680a40: proto=tcpv4 src=127.0.0.1:55222 fe=edge be=fn_plain srv=s1 ts=00 epoch=0 age=1s calls=2
0x5555837b6390: proto=sockpair src=unix:2 fe=GLOBAL be=<NONE> srv=<none> ts=00 epoch=0 age=0s calls=1
`;

describe("the edge's master CLI, read", () => {
  test('show proc: every worker, current and old, and not the master', () => {
    expect(parseWorkerPids(SHOW_PROC)).toEqual([1922, 1801]);
  });

  test("show sess: the requests, not the CLI's own session", () => {
    expect(countRequestStreams(SHOW_SESS)).toBe(1);
    expect(countRequestStreams(SHOW_SESS.split('\n')[1]!)).toBe(0);
    expect(countRequestStreams('')).toBe(0);
  });
});
