#!/usr/bin/env node
// Generates vectors.json: the bytes that the real @socket.io/redis-adapter 8.3.0 and
// @socket.io/redis-emitter 5.1.0 publish (notepack.io 3.0.1 msgpack and JSON), captured with
// stand-in Redis clients, and what a Node server would send its clients for each of them.
//
//   (cd tools/peers/node && npm ci) && node loop/cluster/testdata/gen.js > loop/cluster/testdata/vectors.json
//
// Every broadcast vector holds the published message (hex), the channel, the uid, the target
// (nsp, rooms, except, volatile) and the event as sioloop's loop.Broadcast holds it: the event
// name, the arguments as JSON list content with {"_placeholder":true,"num":N} for binary values
// (socket.io-parser's deconstructPacket, so exactly what a Node server writes to its clients),
// and the attachments (hex). "encode" says whether the arguments survive JSON: then sioloop's
// encoder must reproduce the bytes exactly.
"use strict";

const path = require("node:path");
const { createRequire } = require("node:module");
const { EventEmitter } = require("node:events");

const peer = path.join(__dirname, "..", "..", "..", "tools", "peers", "node", "package.json");
const req = createRequire(peer);
const { Server } = req("socket.io");
const { createAdapter } = req("@socket.io/redis-adapter");
const { Emitter } = req("@socket.io/redis-emitter");
const msgpack = req("notepack.io");
const { deconstructPacket } = createRequire(req.resolve("socket.io-parser"))("./binary.js");

// StandIn is enough of an ioredis client for the adapter and the emitter: it records what is
// published and answers PUBSUB NUMSUB with 3 servers.
class StandIn extends EventEmitter {
  constructor() {
    super();
    this.published = [];
  }
  publish(channel, msg) {
    this.published.push([channel, Buffer.isBuffer(msg) ? msg : Buffer.from(msg)]);
    return Promise.resolve(1);
  }
  psubscribe() {}
  punsubscribe() {}
  subscribe() {}
  unsubscribe() {}
  send_command(cmd, args, cb) {
    cb(null, [args[1], 3]);
  }
  take() {
    const p = this.published;
    this.published = [];
    return p;
  }
}

const hex = (b) => Buffer.from(b).toString("hex");

// asLoop turns [event, ...args] into what loop.Broadcast holds.
function asLoop(data) {
  const { packet, buffers } = deconstructPacket({ type: 2, data, nsp: "/" });
  const json = JSON.stringify(packet.data);
  const ev = JSON.stringify(packet.data[0]);
  let args = json.slice(1 + ev.length, -1);
  if (args.startsWith(",")) args = args.slice(1);
  return { event: packet.data[0], args, attachments: buffers.map(hex) };
}

const pub = new StandIn();
const sub = new StandIn();
const io = new Server({ adapter: createAdapter(pub, sub) });
io.of("/chat");

const buf = (s) => Buffer.from(s);
const big = "x".repeat(300);

// [name, nsp, rooms, except, volatile, args, encode]
const cases = [
  ["no args", "/", [], [], false, [], true],
  ["string", "/", [], [], false, ["hello"], true],
  ["object", "/", [], [], false, [{ a: 1, b: "two", c: [true, false, null] }], true],
  ["key order kept", "/", [], [], false, [{ z: 1, a: 2, m: { y: 1, b: 2 } }], true],
  ["numbers", "/", [], [], false, [0, 1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, 9007199254740991, -9007199254740991], true],
  ["floats", "/", [], [], false, [1.5, -0.25, 3.141592653589793, 1e-7, 5e-324, 0.1, 123456.789, 2.5e-10], true],
  // notepack.io writes an integral number from 2^64 up as uint 64 of garbage bits: decode only.
  ["huge integral floats", "/", [], [], false, [1e21, 1.7976931348623157e308, -1e300], false],
  ["unicode", "/", [], [], false, ["héllo wörld", "日本語", "emoji 😀", "\u2028\u2029", "tab\tnl\nquote\"bs\\", "\u0001\u001f"], true],
  ["long strings", "/", [], [], false, [big, "y".repeat(40)], true],
  ["long array", "/", [], [], false, [Array.from({ length: 20 }, (_, i) => i)], true],
  ["big object", "/", [], [], false, [Object.fromEntries(Array.from({ length: 17 }, (_, i) => ["k" + i, i]))], true],
  ["binary", "/", [], [], false, [buf("\x00\x01\x02\xff")], true],
  ["binary nested", "/", [], [], false, ["a", { file: buf("abc"), list: [buf(""), 1, buf("z")] }], true],
  ["binary large", "/", [], [], false, [Buffer.alloc(300, 7), Buffer.alloc(40, 9)], true],
  ["one room", "/", ["room1"], [], false, ["x"], true],
  ["two rooms", "/", ["a", "b"], [], false, ["x"], true],
  ["except", "/", [], ["c", "d"], false, ["x"], true],
  ["rooms and except", "/", ["a"], ["b"], false, [1], true],
  ["volatile", "/", [], [], true, ["v"], true],
  ["namespace", "/chat", ["r"], [], false, [{ hi: "there" }], true],
  ["socket id room", "/", ["AbCdEfGhIjKlMnOpQrSt"], [], false, ["direct"], true],
  // Decode only: values that JSON does not carry as they are.
  ["date", "/", [], [], false, [new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), new Date(0), new Date(Date.UTC(2106, 1, 7, 6, 28, 16))], false],
  ["integral float", "/", [], [], false, [1.0, -0.0, 2e3], true],
  ["undefined in array", "/", [], [], false, [[1, undefined, 3]], false],
  ["typed arrays", "/", [], [], false, [new Uint8Array([1, 2, 3]), new Uint16Array([1, 256]).buffer], false],
  ["lone surrogate", "/", [], [], false, ["a\ud800b"], false],
];

