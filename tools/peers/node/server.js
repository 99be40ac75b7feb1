#!/usr/bin/env node
// Node reference peer for sioloop.
//
// One HTTP server on PORT (default 3000) serves:
//
//   /engine.io/            a bare Engine.IO v4 server (the `engine.io` package) that echoes
//                          every message back on the same socket, text and binary, nothing else.
//   /socket.io/            a socket.io 4.8 server with the sioloop application behaviour:
//                          `message` echo (+ ack), `subscribe` / `unsubscribe` rooms, namespaces
//                          from NAMESPACES, optional JWT auth (JWT_SECRET).
//   POST /SendWebsocketEvent  the admin emit route of sioloop (JSON in, JSON out).
//   GET  /sockets          fetchSockets() of ?namespace= (default "/"), ?room= (repeatable):
//                          {"sockets":[{"id","namespace","rooms","address","userId"}],"count":N}
//   GET  /health           {"status":"healthy",...} (+ "redis":"up"|"down" with REDIS_URL)
//   GET  /                 {"status":"ok","service":"node-peer","connectedClients":N}
//
// Environment (all optional):
//
//   PORT            listening port (default 3000); HOST the address (default 127.0.0.1).
//   PING_INTERVAL   Engine.IO pingInterval in milliseconds (default 25000), both servers.
//   PING_TIMEOUT    Engine.IO pingTimeout in milliseconds (default 20000), both servers.
//   MAX_PAYLOAD     Engine.IO maxHttpBufferSize in bytes (default 1000000), both servers.
//                   It is also the WebSocket message limit (ws closes with 1009 above it).
//   NAMESPACES      extra Socket.IO namespaces, comma separated, `*` is a glob
//                   (e.g. "/custom,/org-*"). "/" always exists.
//   CONNECTION_STATE_RECOVERY  connectionStateRecovery.maxDisconnectionDuration in ms (the
//                   middlewares run again on recovery, as sioloop's do); unset or 0: off.
//   JWT_SECRET      when set, CONNECT auth.token must be a valid HS256 JWT signed with it.
//   ADMIN_MAX_BODY  largest POST /SendWebsocketEvent body in bytes (default 1048576).
//   REDIS_URL       when set, the socket.io server joins a cluster through
//                   @socket.io/redis-adapter 8 (classic pub/sub, redis@4 clients), the adapter
//                   sioloop's REDIS_URL speaks to; GET /sockets then lists the sockets of every
//                   server (fetchSockets()). REDIS_KEY is the channel prefix (default "socket.io"),
//                   REDIS_REQUEST_TIMEOUT the adapter's requestsTimeout in ms (default 5000).
//                   With REDIS_ADAPTER=streams it uses @socket.io/redis-streams-adapter 0.3
//                   instead (stream REDIS_STREAM_NAME, default "socket.io"; REDIS_KEY is its
//                   channelPrefix), as sioloop's REDIS_ADAPTER=streams. With REDIS_ADAPTER=sharded
//                   it uses createShardedAdapter of @socket.io/redis-adapter 8.3 (Redis 7 sharded
//                   pub/sub; REDIS_KEY is its channelPrefix, REDIS_SUBSCRIPTION_MODE its
//                   subscriptionMode: static, dynamic (default) or dynamic-private), as sioloop's
//                   REDIS_ADAPTER=sharded.
//   REDIS_CLUSTER_ADDRS  instead of REDIS_URL, with REDIS_ADAPTER=sharded: host:port of some nodes
//                   of a Redis Cluster (node-redis createCluster), as sioloop's REDIS_CLUSTER_ADDRS.
//
// This file is the behavioural reference the Go server is tested against
// (tools/interop). Keep it small and obvious.
"use strict";

const http = require("node:http");
const engine = require("engine.io");
const { Server } = require("socket.io");
const jwt = require("jsonwebtoken");

// ---------------------------------------------------------------- configuration

function intEnv(name, def) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`invalid ${name} ${JSON.stringify(raw)}: want a non-negative integer`);
    process.exit(2);
  }
  return n;
}

