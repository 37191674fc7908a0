import { request } from 'node:http';
import { connect } from 'node:net';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A GET on a connection of its own. A request that kills its app must not ride a kept-alive connection:
 * there the edge (as HAProxy does for every request but a connection's first) closes the connection with no
 * answer, which tells the client it may retry, instead of answering 502.
 */
export function getOnOwnConnection(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One request line and headers written as they are, on a connection that closes after the answer; the answer as text. */
export function rawRequest(url: string, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.write(head.replace(/\r\n\r\n$/, '\r\nConnection: close\r\n\r\n'));
  });
}
