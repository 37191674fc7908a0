import { describe, expect, test } from '@jest/globals';
import { sealSecrets } from '../../runner/src/control/deploy-secrets.js';
import { instanceConfinement } from '../../runner/src/instances/confinement.js';
import { checkDeploy, defaultIsolationSettings } from '../../runner/src/spec/deploy-request.js';
import { documentOf, readDocument } from '../../runner/src/spec/function-document.js';
import { DEFAULT_CAPABILITIES } from '../../runner/src/spec/function-schema.js';
import { SecretBox } from '../../runner/src/store/secret-box.js';

const MiB = 1024 ** 2;
const host = { cpus: 2, memory: 8 * 1024 * MiB };

describe('isolation fields of a function', () => {
  test('the defaults: the allowlist kept whole, 1024 pids, a writable root, the image user', () => {
    expect(defaultIsolationSettings()).toEqual({
      capAdd: [],
      capDrop: [],
      pidsLimit: 1024,
      readOnly: false,
      tmpfs: {},
    });
  });

  test('flags are read the way docker run takes them, and normalized', () => {
    const { document, problems } = readDocument({
      image: 'x',
      capAdd: ['cap_net_raw', 'SYS_PTRACE,net_raw'],
      capDrop: ['chown'],
      pidsLimit: '256',
      readOnly: '',
      user: '10001:10001',
      tmpfs: ['/cache:64m', '/run/app:1m'],
    });
    expect(problems).toEqual([]);
    expect(document).toMatchObject({
      capAdd: ['NET_RAW', 'SYS_PTRACE'],
      capDrop: ['CHOWN'],
      pidsLimit: 256,
      readOnly: true,
      user: '10001:10001',
      tmpfs: { '/cache': 64 * MiB, '/run/app': MiB },
    });
  });

  test('bad values are named with what is allowed', () => {
    const { problems } = readDocument({
      image: 'x',
      capAdd: ['ALL'],
      capDrop: ['NOT_A_CAP'],
      pidsLimit: 4,
      readOnly: 'maybe',
      user: 'www-data',
      tmpfs: ['/opt/pilotlight:1m'],
    });
    expect(problems).toEqual([
      'capAdd: ALL is not allowed: name each capability the app needs, like NET_RAW',
      'capDrop: NOT_A_CAP is not a Linux capability, like NET_RAW or SYS_PTRACE',
      'pidsLimit: 4 is out of range: allowed 16–4194304 processes',
      'readOnly: maybe must be true or false',
      'user: www-data must be UID[:GID] in numbers, like 10001:10001 (a name would need the image to have /etc/passwd)',
      'tmpfs: /opt/pilotlight is where the adapter lives: choose another path',
    ]);
    expect(readDocument({ image: 'x', tmpfs: ['cache:1m'] }).problems[0]).toMatch(/absolute path/);
    expect(readDocument({ image: 'x', tmpfs: ['/cache:1k'] }).problems[0]).toMatch(/at least 1m/);
    expect(readDocument({ image: 'x', tmpfs: ['/cache'] }).problems[0]).toMatch(/PATH:SIZE/);
  });

  test('a deployed function written back keeps its isolation, and reads back the same', () => {
    const checked = checkDeploy(
      { image: 'x', name: 'x', capAdd: ['NET_RAW'], readOnly: true, tmpfs: { '/cache': '8m' }, user: '1' },
      host,
    );
    const written = documentOf({
      name: 'x',
      image: 'x',
      digest: undefined,
      imageId: 'sha256:1',
      revision: 1,
      appPort: 80,
      active: checked.active,
      reserved: checked.reserved,
      concurrency: 10,
      timeoutMs: 1000,
      startupTimeoutMs: 1000,
      env: {},
      scaling: { minScale: 0, maxScale: 1 },
      lifecycle: checked.lifecycle,
      adapter: checked.adapter,
      async: checked.async,
      isolation: checked.isolation,
      secrets: { TOKEN: 'sealed:v1:xyz' },
    });
    expect(written).toMatchObject({
      capAdd: ['NET_RAW'],
      readOnly: true,
      user: '1',
      tmpfs: { '/cache': '8m' },
      secrets: ['TOKEN'],
    });
    expect(written).not.toHaveProperty('capDrop');
    expect(readDocument(written).document).toMatchObject({
      tmpfs: { '/cache': 8 * MiB },
      secrets: { TOKEN: null },
    });
  });

  test('a secret may not also be in env', () => {
    expect(readDocument({ image: 'x', env: { A: '1' }, secrets: { A: 'v' } }).problems).toEqual([
      'secrets: A is also in env: give it one way',
    ]);
  });
});

describe('what an instance container is confined to', () => {
  test('by default: every capability dropped but the allowlist, no new privileges, 1024 pids', () => {
    expect(instanceConfinement(defaultIsolationSettings())).toEqual({
      capDrop: ['ALL'],
      capAdd: [...DEFAULT_CAPABILITIES].sort(),
      noNewPrivileges: true,
      pidsLimit: 1024,
      readOnlyRootfs: false,
      tmpfs: {},
    });
  });

  test("the function's additions and removals; a read-only root gets a /tmp unless it sizes its own", () => {
    const confined = instanceConfinement({
      ...defaultIsolationSettings(),
      capAdd: ['NET_RAW'],
      capDrop: ['CHOWN', 'KILL'],
      readOnly: true,
      user: '10001',
    });
    expect(confined.capAdd).toEqual([
      'DAC_OVERRIDE',
      'FOWNER',
      'NET_BIND_SERVICE',
      'NET_RAW',
      'SETGID',
      'SETUID',
    ]);
    expect(confined.tmpfs).toEqual({ '/tmp': 64 * MiB });
    expect(confined.user).toBe('10001');
    const ownTmp = instanceConfinement({
      ...defaultIsolationSettings(),
      readOnly: true,
      tmpfs: { '/tmp': MiB },
    });
    expect(ownTmp.tmpfs).toEqual({ '/tmp': MiB });
  });
});

describe('secrets', () => {
  const box = new SecretBox(Buffer.alloc(32, 7));

  test('sealed values open with their key only, and never hold the value in plain text', () => {
    const sealed = box.seal('hunter2');
    expect(sealed).not.toContain('hunter2');
    expect(Buffer.from(sealed.split(':')[2]!, 'base64').includes('hunter2')).toBe(false);
    expect(box.open(sealed)).toBe('hunter2');
    expect(box.seal('hunter2')).not.toBe(sealed);
    expect(() => new SecretBox(Buffer.alloc(32, 8)).open(sealed)).toThrow(/secrets.key/);
    expect(() => box.open(`${sealed.slice(0, -4)}AAAA`)).toThrow(/SECRET_UNREADABLE|cannot be opened/);
  });

  test('a new revision seals what is given and keeps, by name, what was deployed before', () => {
    const before = { KEPT: box.seal('old') };
    const sealed = sealSecrets({ KEPT: null, NEW: 'fresh' }, before, box);
    expect(sealed['KEPT']).toBe(before.KEPT);
    expect(box.open(sealed['NEW']!)).toBe('fresh');
    expect(() => sealSecrets({ MISSING: null }, before, box)).toThrow(
      'secrets: MISSING has no value deployed before: give it with --secret MISSING=@FILE',
    );
  });
});