const PORT = intEnv("PORT", 3000);
const HOST = process.env.HOST || "127.0.0.1";
const PING_INTERVAL = intEnv("PING_INTERVAL", 25000);
const PING_TIMEOUT = intEnv("PING_TIMEOUT", 20000);
const MAX_PAYLOAD = intEnv("MAX_PAYLOAD", 1000000);
const ADMIN_MAX_BODY = intEnv("ADMIN_MAX_BODY", 1 << 20);
const JWT_SECRET = process.env.JWT_SECRET || "";
const REDIS_URL = process.env.REDIS_URL || "";
const REDIS_CLUSTER_ADDRS = (process.env.REDIS_CLUSTER_ADDRS || "").split(",").map((s) => s.trim()).filter(Boolean);
// connectionStateRecovery.maxDisconnectionDuration in milliseconds; 0 (default): off.
const CONNECTION_STATE_RECOVERY = intEnv("CONNECTION_STATE_RECOVERY", 0);
const REDIS_KEY = process.env.REDIS_KEY || "socket.io";
const REDIS_REQUEST_TIMEOUT = intEnv("REDIS_REQUEST_TIMEOUT", 5000);
const REDIS_ADAPTER = process.env.REDIS_ADAPTER || "pubsub";
const REDIS_STREAM_NAME = process.env.REDIS_STREAM_NAME || "socket.io";
// createShardedAdapter takes any other subscriptionMode for static without a word: refuse it.
const REDIS_SUBSCRIPTION_MODE = process.env.REDIS_SUBSCRIPTION_MODE || "dynamic";
if (!["static", "dynamic", "dynamic-private"].includes(REDIS_SUBSCRIPTION_MODE)) {
  console.error(`invalid REDIS_SUBSCRIPTION_MODE ${JSON.stringify(REDIS_SUBSCRIPTION_MODE)}: want static, dynamic or dynamic-private`);
  process.exit(2);
}
// CORS_ORIGINS: comma-separated origins allowed cross-origin, with credentials (as sioloop's).
const CORS_ORIGINS = (process.env.CORS_ORIGINS || "")
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "");
const NAMESPACES = (process.env.NAMESPACES || "")
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "" && s !== "/");

for (const ns of NAMESPACES) {
  if (!ns.startsWith("/")) {
    console.error(`invalid NAMESPACES entry ${JSON.stringify(ns)}: want a name starting with "/"`);
    process.exit(2);
  }
}

// Event names socket.io refuses to emit (socket.io/lib/socket.ts RESERVED_EVENTS).
const RESERVED_EVENTS = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
]);

// globToRegExp turns "org-*" into /^org-.*$/ (only `*` is special).
function globToRegExp(glob) {
  const body = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"))
    .join(".*");
  return new RegExp("^" + body + "$");
}

const startedAt = Date.now();
const httpServer = http.createServer(onHTTPRequest);

// ---------------------------------------------------------------- bare Engine.IO echo

const eio = engine.attach(httpServer, {
  path: "/engine.io/",
  pingInterval: PING_INTERVAL,
  pingTimeout: PING_TIMEOUT,
  maxHttpBufferSize: MAX_PAYLOAD,
});

eio.on("connection", (socket) => {
  // Echo: a string comes back as a text message, a Buffer as a binary one.
  socket.on("message", (data) => socket.send(data));
});

// ---------------------------------------------------------------- Socket.IO app

const io = new Server(httpServer, {
  path: "/socket.io/",
  serveClient: false,
  pingInterval: PING_INTERVAL,
  pingTimeout: PING_TIMEOUT,
  maxHttpBufferSize: MAX_PAYLOAD,
  cors: CORS_ORIGINS.length > 0 ? { origin: CORS_ORIGINS, credentials: true } : undefined,
  connectionStateRecovery:
    CONNECTION_STATE_RECOVERY > 0 ? { maxDisconnectionDuration: CONNECTION_STATE_RECOVERY, skipMiddlewares: false } : undefined,
});

// Namespace patterns in configuration order: "/" first, then NAMESPACES.
const namespaceMatchers = [{ name: "/", re: /^\/$/ }];
const namespaces = [io.of("/")];
for (const ns of NAMESPACES) {
  if (ns.includes("*")) {
    const re = globToRegExp(ns);
    namespaceMatchers.push({ name: ns, re });
    namespaces.push(io.of(re));
  } else {
    namespaceMatchers.push({ name: ns, re: new RegExp("^" + ns.replace(/[.+?^${}()|[\]\\/]/g, "\\$&") + "$") });
    namespaces.push(io.of(ns));
  }
}

function namespaceConfigured(name) {
  return namespaceMatchers.some((m) => m.re.test(name));
}

