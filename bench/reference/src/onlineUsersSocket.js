'use strict';
// Seed 000 "src/services/online-users/onlineUsersSocket.js": the Socket.IO
// event handlers on namespace "/".
//
// Client -> server: join_user, user_online (seed: "automatically sent on
// join_user": handled as join_user), get_online_users, check_user_online,
// user_activity. Server -> client: user_online, user_offline (to all but the
// user), online_users_list, user_online_status.
//
// Acknowledgements: the seed documents none. When a client passes an
// acknowledgement callback anyway, it is called once the seed's work for
// that event is done (Redis written, broadcasts sent). A client that passes
// none (every seed client) sees exactly the seed's behaviour. This lets the
// load generator time each operation the same way on both servers.
const svc = require('./onlineUsersService');

// IDs are strings everywhere (seed 001, fix 7 "Data Type Inconsistencies").
function userIdOf(arg) {
  if (arg == null) return null;
  if (typeof arg === 'object') arg = arg.userId;
  if (arg == null || arg === '') return null;
  return String(arg);
}

// Splits a handler's arguments into the payload and the acknowledgement
// callback (the last argument, when the client asked for one).
function split(args) {
  const last = args[args.length - 1];
  return typeof last === 'function' ? [args[0] === last ? undefined : args[0], last] : [args[0], null];
}

/**
 * The online_users_list broadcast. lists = 'each' (seed 000 as written:
 * after every join and every disconnect the full list goes to every
 * connected client, the joiner included) or 'window' (coalesced like
 * presenced's --sio-list-window: the joiner gets the list at once, everyone
 * at most once per windowMs while the list changes).
 */
function makeListBroadcaster(io, lists, windowMs) {
  let timer = null;
  async function broadcastNow() {
    const users = await svc.getOnlineUsers();
    io.emit('online_users_list', { users });
  }
  return {
    // After a join (socket = the joiner) or a disconnect (socket = null).
    async changed(socket) {
      if (lists === 'each') return broadcastNow();
      if (socket) socket.emit('online_users_list', { users: await svc.getOnlineUsers() });
      if (lists === 'window' && !timer) {
        timer = setTimeout(() => {
          timer = null;
          broadcastNow().catch((err) => console.error('[online-users] list broadcast failed:', err.message));
        }, windowMs);
        timer.unref();
      }
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

// Every handler's failure is logged, never left as an unhandled rejection
// (seed 000 l. 163: "Error messages are logged to console").
function on(socket, event, handler) {
  socket.on(event, (...args) =>
    Promise.resolve()
      .then(() => handler(...args))
      .catch((err) => console.error(`[online-users] ${event} failed:`, err.message))
  );
}

function registerOnlineUsersHandlers(io, socket, lists) {
  const join = async (...args) => {
    const [arg, ack] = split(args);
    const userId = userIdOf(arg);
    if (!userId) {
      if (ack) ack({ success: false, error: 'userId is required' });
      return;
    }
    socket.data.userId = userId;
    const profile = await svc.fetchUserProfile(userId);
    await svc.markUserOnline(userId, socket.id, profile);
    socket.broadcast.emit('user_online', { userId });
    await lists.changed(socket);
    if (ack) ack({ success: true, data: { userId, online: true } });
  };
  on(socket, 'join_user', join);
  on(socket, 'user_online', join);

  on(socket, 'user_activity', async (...args) => {
    const [arg, ack] = split(args);
    const userId = userIdOf(arg) || socket.data.userId;
    if (userId) await svc.refreshUserActivity(userId, socket.id);
    if (ack) ack({ success: true, data: { timestamp: new Date().toISOString() } });
  });

  on(socket, 'get_online_users', async (...args) => {
    const [, ack] = split(args);
    const users = await svc.getOnlineUsers();
    socket.emit('online_users_list', { users });
    if (ack) ack({ success: true, data: { users } });
  });

  on(socket, 'check_user_online', async (...args) => {
    const [arg, ack] = split(args);
    const userId = userIdOf(arg);
    if (!userId) {
      if (ack) ack({ success: false, error: 'userId is required' });
      return;
    }
    const online = await svc.isUserOnline(userId);
    socket.emit('user_online_status', { userId, online });
    if (ack) ack({ success: true, data: { userId, online } });
  });

  on(socket, 'disconnect', async () => {
    const userId = await svc.markUserOffline(socket.id);
    if (!userId) return;
    socket.broadcast.emit('user_offline', { userId });
    await lists.changed(null);
  });
}

module.exports = { registerOnlineUsersHandlers, makeListBroadcaster, userIdOf };
