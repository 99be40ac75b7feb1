// adminui.js: the clients of TestAdminUI. It connects --count
// socket.io-client clients to the servers of --url (comma separated, in
// turn), each subscribing to the room room-<i % 4>, prints "ready" with
// their socket ids as JSON ({id: url}) once all are in their rooms, then
// one line per client the server disconnects: "disconnect <id> <reason>".
// It exits after --timeout seconds.
"use strict";
const { io } = require("socket.io-client");

const arg = (name, def) => {
  const i = process.argv.indexOf("--" + name);
  return i > 0 ? process.argv[i + 1] : def;
};
const urls = arg("url").split(",");
const count = Number(arg("count", "20"));
const timeout = Number(arg("timeout", "60"));

setTimeout(() => process.exit(0), timeout * 1000).unref();

(async () => {
  const ids = {};
  for (let i = 0; i < count; i++) {
    const url = urls[i % urls.length];
    const s = io(url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    await new Promise((resolve, reject) => {
      s.once("connect", resolve);
      s.once("connect_error", reject);
    });
    const rooms = await s.timeout(5000).emitWithAck("subscribe", "room-" + (i % 4));
    if (!Array.isArray(rooms) || !rooms.includes("room-" + (i % 4))) throw new Error("subscribe acked " + JSON.stringify(rooms));
    const id = s.id; // s.id is undefined once disconnected
    s.on("disconnect", (reason) => console.log("disconnect " + id + " " + reason));
    ids[id] = url;
  }
  console.log("ready " + JSON.stringify(ids));
  setInterval(() => {}, 1000);
})().catch((e) => {
  console.log("FAIL " + e.message);
  process.exit(1);
});
