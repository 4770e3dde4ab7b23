'use strict';
// Reference server for bench/compare.sh: seed 000's presence design (a
// Next.js app's "src/pages/api/socketio.js" with Socket.IO and Redis),
// reproduced as a plain Node process. One process, as in the seed. See
// README.md for what is reproduced and where choices were made.
//
//   NODE_ENV=production node server.js [--host 127.0.0.1] [--port 0]
//       [--path /api/socketio] [--redis-url redis://127.0.0.1:6379]
//       [--port-file F] [--lists each|window] [--list-window-ms 1000]
//       [--adapter redis|memory] [--ping-interval-ms 25000]
//       [--ping-timeout-ms 20000]
// Every flag has an environment variable: HOST, PORT, SIO_PATH, REDIS_URL,
// PORT_FILE, REF_LISTS, REF_LIST_WINDOW_MS, REF_ADAPTER, PING_INTERVAL_MS,
// PING_TIMEOUT_MS. Writes the bound port to the port file (line 1).
const fs = require('fs');
const http = require('http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { getRedisClient, redisReady } = require('./src/redisClient');
const svc = require('./src/onlineUsersService');
const { registerOnlineUsersHandlers, makeListBroadcaster } = require('./src/onlineUsersSocket');
const { registerPresenceGateway } = require('./src/presenceGateway');

function options(argv) {
  const o = {
    host: process.env.HOST || '127.0.0.1',
    port: Number(process.env.PORT || 3000),
    path: process.env.SIO_PATH || '/api/socketio',
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    portFile: process.env.PORT_FILE || '',
    lists: process.env.REF_LISTS || 'each',
    listWindowMs: Number(process.env.REF_LIST_WINDOW_MS || 1000),
    adapter: process.env.REF_ADAPTER || 'redis',
    pingInterval: Number(process.env.PING_INTERVAL_MS || 25000),
    pingTimeout: Number(process.env.PING_TIMEOUT_MS || 20000),
  };
  const flags = {
    '--host': (v) => (o.host = v),
    '--port': (v) => (o.port = Number(v)),
    '--path': (v) => (o.path = v),
    '--redis-url': (v) => (o.redisUrl = v),
    '--port-file': (v) => (o.portFile = v),
    '--lists': (v) => (o.lists = v),
    '--list-window-ms': (v) => (o.listWindowMs = Number(v)),
    '--adapter': (v) => (o.adapter = v),
    '--ping-interval-ms': (v) => (o.pingInterval = Number(v)),
    '--ping-timeout-ms': (v) => (o.pingTimeout = Number(v)),
  };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split(/=(.*)/s);
    const f = flags[k];
    if (!f) throw new Error(`unknown argument ${argv[i]}`);
    f(inline !== undefined ? inline : argv[++i]);
  }
  if (!['each', 'window'].includes(o.lists)) throw new Error('--lists is each or window');
  if (!['redis', 'memory'].includes(o.adapter)) throw new Error('--adapter is redis or memory');
  // Socket.IO matches "<path>/": both spellings name the same endpoint.
  o.path = '/' + o.path.replace(/^\/+|\/+$/g, '');
  return o;
}

// Seed 000 "src/app/api/online-users/route.js": GET /api/online-users
// [?excludeUserId=][&countOnly=true].
async function onlineUsersRoute(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const send = (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method !== 'GET' || url.pathname.replace(/\/+$/, '') !== '/api/online-users') {
    return send(404, { success: false, error: 'Not found' });
  }
  const timestamp = new Date().toISOString();
  if (url.searchParams.get('countOnly') === 'true') {
    return send(200, { success: true, count: await svc.getOnlineCount(), timestamp });
  }
  const data = await svc.getOnlineUsers(url.searchParams.get('excludeUserId') || undefined);
  return send(200, { success: true, data, count: data.length, timestamp });
}

async function main() {
  const o = options(process.argv.slice(2));
  const redis = getRedisClient(o.redisUrl);
  await redisReady();

  const httpServer = http.createServer((req, res) => {
    onlineUsersRoute(req, res).catch((err) => {
      console.error('[http] error:', err.message);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const io = new Server(httpServer, {
    path: o.path,
    serveClient: false,
    pingInterval: o.pingInterval,
    pingTimeout: o.pingTimeout,
  });

  if (o.adapter === 'redis') {
    // Two more connections: the adapter's publisher and subscriber.
    const pub = redis.duplicate();
    const sub = redis.duplicate();
    pub.on('error', (err) => console.error('[redis-adapter] pub error:', err.message));
    sub.on('error', (err) => console.error('[redis-adapter] sub error:', err.message));
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }

  const lists = makeListBroadcaster(io, o.lists, o.listWindowMs);
  io.on('connection', (socket) => registerOnlineUsersHandlers(io, socket, lists));
  registerPresenceGateway(io);

  await new Promise((resolve) => httpServer.listen(o.port, o.host, resolve));
  const port = httpServer.address().port;
  if (o.portFile) fs.writeFileSync(o.portFile, `${port}\n`);
  console.error(
    `reference: listening on ${o.host}:${port} path ${o.path}/ (lists=${o.lists}, adapter=${o.adapter}, ` +
      `ping ${o.pingInterval}/${o.pingTimeout} ms, NODE_ENV=${process.env.NODE_ENV || ''}, pid ${process.pid})`
  );

  // Stop: close the sockets (their disconnect handlers still run against
  // Redis), then exit; the Redis connections close with the process.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    lists.stop();
    io.close(() => setTimeout(() => process.exit(0), 200));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error('reference: ' + err.message);
  process.exit(1);
});
