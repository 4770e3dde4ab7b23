'use strict';
// Seed 000 "src/services/redis/redisClient.js": one Redis connection for the
// process (a singleton), from REDIS_URL. Errors are logged, never thrown at
// startup: "If Redis is unavailable, the app continues to work" (seed 000,
// "Error Handling").
const { createClient } = require('redis');

let client = null;
let ready = null;

function getRedisClient(url) {
  if (client) return client;
  client = createClient({ url: url || process.env.REDIS_URL || 'redis://127.0.0.1:6379' });
  client.on('error', (err) => console.error('[redis] error:', err.message));
  ready = client.connect().catch((err) => {
    console.error('[redis] connect failed:', err.message);
  });
  return client;
}

function redisReady() {
  return ready || Promise.resolve();
}

function isRedisAvailable() {
  return !!client && client.isReady;
}

module.exports = { getRedisClient, redisReady, isRedisAvailable };
