import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SOCKET } from '../../engine/docker-endpoint.js';

/**
 * A pass-through in front of the engine's socket that can hold back or cut its event streams, as a lost
 * event or an engine restart would, while every other call goes through untouched.
 */
export interface EngineProxy {
  /** DOCKER_HOST for a runner that should talk to the engine through this proxy. */
  dockerHost: string;
  /** Event streams opened so far (a reconnect opens another). */
  eventStreamsOpened(): number;
  /** Events are kept back from now on (the stream stays open, silent). */
  holdEvents(): void;
  /** Kept-back events are delivered, and later ones flow again. */
  releaseEvents(): void;
  /** Every open event stream is cut, as when the engine restarts. */
  cutEvents(): void;
  close(): Promise<void>;
}

const EVENTS_REQUEST = /^GET \/(v[\d.]+\/)?events/;

export async function startEngineProxy(target = DEFAULT_SOCKET): Promise<EngineProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'pilotlight-engine-proxy-'));
  const socketPath = join(dir, 'docker.sock');
  const eventStreams = new Set<{ client: Socket; engine: Socket; held: Buffer[]; answered: boolean }>();
  const all = new Set<Socket>();
  let opened = 0;
  let holding = false;

  const server = createServer((client) => {
    all.add(client);
    const engine = connect(target);
    all.add(engine);
    const stream = { client, engine, held: [] as Buffer[], answered: false };
    // Connections are kept alive and reused: a connection carries an event stream from its request on.
    client.on('data', (chunk: Buffer) => {
      if (!eventStreams.has(stream) && EVENTS_REQUEST.test(chunk.toString('latin1', 0, 64))) {
        opened += 1;
        eventStreams.add(stream);
      }
      engine.write(chunk);
    });
    engine.on('data', (chunk: Buffer) => {
      // The answer's head always passes, so the stream counts as open: only the events in it are kept back.
      if (holding && eventStreams.has(stream) && stream.answered) stream.held.push(chunk);
      else client.write(chunk);
      if (eventStreams.has(stream)) stream.answered = true;
    });
    engine.on('end', () => client.end());
    client.on('end', () => engine.end());
    const close = (): void => {
      eventStreams.delete(stream);
      client.destroy();
      engine.destroy();
    };
    for (const socket of [client, engine]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  });
  server.listen(socketPath);
  await once(server, 'listening');

  return {
    dockerHost: `unix://${socketPath}`,
    eventStreamsOpened: () => opened,
    holdEvents: () => {
      holding = true;
    },
    releaseEvents: () => {
      holding = false;
      for (const stream of eventStreams) {
        for (const chunk of stream.held.splice(0)) stream.client.write(chunk);
      }
    },
    cutEvents: () => {
      for (const stream of [...eventStreams]) {
        stream.client.destroy();
        stream.engine.destroy();
      }
    },
    close: async () => {
      server.close();
      for (const socket of all) socket.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
