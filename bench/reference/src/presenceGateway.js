'use strict';
// Seed 004 (NestJS "messages.gateway.ts"), namespace /ws/messages: the
// presence events of its implementation summary. Seed 004 keeps presence in
// memory in the gateway ("In-memory storage (fast, but not persistent)"),
// so does this: a Map in this process, not Redis.
//
// Identity: seed 004 verifies a JWT from the CONNECT auth.token. The
// benchmark has no auth service: the user id is auth.userId, else
// auth.token itself, else ?userId= (like presenced's dev mode). No id ->
// connect error "Unauthorized".

function registerPresenceGateway(io) {
  const nsp = io.of('/ws/messages');
  const users = new Map(); // userId -> { sockets: Set, connectedAt, lastActive }

  const status = (userId) => {
    const u = users.get(userId);
    return u
      ? { userId, online: true, lastActive: u.lastActive, connectedAt: u.connectedAt }
      : { userId, online: false, lastActive: null, connectedAt: null };
  };
  const ok = (data) => ({ success: true, data });
  const ackFrom = (args) => {
    const last = args[args.length - 1];
    return typeof last === 'function' ? last : null;
  };

  nsp.use((socket, next) => {
    const auth = socket.handshake.auth || {};
    const id = auth.userId || auth.token || socket.handshake.query.userId;
    if (!id) return next(new Error('Unauthorized'));
    socket.data.userId = String(id);
    next();
  });

  nsp.on('connection', (socket) => {
    const userId = socket.data.userId;
    const now = new Date().toISOString();
    let u = users.get(userId);
    if (!u) {
      u = { sockets: new Set(), connectedAt: now, lastActive: now };
      users.set(userId, u);
      socket.broadcast.emit('user-online', { userId });
    }
    u.sockets.add(socket.id);
    u.lastActive = now;

    socket.on('check-user-status', (...args) => {
      const ack = ackFrom(args);
      const p = typeof args[0] === 'object' && args[0] ? args[0] : {};
      if (ack) ack(ok(status(String(p.userId))));
    });
    socket.on('check-users-status', (...args) => {
      const ack = ackFrom(args);
      const ids = args[0] && Array.isArray(args[0].userIds) ? args[0].userIds : [];
      if (ack) ack(ok({ statuses: ids.map((id) => status(String(id))) }));
    });
    socket.on('get-online-users', (...args) => {
      const ack = ackFrom(args);
      const list = [...users.keys()].map(status);
      if (ack) ack(ok({ users: list, count: list.length }));
    });
    socket.on('heartbeat', (...args) => {
      const ack = ackFrom(args);
      const t = new Date().toISOString();
      const cur = users.get(userId);
      if (cur) cur.lastActive = t;
      if (ack) ack(ok({ timestamp: t }));
    });
    socket.on('disconnect', () => {
      const cur = users.get(userId);
      if (!cur) return;
      cur.sockets.delete(socket.id);
      if (cur.sockets.size === 0) {
        users.delete(userId);
        socket.broadcast.emit('user-offline', { userId });
      }
    });
  });
}

module.exports = { registerPresenceGateway };
