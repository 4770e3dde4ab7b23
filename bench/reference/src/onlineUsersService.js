'use strict';
// Seed 000 "src/services/online-users/onlineUsersService.js": the Redis
// operations. Keys (seed 000, "Redis Keys Structure"):
//   online:user:socket:{userId}   -> socketId          (TTL 1 hour)
//   online:socket:user:{socketId} -> userId            (TTL 1 hour)
//   online:presence:{userId}      -> user data (JSON)  (TTL 1 hour)
//   online:users:set              -> set of online user ids (no TTL)
const { getRedisClient, isRedisAvailable } = require('./redisClient');

const TTL_SECONDS = 60 * 60; // "1-hour TTL"
const K = {
  userSocket: (userId) => `online:user:socket:${userId}`,
  socketUser: (socketId) => `online:socket:user:${socketId}`,
  presence: (userId) => `online:presence:${userId}`,
  set: 'online:users:set',
};

// "Fetches user profile from database": the benchmark has no user database,
// so every user gets the fallback profile, exactly as presenced does for a
// user without a stored profile (name and username = the id, no email, no
// avatar). No I/O, no cost on either side.
async function fetchUserProfile(userId) {
  return { id: userId, name: userId, username: userId, email: null, avatar: null };
}

function toListEntry(data) {
  return {
    id: data.id,
    name: data.name,
    username: data.username,
    email: data.email,
    avatar: data.avatar,
    status: data.status || 'online',
  };
}

/** Marks the user online: both socket mappings, the presence JSON, the set. */
async function markUserOnline(userId, socketId, profile) {
  if (!isRedisAvailable()) return false;
  const now = new Date().toISOString();
  const data = { ...profile, id: userId, socketId, status: 'online', connectedAt: now, lastActivity: now };
  try {
    await getRedisClient()
      .multi()
      .set(K.userSocket(userId), socketId, { EX: TTL_SECONDS })
      .set(K.socketUser(socketId), userId, { EX: TTL_SECONDS })
      .set(K.presence(userId), JSON.stringify(data), { EX: TTL_SECONDS })
      .sAdd(K.set, userId)
      .exec();
    return true;
  } catch (err) {
    console.error('[online-users] markUserOnline failed:', err.message);
    return false;
  }
}

/** Removes the user behind this socket; returns its userId or null. */
async function markUserOffline(socketId) {
  if (!isRedisAvailable()) return null;
  try {
    const redis = getRedisClient();
    const userId = await redis.get(K.socketUser(socketId));
    if (!userId) return null;
    await redis
      .multi()
      .del(K.userSocket(userId))
      .del(K.socketUser(socketId))
      .del(K.presence(userId))
      .sRem(K.set, userId)
      .exec();
    return userId;
  } catch (err) {
    console.error('[online-users] markUserOffline failed:', err.message);
    return null;
  }
}

/** user_activity: "Refreshes TTL in Redis (extends online status)". */
async function refreshUserActivity(userId, socketId) {
  if (!isRedisAvailable()) return false;
  try {
    const m = getRedisClient()
      .multi()
      .expire(K.userSocket(userId), TTL_SECONDS)
      .expire(K.presence(userId), TTL_SECONDS);
    if (socketId) m.expire(K.socketUser(socketId), TTL_SECONDS);
    await m.exec();
    return true;
  } catch (err) {
    console.error('[online-users] refreshUserActivity failed:', err.message);
    return false;
  }
}

/**
 * The online users with their profile data: the set's members, their
 * presence JSON in one batched MGET ("Database queries are batched"), and
 * members whose presence key expired are dropped from the set ("Automatic
 * Cleanup: Expired sessions are automatically removed").
 */
async function getOnlineUsers(excludeUserId) {
  if (!isRedisAvailable()) return [];
  try {
    const redis = getRedisClient();
    const ids = await redis.sMembers(K.set);
    if (ids.length === 0) return [];
    const values = await redis.mGet(ids.map(K.presence));
    const users = [];
    const stale = [];
    for (let i = 0; i < ids.length; i++) {
      if (values[i] == null) {
        stale.push(ids[i]);
        continue;
      }
      if (excludeUserId && ids[i] === excludeUserId) continue;
      users.push(toListEntry(JSON.parse(values[i])));
    }
    if (stale.length) await redis.sRem(K.set, stale);
    return users;
  } catch (err) {
    console.error('[online-users] getOnlineUsers failed:', err.message);
    return [];
  }
}

async function getOnlineCount() {
  if (!isRedisAvailable()) return 0;
  try {
    return await getRedisClient().sCard(K.set);
  } catch (err) {
    console.error('[online-users] getOnlineCount failed:', err.message);
    return 0;
  }
}

/** "Set-based storage for efficient online user lookups". */
async function isUserOnline(userId) {
  if (!isRedisAvailable()) return false;
  try {
    return await getRedisClient().sIsMember(K.set, userId);
  } catch (err) {
    console.error('[online-users] isUserOnline failed:', err.message);
    return false;
  }
}

module.exports = {
  TTL_SECONDS,
  keys: K,
  fetchUserProfile,
  markUserOnline,
  markUserOffline,
  refreshUserActivity,
  getOnlineUsers,
  getOnlineCount,
  isUserOnline,
};