// authMiddleware checks CONNECT auth.token when JWT_SECRET is set.
function authMiddleware(socket, next) {
  if (!JWT_SECRET) return next();
  const deny = (reason) => {
    const err = new Error("unauthorized");
    err.data = { reason };
    next(err);
  };
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (typeof token !== "string" || token === "") return deny("missing token");
  let claims;
  try {
    claims = jwt.verify(token, JWT_SECRET, { algorithms: ["HS256"] });
  } catch (e) {
    return deny(e.message || "invalid token");
  }
  if (typeof claims !== "object" || claims === null) return deny("invalid claims");
  socket.data.userId = typeof claims.sub === "string" ? claims.sub : undefined;
  if (claims.channels !== undefined) {
    if (!Array.isArray(claims.channels) || !claims.channels.every((c) => typeof c === "string")) {
      return deny("invalid channels claim");
    }
    socket.data.channels = claims.channels.map(globToRegExp);
  }
  next();
}

// channelNames flattens subscribe/unsubscribe arguments (a name, an array of names, or several
// of either) into a list of non-empty strings.
function channelNames(args) {
  const out = [];
  for (const a of args) {
    if (typeof a === "string") {
      if (a !== "") out.push(a);
    } else if (Array.isArray(a)) {
      for (const b of a) if (typeof b === "string" && b !== "") out.push(b);
    }
  }
  return out;
}

function splitAck(args) {
  if (args.length > 0 && typeof args[args.length - 1] === "function") {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, null];
}

// USER_ROOM starts the room every socket of an authenticated user is in ("user:" + sub), as
// sioloop does: a POST with "user" to any server of a mixed cluster reaches them.
const USER_ROOM = "user:";

function onConnection(socket) {
  const nsp = socket.nsp;
  if (typeof socket.data.userId === "string" && socket.data.userId !== "") socket.join(USER_ROOM + socket.data.userId);

  // message: echo the event to the sender with the same arguments, and when the client asked
  // for an ack, acknowledge with the same arguments too.
  socket.on("message", (...raw) => {
    const [args, ack] = splitAck(raw);
    socket.emit("message", ...args);
    if (ack) ack(...args);
  });

  socket.on("subscribe", (...raw) => {
    const [args, ack] = splitAck(raw);
    const allowed = socket.data.channels;
    const rooms = channelNames(args).filter((name) => {
      // Another socket's private room cannot be joined (it would leak its direct messages).
      if (name !== socket.id && nsp.sockets.has(name)) return false;
      // User rooms follow the token, not subscriptions.
      if (name.startsWith(USER_ROOM)) return false;
      if (allowed && !allowed.some((re) => re.test(name))) return false;
      return true;
    });
    if (rooms.length > 0) socket.join(rooms);
    if (ack) ack(Array.from(socket.rooms));
  });

  socket.on("unsubscribe", (...raw) => {
    const [args, ack] = splitAck(raw);
    for (const name of channelNames(args)) {
      if (name !== socket.id && !name.startsWith(USER_ROOM)) socket.leave(name);
    }
    if (ack) ack(Array.from(socket.rooms));
  });
}

for (const nsp of namespaces) {
  nsp.use(authMiddleware);
  nsp.on("connection", onConnection);
}

function connectedClients() {
  let n = 0;
  for (const nsp of io._nsps.values()) n += nsp.sockets.size;
  return n;
}

// ---------------------------------------------------------------- admin HTTP routes

function sendJSON(res, status, obj, headers) {
  const body = JSON.stringify(obj);
  res.writeHead(status, Object.assign({
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
  }, headers || {}));
  res.end(body);
}

function onHTTPRequest(req, res) {
  const url = new URL(req.url, "http://localhost");
  switch (url.pathname) {
    case "/":
      if (req.method !== "GET" && req.method !== "HEAD") {
        return sendJSON(res, 405, { error: "method not allowed" }, { Allow: "GET, HEAD" });
      }
      return sendJSON(res, 200, { status: "ok", service: "node-peer", connectedClients: connectedClients() });
    case "/health":
      if (req.method !== "GET" && req.method !== "HEAD") {
        return sendJSON(res, 405, { error: "method not allowed" }, { Allow: "GET, HEAD" });
      }
      return sendJSON(res, 200, Object.assign({
        status: "healthy",
        service: "node-peer",
        uptime: (Date.now() - startedAt) / 1000,
        connectedClients: connectedClients(),
        engineIOClients: eio.clientsCount,
      }, redisClients ? { redis: redisClients.every((c) => c.isReady ?? c.isOpen) ? "up" : "down" } : {}));
    case "/sockets":
      if (req.method !== "GET") {
        return sendJSON(res, 405, { error: "method not allowed" }, { Allow: "GET" });
      }
      return onSockets(url, res);
    case "/SendWebsocketEvent":
      return onSendWebsocketEvent(req, res);
    default:
      return sendJSON(res, 404, { error: "not found" });
  }
}

