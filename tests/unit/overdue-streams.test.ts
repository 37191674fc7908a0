import { describe, expect, test } from '@jest/globals';
import {
  EpochMarks,
  mayBeOverdue,
  parseStreamDetail,
  parseStreams,
  type EdgeStream,
} from '../../runner/src/edge/overdue-streams.js';

// As HAProxy 2.6 prints them: a request sent to server s2, one waiting in the queue, the CLI's own stream.
const SHOW_SESS = [
  '0x55bb0b5bd660: proto=tcpv4 src=127.0.0.1:59630 fe=edge be=fn_ss srv=s2 ts=00 epoch=0 age=3s calls=2 rate=0 cpu=0 lat=0 rq[f=49c40080h,i=0,an=8000h,rx=,wx=,ax=] rp[f=88400000h,i=0,an=1400000h,rx=4m57s,wx=,ax=] scf=[8,80h,fd=12] scb=[8,11h,fd=13] exp=0s rc=0 c_exp=',
  '0x55bb0b5bd990: proto=tcpv4 src=127.0.0.1:59640 fe=edge be=fn_ss srv=<none> ts=00 epoch=0 age=1m3s calls=2 rate=0 cpu=0 lat=0 rq[f=49c40080h] rp[f=88400000h] exp=0s rc=0 c_exp=',
  '0x55bb0b5bdaa0: proto=tcpv4 src=127.0.0.1:59650 fe=edge be=fn_ss srv=_activator ts=00 epoch=0 age=9s calls=2 rate=0 cpu=0 lat=0 exp=0s rc=0 c_exp=',
  '0x55bb0b487820: proto=unix_stream src=unix:1 fe=GLOBAL be=<NONE> srv=<none> ts=00 epoch=0 age=0s calls=1 rate=1 cpu=0 lat=0 exp=9s rc=0 c_exp=',
  '',
].join('\n');

const DETAIL = `0x55bb0b5bd660: [27/Nov/2026:13:33:07.332265] id=20 proto=tcpv4 source=127.0.0.1:59630
  flags=0xc4a, conn_retries=0, conn_exp=<NEVER> conn_et=0x000 srv_conn=0x55bb0b3aed30, pend_pos=(nil) waiting=0 epoch=0
  txn=0x55bb0b601830 flags=0x3000 meth=1 status=-1 req.st=MSG_DONE rsp.st=MSG_RPBEFORE req.f=0x4c rsp.f=0x00
`;

describe('requests past their timeout, from show sess', () => {
  test('each request line is read: its id, backend, server (none while queued) and age', () => {
    expect(parseStreams(SHOW_SESS)).toEqual([
      { id: '0x55bb0b5bd660', backend: 'fn_ss', server: 's2', ageSeconds: 3, epoch: 0 },
      { id: '0x55bb0b5bd990', backend: 'fn_ss', server: undefined, ageSeconds: 63, epoch: 0 },
      { id: '0x55bb0b5bdaa0', backend: 'fn_ss', server: '_activator', ageSeconds: 9, epoch: 0 },
      { id: '0x55bb0b487820', backend: '<NONE>', server: undefined, ageSeconds: 0, epoch: 0 },
    ]);
  });

  test('candidates: sent to an instance (not queued, not held by the activator), in a watched backend, old enough given the whole-second age', () => {
    const streams = parseStreams(SHOW_SESS);
    const candidates = (timeouts: Array<[string, number]>) =>
      mayBeOverdue(streams, new Map(timeouts), '_activator').map((stream) => stream.id);
    expect(candidates([['fn_ss', 4000]])).toEqual(['0x55bb0b5bd660']);
    expect(candidates([['fn_ss', 5000]])).toEqual([]);
    expect(candidates([['fn_other', 1000]])).toEqual([]);
  });

  test('the detail gives when the edge took the request, to the millisecond, whether it is a tunnel, and whether it waits for the answer', () => {
    expect(parseStreamDetail(DETAIL)).toEqual({
      acceptedAt: new Date(2026, 10, 27, 13, 33, 7, 332).getTime(),
      tunnel: false,
      awaitingAnswer: true,
    });
    expect(parseStreamDetail(DETAIL.replace('rsp.st=MSG_RPBEFORE', 'rsp.st=MSG_TUNNEL'))).toMatchObject({
      tunnel: true,
      awaitingAnswer: false,
    });
    // Still uploading, or answering (a drip): bytes move, so HAProxy's timeout never ends it.
    expect(parseStreamDetail(DETAIL.replace('req.st=MSG_DONE', 'req.st=MSG_DATA'))?.awaitingAnswer).toBe(
      false,
    );
    expect(parseStreamDetail(DETAIL.replace('rsp.st=MSG_RPBEFORE', 'rsp.st=MSG_DATA'))?.awaitingAnswer).toBe(
      false,
    );
    expect(parseStreamDetail('Unknown command')).toBeUndefined();
  });

  test('a stream is dated no earlier than the last listing sent before it was made (its epoch is higher)', () => {
    const stream = (epoch: number): EdgeStream => ({
      id: 'x',
      backend: 'fn_ss',
      server: 's1',
      ageSeconds: 60,
      epoch,
    });
    const marks = new EpochMarks();
    expect(marks.madeAfter(stream(0))).toBeUndefined();
    // Each listing shows its own stream's epoch as the highest: 0x4 sent at 1000, 0x5 at 1500, 0x9 at 2000.
    marks.note([stream(2), stream(4)], 1000);
    marks.note([stream(5)], 1500);
    marks.note([stream(3), stream(9)], 2000);
    expect(marks.madeAfter(stream(4))).toBeUndefined();
    expect(marks.madeAfter(stream(5))).toBe(1000);
    expect(marks.madeAfter(stream(6))).toBe(1500);
    expect(marks.madeAfter(stream(10))).toBe(2000);
    marks.prune(1800);
    expect(marks.madeAfter(stream(6))).toBeUndefined();
    expect(marks.madeAfter(stream(10))).toBe(2000);
    expect(parseStreams(SHOW_SESS.replace('epoch=0 age=3s', 'epoch=0x1a age=3s'))[0]!.epoch).toBe(26);
  });
});
