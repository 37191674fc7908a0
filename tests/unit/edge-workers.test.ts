import { describe, expect, test } from '@jest/globals';
import { parseOldWorkers } from '../../runner/src/edge/edge-process.js';
import { parseShowStat } from '../../runner/src/edge/edge-stats.js';

describe("the edge's answers", () => {
  test('show proc: the old workers a reload left, not the current one nor the master', () => {
    const answer = [
      '#<PID>          <type>          <reloads>       <uptime>        <version>      ',
      '31873           master          3 [failed: 0]   0d00h10m15s     2.6.12-1+deb12u4',
      '# workers',
      '32402           worker          0               0d00h00m00s     2.6.12-1+deb12u4',
      '# old workers',
      '32168           worker          1               0d00h10m12s     2.6.12-1+deb12u4',
      '32001           worker          2               0d00h11m02s     2.6.12-1+deb12u4',
      '# programs',
      '',
    ].join('\n');
    expect(parseOldWorkers(answer)).toEqual([32168, 32001]);
    expect(parseOldWorkers(answer.replace(/# old workers\n.*\n.*\n/, ''))).toEqual([]);
  });

  test('show stat: sessions, queue, status, weight, address, answers begun and failed per server, the backend queue apart', () => {
    const csv = [
      '# pxname,svname,qcur,qmax,scur,smax,slim,stot,eresp,status,weight,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,addr',
      'fn_shop,s1,0,0,1,1,10,5,2,UP,1,0,1,0,1,1,0,172.24.0.2:3000',
      'fn_shop,s2,2,2,0,0,10,0,,MAINT,1,,,,,,,0.0.0.0:1',
      'fn_shop,BACKEND,4,4,1,1,10,5,2,UP,1,0,1,0,1,1,0,',
      '',
    ].join('\n');
    const shop = parseShowStat(csv).get('fn_shop')!;
    expect(shop.queued).toBe(4);
    expect(shop.servers.get('s1')).toEqual({
      sessions: 1,
      queued: 0,
      total: 5,
      status: 'UP',
      weight: 1,
      address: '172.24.0.2:3000',
      answered: 3,
      failed: 2,
    });
    expect(shop.servers.get('s2')!.address).toBe('0.0.0.0:1');
  });
});