function onSendWebsocketEvent(req, res) {
  if (req.method !== "POST") {
    return sendJSON(res, 405, { error: "method not allowed: use POST" }, { Allow: "POST" });
  }
  const ctype = (req.headers["content-type"] || "").split(";")[0].trim().toLowerCase();
  if (ctype !== "application/json") {
    req.resume();
    return sendJSON(res, 415, { error: `unsupported content type ${JSON.stringify(ctype)}: want application/json` });
  }
  // An oversized body is read to its end and dropped before the 413 goes out: answering early
  // and closing would make the client fail its upload before it reads the answer.
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on("data", (c) => {
    size += c.length;
    if (size > ADMIN_MAX_BODY) tooLarge = true;
    else chunks.push(c);
  });
  req.on("error", () => {});
  req.on("end", () => {
    if (tooLarge) {
      return sendJSON(res, 413, { error: `request body too large: more than ${ADMIN_MAX_BODY} bytes` });
    }
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (e) {
      return sendJSON(res, 400, { error: "invalid JSON: " + e.message });
    }
    let result;
    try {
      result = emitFromRequest(body);
    } catch (e) {
      if (e instanceof BadRequest) return sendJSON(res, 400, { error: e.message });
      throw e;
    }
    Promise.resolve(result).then((r) => sendJSON(res, 200, r));
  });
}

class BadRequest extends Error {}

function stringList(v, field) {
  if (v === undefined || v === null) return [];
  if (typeof v === "string") return v === "" ? [] : [v];
  if (Array.isArray(v) && v.every((s) => typeof s === "string")) return v.filter((s) => s !== "");
  throw new BadRequest(`invalid ${field}: want a string or an array of strings`);
}

function checkEventName(name, field) {
  if (typeof name !== "string" || name === "") {
    throw new BadRequest(`invalid ${field}: want a non-empty string`);
  }
  if (RESERVED_EVENTS.has(name)) {
    throw new BadRequest(`invalid ${field} ${JSON.stringify(name)}: reserved event name`);
  }
}

// emitFromRequest validates one POST /SendWebsocketEvent body and emits its events.
//
// Forms: {"channel":C,"payload":P} emits C with {"payload":P}; {"channels":[...],"payload":P}
// emits one event per channel (an array P is zipped with the channels, min of both lengths);
// {"event":E,"data":D} emits E with D. Targeting: rooms, except, to (a socket id), namespace
// (default "/"), volatile. "recipients" is the number of distinct sockets the target matched.
function emitFromRequest(body) {
  const start = process.hrtime.bigint();
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new BadRequest("invalid body: want a JSON object");
  }
  const forms = ["channel", "channels", "event"].filter((k) => body[k] !== undefined);
  if (forms.length === 0) throw new BadRequest("missing field: one of channel, channels or event");
  if (forms.length > 1) throw new BadRequest(`conflicting fields: ${forms.join(", ")}`);

  const events = []; // [name, data]
  if (body.channel !== undefined) {
    checkEventName(body.channel, "channel");
    events.push([body.channel, { payload: body.payload }]);
  } else if (body.channels !== undefined) {
    if (!Array.isArray(body.channels) || body.channels.length === 0) {
      throw new BadRequest("invalid channels: want a non-empty array of strings");
    }
    body.channels.forEach((c, i) => checkEventName(c, `channels[${i}]`));
    if (Array.isArray(body.payload)) {
      const n = Math.min(body.channels.length, body.payload.length);
      for (let i = 0; i < n; i++) events.push([body.channels[i], { payload: body.payload[i] }]);
    } else {
      for (const c of body.channels) events.push([c, { payload: body.payload }]);
    }
  } else {
    checkEventName(body.event, "event");
    events.push([body.event, body.data]);
  }

  const rooms = stringList(body.rooms, "rooms");
  const except = stringList(body.except, "except");
  if (body.to !== undefined && (typeof body.to !== "string" || body.to === "")) {
    throw new BadRequest("invalid to: want a socket id");
  }
  if (body.to) rooms.push(body.to);
  const nsName = body.namespace === undefined ? "/" : body.namespace;
  if (typeof nsName !== "string" || !nsName.startsWith("/")) {
    throw new BadRequest("invalid namespace: want a name starting with \"/\"");
  }
  if (body.volatile !== undefined && typeof body.volatile !== "boolean") {
    throw new BadRequest("invalid volatile: want a boolean");
  }
  if (!namespaceConfigured(nsName)) {
    throw new BadRequest(`unknown namespace ${JSON.stringify(nsName)}`);
  }
  if (body.ack !== undefined && typeof body.ack !== "boolean") {
    throw new BadRequest("invalid ack: want a boolean");
  }
  let ackMs = 5000;
  if (body.timeout !== undefined) {
    const m = typeof body.timeout === "number" ? [null, String(body.timeout), "ms"] : /^(\d+(?:\.\d+)?)(ms|s)$/.exec(String(body.timeout));
    if (!m) throw new BadRequest("invalid timeout: want a duration like \"2s\" or milliseconds");
    ackMs = Number(m[1]) * (m[2] === "s" ? 1000 : 1);
  }

  const nsp = io._nsps.get(nsName); // absent: a glob namespace nobody joined yet
  if (body.ack) return emitWithAcks(nsp, events, rooms, except, ackMs, start);
  let recipients = 0;
  if (nsp) {
    for (const socket of nsp.sockets.values()) {
      if (rooms.length > 0 && !rooms.some((r) => socket.rooms.has(r))) continue;
      if (except.some((r) => socket.rooms.has(r))) continue;
      recipients++;
    }
    for (const [name, data] of events) {
      let op = nsp;
      if (rooms.length > 0) op = op.to(rooms);
      if (except.length > 0) op = op.except(except);
      if (body.volatile) op = op.volatile;
      if (data === undefined) op.emit(name);
      else op.emit(name, data);
    }
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { status: "success", events_sent: events.length, recipients, duration: `${ms.toFixed(3)}ms` };
}

