'use strict';
// A plain Express app: it knows nothing about functions or containers beyond PORT.
const express = require('express');

const port = Number(process.env.PORT || 3000);
const startupDelayMs = Number(process.env.STARTUP_DELAY_MS || 0);
const app = express();

// A warm-up an initializer can call (POST /warm-up): it takes WARMUP_MS, then leaves a marker file. GET
// /warm-up says how often it ran and whether it was done before the first other request (readiness probes,
// which say so in their User-Agent, aside) arrived.
const warmUpMs = Number(process.env.WARMUP_MS || 500);
const warmUp = { runs: 0, doneAt: null, firstRequestAt: null, doneBeforeFirstRequest: null };
app.use((req, res, next) => {
  const probe = (req.get('user-agent') || '').startsWith('pilotlight-probe');
  if (req.path !== '/warm-up' && !probe && warmUp.firstRequestAt === null) {
    warmUp.firstRequestAt = Date.now();
    warmUp.doneBeforeFirstRequest = warmUp.doneAt !== null;
  }
  next();
});
app.post('/warm-up', (req, res) => {
  if (process.env.WARMUP_FAIL) {
    console.error(`warm-up failed: ${process.env.WARMUP_FAIL}`);
    return res.status(500).type('text/plain').send(`warm-up failed: ${process.env.WARMUP_FAIL}\n`);
  }
  setTimeout(() => {
    warmUp.runs += 1;
    warmUp.doneAt = Date.now();
    require('fs').writeFileSync('/tmp/warmed-up', String(warmUp.runs));
    res.type('text/plain').send(`warmed up in ${warmUpMs} ms\n`);
  }, warmUpMs);
});
app.get('/warm-up', (req, res) => {
  res.json({ ...warmUp, marker: require('fs').existsSync('/tmp/warmed-up') });
});

app.get('/', (req, res) => {
  res.type('text/plain').send('hello from express\n');
});

app.post('/echo', (req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    res.set('content-type', req.get('content-type') || 'application/octet-stream');
    res.end(Buffer.concat(chunks));
  });
});

// Requests in /slow at once, and the most there ever were (GET /peak; POST /peak resets it).
const slow = { inflight: 0, peak: 0 };
app.get('/slow', (req, res) => {
  const ms = Number(req.query.ms || 1000);
  slow.inflight += 1;
  slow.peak = Math.max(slow.peak, slow.inflight);
  setTimeout(() => {
    slow.inflight -= 1;
    res.type('text/plain').send(`slept ${ms} ms\n`);
  }, ms);
});
app.get('/peak', (req, res) => res.json(slow));
app.post('/peak', (req, res) => {
  slow.peak = slow.inflight;
  res.json(slow);
});

app.get('/headers', (req, res) => {
  res.json({ url: req.originalUrl, headers: req.headers });
});

app.get('/stream', (req, res) => {
  const count = Number(req.query.count || 5);
  const intervalMs = Number(req.query.interval || 100);
  res.set('content-type', 'text/plain');
  let sent = 0;
  const timer = setInterval(() => {
    res.write(`chunk ${sent}\n`);
    sent += 1;
    if (sent === count) {
      clearInterval(timer);
      res.end();
    }
  }, intervalMs);
  req.on('close', () => clearInterval(timer));
});

app.get('/env', (req, res) => {
  res.json(process.env);
});

app.all('/crash', (req, res) => {
  console.error('crashing on request');
  process.exit(3);
});

// Blocks the event loop for good, as an endless loop in a handler does: connections are taken, nothing answers.
app.all('/hang', () => {
  console.error('hanging on request');
  for (;;);
});

// Allocates memory (and touches it) until the kernel's OOM killer stops it at the container's limit.
app.get('/oom', (req, res) => {
  console.error('allocating until killed');
  const hoard = [];
  const grow = () => {
    hoard.push(Buffer.alloc(16 * 1024 * 1024, 1));
    setImmediate(grow);
  };
  grow();
});

// A fork bomb: a shell that forks itself without end, until the container's pids limit stops it.
app.post('/fork-bomb', (req, res) => {
  console.error('fork bomb');
  require('node:child_process')
    .spawn('sh', ['-c', 'bomb() { bomb | bomb & }; bomb'], { stdio: 'ignore', detached: true })
    .unref();
  res.json({ started: true });
});

// Writes ?mb= megabytes a second (default 100) of log lines to stdout, for ?seconds= (default 5).
app.post('/log-flood', (req, res) => {
  const mbPerSecond = Number(req.query.mb || 100);
  const until = Date.now() + Number(req.query.seconds || 5) * 1000;
  const line = `${'x'.repeat(1023)}\n`;
  const chunk = line.repeat(1024); // 1 MB
  let written = 0;
  const tick = () => {
    for (let i = 0; i < mbPerSecond / 10; i++) process.stdout.write(chunk);
    written += mbPerSecond / 10;
    if (Date.now() < until) setTimeout(tick, 100);
  };
  tick();
  res.json({ mbPerSecond, seconds: Number(req.query.seconds || 5) });
});

// Fills ?path= (default /tmp) with 1 MB files until a write fails; says how far it got and how it failed.
app.post('/fill', (req, res) => {
  const fs = require('node:fs');
  const dir = req.query.path || '/tmp';
  const block = Buffer.alloc(1024 * 1024, 1);
  let bytes = 0;
  try {
    for (let i = 0; ; i++) {
      fs.writeFileSync(`${dir}/fill-${process.pid}-${i}`, block);
      bytes += block.length;
    }
  } catch (error) {
    res.json({ bytes, code: error.code });
  }
});

// A WebSocket echo at /ws: every message comes back prefixed with "echo: ".
function acceptWebSockets(server) {
  const { WebSocketServer } = require('ws');
  const sockets = new WebSocketServer({ server, path: '/ws' });
  sockets.on('connection', (socket) => {
    socket.on('message', (data) => socket.send(`echo: ${data}`));
  });
}

// HOST=127.0.0.1 makes it listen on loopback only, as some apps do.
setTimeout(() => {
  const host = process.env.HOST || undefined;
  const server = app.listen(port, host, () =>
    console.log(`express sample listening on ${host ? `${host}:` : ''}${port}`),
  );
  acceptWebSockets(server);
}, startupDelayMs);
