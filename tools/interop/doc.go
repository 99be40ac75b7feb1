// Package interop runs the official Node Engine.IO and Socket.IO clients against a server under
// test and checks that they interoperate with it.
//
// The package holds no Go API: its test (interop_test.go, with server_test.go for the server processes) builds and starts the server, then
// runs each scenario of eio.js, sio.js, limits.js and hooks.js (plain Node scripts beside it) as a
// subtest; the cluster tests run cluster.js and failover.js against several servers on Redis. The server under test is chosen with INTEROP_TARGET:
//
//	INTEROP_TARGET=sioloop  (default) the root package main, built with go build, and
//	                        tools/conformance for the bare Engine.IO echo scenarios
//	INTEROP_TARGET=node     tools/peers/node/server.js, the Node reference peer
//
// The Node packages must be installed first (scripts/test.sh runs npm ci in tools/interop and
// tools/peers/node). See README.md in this folder for the contract the server must meet.
package interop