// emitWithAcks emits each event to every targeted socket with an ack and waits up to ms for
// the answers, like io.timeout(ms).emitWithAck() but keeping which socket answered what.
async function emitWithAcks(nsp, events, rooms, except, ms, start) {
  const targets = [];
  if (nsp) {
    for (const socket of nsp.sockets.values()) {
      if (rooms.length > 0 && !rooms.some((r) => socket.rooms.has(r))) continue;
      if (except.some((r) => socket.rooms.has(r))) continue;
      targets.push(socket);
    }
  }
  const responses = [];
  let timeouts = 0;
  for (const [name, data] of events) {
    const args = data === undefined ? [name] : [name, data];
    await Promise.all(
      targets.map((socket) =>
        new Promise((resolve) => {
          socket.timeout(ms).emit(...args, (err, ...answer) => {
            if (err) timeouts++;
            else responses.push({ id: socket.id, args: answer });
            resolve();
          });
        })
      )
    );
  }
  responses.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const took = Number(process.hrtime.bigint() - start) / 1e6;
  return { status: "success", events_sent: events.length, recipients: targets.length, duration: `${took.toFixed(3)}ms`, responses, timeouts };
}

// onSockets answers GET /sockets with fetchSockets(): the sockets of every server of the
// cluster with REDIS_URL, of this one without.
function onSockets(url, res) {
  const nsName = url.searchParams.get("namespace") || "/";
  const rooms = url.searchParams.getAll("room");
  if (!namespaceConfigured(nsName)) return sendJSON(res, 400, { error: `unknown namespace ${JSON.stringify(nsName)}` });
  let op = io.of(nsName);
  if (rooms.length > 0) op = op.in(rooms);
  op.fetchSockets().then(
    (sockets) => {
      const list = sockets.map((s) => ({
        id: s.id,
        namespace: nsName,
        rooms: Array.from(s.rooms),
        address: s.handshake && s.handshake.address,
        userId: s.data && s.data.userId,
      }));
      sendJSON(res, 200, { sockets: list, count: list.length });
    },
    (err) => sendJSON(res, 504, { error: String(err && err.message ? err.message : err) })
  );
}

// ---------------------------------------------------------------- cluster (REDIS_URL)

let redisClients = null;

