// A socket.io client in its own process, for tests that kill or freeze it:
//   node sio_child.mjs URL USER TRANSPORT
// Prints "joined" once the server knows the user.
import { io } from 'socket.io-client';

const [url, user, transport] = process.argv.slice(2);
const socket = io(`${url}/ws/messages`, {
  auth: { userId: user }, transports: [transport], reconnection: false,
});
socket.on('connect', () => {
  socket.emit('check-user-status', { userId: user }, () => process.stdout.write('joined\n'));
});
socket.on('connect_error', e => { console.error(e.message); process.exit(1); });
