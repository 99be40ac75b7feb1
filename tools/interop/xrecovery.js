#!/usr/bin/env node
// Cross-server connection state recovery with the official socket.io-client 4.8: one client
// connects to XREC_URL (a TCP proxy that the driver, xrecovery_test.go, points at one server
// after the other), joins the room "news" and prints, one line each:
//
//   CONNECT <socket id> <recovered>     on every connect
//   SUBSCRIBED                          once the first subscribe is acknowledged
//   GOT <payload> <offset>              for every "news" event
//   DISCONNECT <reason>
//
// It stops on the stdin line "quit" or after --timeout seconds.
"use strict";

const readline = require("node:readline");
const { io } = require("socket.io-client");

const url = process.env.XREC_URL;
const ti = process.argv.indexOf("--timeout");
const timeout = ti > 0 ? Number(process.argv[ti + 1]) : 60;

const socket = io(url, {
  transports: ["websocket"],
  reconnectionDelay: 100,
  reconnectionDelayMax: 300,
  randomizationFactor: 0,
});
let subscribed = false;
socket.on("connect", () => {
  console.log(`CONNECT ${socket.id} ${socket.recovered}`);
  if (!subscribed) {
    subscribed = true;
    socket.emit("subscribe", "news", () => console.log("SUBSCRIBED"));
  }
});
socket.on("news", (data, offset) => console.log(`GOT ${data.payload} ${offset}`));
socket.on("disconnect", (reason) => console.log(`DISCONNECT ${reason}`));

const stop = () => {
  socket.close();
  process.exit(0);
};
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "quit") stop();
});
setTimeout(stop, timeout * 1000).unref();