// useRedis connects the two clients @socket.io/redis-adapter needs (one goes into subscriber
// mode) and makes every namespace, existing and future, use the adapter.
async function useRedis() {
  const { createClient, createCluster } = require("redis");
  if (REDIS_ADAPTER === "streams") return useRedisStreams(createClient);
  const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
  if (REDIS_CLUSTER_ADDRS.length > 0 && REDIS_ADAPTER !== "sharded") {
    throw new Error("REDIS_CLUSTER_ADDRS is for REDIS_ADAPTER=sharded in this peer");
  }
  const pub = REDIS_CLUSTER_ADDRS.length > 0
    ? createCluster({ rootNodes: REDIS_CLUSTER_ADDRS.map((a) => ({ url: "redis://" + a })) })
    : createClient({ url: REDIS_URL });
  const sub = pub.duplicate();
  let lastError = "";
  for (const c of [pub, sub]) {
    c.on("error", (err) => {
      // node-redis reconnects by itself; say so once per kind of error.
      if (String(err) !== lastError) console.error(`node-peer: redis: ${err}`);
      lastError = String(err);
    });
    c.on("ready", () => {
      lastError = "";
    });
  }
  await Promise.all([pub.connect(), sub.connect()]);
  redisClients = [pub, sub];
  if (REDIS_ADAPTER === "sharded") {
    io.adapter(createShardedAdapter(pub, sub, { channelPrefix: REDIS_KEY, subscriptionMode: REDIS_SUBSCRIPTION_MODE }));
    const where = REDIS_CLUSTER_ADDRS.length > 0 ? `the Redis Cluster of ${REDIS_CLUSTER_ADDRS.join(",")}` : REDIS_URL.replace(/:[^:@/]*@/, ":xxxxx@");
    console.error(`node-peer: redis sharded adapter on ${where} (${REDIS_SUBSCRIPTION_MODE})`);
    return;
  }
  io.adapter(createAdapter(pub, sub, { key: REDIS_KEY, requestsTimeout: REDIS_REQUEST_TIMEOUT }));
  console.error(`node-peer: redis adapter on ${REDIS_URL.replace(/:[^:@/]*@/, ":xxxxx@")} (key ${REDIS_KEY})`);
}

// useRedisStreams is useRedis for @socket.io/redis-streams-adapter: one client, which the
// adapter duplicates for its stream reader and its subscriptions.
async function useRedisStreams(createClient) {
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const client = createClient({ url: REDIS_URL });
  let lastError = "";
  client.on("error", (err) => {
    if (String(err) !== lastError) console.error(`node-peer: redis: ${err}`);
    lastError = String(err);
  });
  client.on("ready", () => {
    lastError = "";
  });
  await client.connect();
  redisClients = [client];
  io.adapter(createAdapter(client, { streamName: REDIS_STREAM_NAME, channelPrefix: REDIS_KEY }));
  console.error(`node-peer: redis streams adapter on ${REDIS_URL.replace(/:[^:@/]*@/, ":xxxxx@")} (stream ${REDIS_STREAM_NAME})`);
}

// useAdminUI instruments io with @socket.io/admin-ui when ADMIN_UI=true, with sioloop's
// settings: ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD_HASH (bcrypt) or ADMIN_UI_NO_AUTH=true,
// ADMIN_UI_MODE, ADMIN_UI_NAMESPACE. After the adapter: the admin namespace takes it.
function useAdminUI() {
  if (process.env.ADMIN_UI !== "true") return;
  const { instrument } = require("@socket.io/admin-ui");
  instrument(io, {
    auth:
      process.env.ADMIN_UI_NO_AUTH === "true"
        ? false
        : { type: "basic", username: process.env.ADMIN_UI_USERNAME, password: process.env.ADMIN_UI_PASSWORD_HASH },
    mode: process.env.ADMIN_UI_MODE || "production",
    namespaceName: process.env.ADMIN_UI_NAMESPACE || "/admin",
  });
}

// ---------------------------------------------------------------- lifecycle

(REDIS_URL || REDIS_CLUSTER_ADDRS.length > 0 ? useRedis() : Promise.resolve()).then(
  () => {
    useAdminUI();
    httpServer.listen(PORT, HOST, () => {
      const addr = httpServer.address();
      console.error(`node-peer listening on ${addr.address}:${addr.port} (engine.io at /engine.io/, socket.io at /socket.io/)`);
    });
  },
  (err) => {
    console.error(`node-peer: cannot connect to REDIS_URL: ${err}`);
    process.exit(1);
  }
);

function shutdown(sig) {
  console.error(`node-peer: ${sig}, exiting`);
  // io.close() closes every Engine.IO connection without a Socket.IO DISCONNECT packet, so
  // clients see "transport close" and reconnect; exit right after, whatever is pending.
  io.close();
  eio.close();
  setTimeout(() => process.exit(0), 50).unref();
  process.exitCode = 0;
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
