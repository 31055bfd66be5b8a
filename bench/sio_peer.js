// The Node peer for bench/realtime.py fanout: a Socket.IO 4 server with rooms and no storage, under
// the same workload as the chat server and the bare relay (bench/ceiling.py). WebSocket transport
// only (no long-polling, no per-message deflate), one process, the in-memory adapter (no cluster).
// Each socket joins the room named in its handshake query (?room=…&user=…); a "message:send" event
// is broadcast once encoded to the others in its room and acknowledged to the sender, as the chat
// server answers each send.
//
//     node bench/sio_peer.js --port 9001
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const at = process.argv.indexOf("--port");
const port = at > 0 ? +process.argv[at + 1] : 9001;

const server = http.createServer();  // Node's HTTP server sets TCP_NODELAY, as the relay does
const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, httpCompression: false,
  serveClient: false, maxHttpBufferSize: 65536 });  // the relay's websocket_max_message_size

io.on("connection", (socket) => {
  const { room, user } = socket.handshake.query;
  socket.data.user = user;
  socket.join(room);
  socket.on("message:send", (data, ack) => {
    socket.to(data.conversationId).emit("message:new", data);
    if (typeof ack === "function") ack({ ok: true });
  });
});

// the chat server's listen queue, as the relay does
server.listen(port, "127.0.0.1", 4096);
process.on("SIGTERM", () => {
  io.close();  // disconnects every socket
  process.exit(0);
});