const vectors = { broadcasts: [], requests: [], acks: [] };

for (const [name, nsp, rooms, except, volatile, args, encode] of cases) {
  let op = io.of(nsp);
  if (rooms.length) op = op.to(rooms);
  if (except.length) op = op.except(except);
  if (volatile) op = op.volatile;
  op.emit("ev", ...args);
  const [[channel, msg]] = pub.take();
  // What a receiving Node server sends its clients: the decoded data, deconstructed.
  const [uid, packet] = msgpack.decode(msg);
  vectors.broadcasts.push({
    name: "adapter " + name, source: "adapter", channel, uid, msg: hex(msg),
    nsp, rooms, except, volatile, ...asLoop(packet.data), encode,
  });
}

// The emitter: same channel layout, uid "emitter", flags in another key order.
const emitterClient = new StandIn();
const emitter = new Emitter(emitterClient);
const ecases = [
  ["emit", "/", (e) => e.emit("news", { title: "t" }, 2), [], [], false],
  ["to room", "/", (e) => e.to("room1").emit("news", "x"), ["room1"], [], false],
  ["to rooms except volatile", "/", (e) => e.to(["a", "b"]).except("c").volatile.emit("n", 1), ["a", "b"], ["c"], true],
  ["binary", "/", (e) => e.emit("bin", buf("\x01\x02"), { f: buf("x") }), [], [], false],
  ["namespace", "/chat", (e) => e.of("/chat").emit("c", null), [], [], false],
];
for (const [name, nsp, fn, rooms, except, volatile] of ecases) {
  fn(emitter);
  const [[channel, msg]] = emitterClient.take();
  const data = msgpack.decode(msg)[1].data;
  vectors.broadcasts.push({
    name: "emitter " + name, source: "emitter", channel, uid: "emitter", msg: hex(msg),
    nsp, rooms, except, volatile, ...asLoop(data), encode: false,
  });
}

// Requests. JSON ones are recorded as text; the msgpack BROADCAST request with its JSON form
// (binary values as placeholders), as sioloop converts it.
function pushRequest(name, channel, msg) {
  let want;
  let attachments = [];
  if (msg[0] === 0x7b) {
    want = JSON.parse(msg.toString());
  } else {
    const obj = msgpack.decode(msg);
    const { packet, buffers } = deconstructPacket({ type: 2, data: obj, nsp: "/" });
    want = packet.data;
    attachments = buffers.map(hex);
  }
  vectors.requests.push({ name, channel, msg: hex(msg), json: msg[0] === 0x7b, want, attachments });
}

emitter.to("a").except("b").socketsJoin(["r1", "r2"]);
emitter.socketsLeave("r1");
emitter.in("r").disconnectSockets(true);
emitter.serverSideEmit("hello", { a: 1 }, "two");
for (const [channel, msg] of emitterClient.take()) pushRequest("emitter request " + JSON.parse(msg).type, channel, msg);

async function adapterRequests() {
  const nsp = io.of("/");
  nsp.in("a").socketsJoin("r1");
  nsp.in("a").except("b").socketsLeave(["r1", "r2"]);
  nsp.in("x").disconnectSockets(true);
  nsp.serverSideEmit("ping", 1, { b: 2 });
  for (const [channel, msg] of pub.take()) pushRequest("adapter request " + JSON.parse(msg).type, channel, msg);

  // Requests that wait for answers: captured, then left to time out (short timeout below).
  nsp.adapter.requestsTimeout = 1;
  const pending = [
    nsp.in("room").except("no").fetchSockets().catch(() => {}),
    nsp.adapter.allRooms().catch(() => {}),
  ];
  nsp.serverSideEmit("withAck", "arg", () => {});
  await new Promise((r) => setImmediate(r));
  await Promise.all(pending);
  await new Promise((r) => setTimeout(r, 5));
  for (const [channel, msg] of pub.take()) pushRequest("adapter request " + JSON.parse(msg).type, channel, msg);

  io.timeout(5000).to("r").except("e").emit("ask", "q", buf("\x09"), () => {});
  await new Promise((r) => setImmediate(r));
  const [[channel, msg]] = pub.take();
  pushRequest("adapter request 7", channel, msg);
  const obj = msgpack.decode(msg);
  vectors.broadcastRequest = {
    channel, msg: hex(msg), uid: obj.uid, requestId: obj.requestId, timeout: 5000,
    nsp: "/", rooms: ["r"], except: ["e"], ...asLoop(["ask", "q", buf("\x09")]),
  };

  // BROADCAST_ACK responses, as RedisAdapter.onrequest writes them:
  // this.parser.encode({type: 9, requestId, packet: arg}).
  for (const value of ["ok", 42, { a: [1, 2.5] }, null, [true, "x"]]) {
    const msg = msgpack.encode({ type: 9, requestId: "AbCdEf", packet: value });
    vectors.acks.push({ requestId: "AbCdEf", value: JSON.stringify(value), msg: hex(msg) });
  }
}

adapterRequests().then(() => {
  process.stdout.write(JSON.stringify(vectors, null, 1) + "\n");
  io.close();
  process.exit(0);
});
