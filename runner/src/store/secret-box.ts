import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PilotlightError } from '../../../common/pilotlight-error.js';

const PREFIX = 'sealed:v1:';

/** A stored secret that cannot be opened: another data directory's key, or a damaged state file. */
export class SecretUnreadableError extends PilotlightError {
  constructor(detail: string) {
    super(
      'SECRET_UNREADABLE',
      `a stored secret cannot be opened (${detail}): the data directory's secrets.key is not the one it was sealed with; deploy the function again with --secret`,
      500,
    );
  }
}

/**
 * Seals secrets for the state store with AES-256-GCM under a key kept apart from it, so the database (and its
 * backups) hold no secret in plain text.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('a secret key is 32 bytes');
  }

  seal(value: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return `${PREFIX}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string): string {
    if (!sealed.startsWith(PREFIX)) throw new SecretUnreadableError('not a sealed value');
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnreadableError('the key does not open it');
    }
  }
}
