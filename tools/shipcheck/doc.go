// Package shipcheck holds only tests: they keep what ships beside the code
// (Dockerfile, .dockerignore, deploy/ and README.md) true to what the
// binary really serves and reads, so that the two cannot drift apart.
//
//   - Dockerfile: the build image's Go version covers go.mod, the exposed
//     ports are the defaults of PORT and ADMIN_ADDR, the HEALTHCHECK is the
//     binary's own healthcheck subcommand with a timeout longer than its
//     request bound, the user is numeric and not root.
//   - The binary: built with the very "go build" line of the Dockerfile
//     (read from it), it must be a static ELF with no symbol table, report
//     the version given with -X, pass "healthcheck" while serving, answer
//     every curl example of README.md with the status the README states,
//     exit 0 on SIGTERM and then fail "healthcheck". Its size is logged.
//   - .dockerignore: every file the binary is built from is in the build
//     context; node_modules, .git and test output are not.
//   - deploy/: every manifest parses; ports, probe paths, env names and
//     values, selectors, the grace period and the security context agree
//     with the settings table and with one another.
//   - README.md: the two commands come first, the configuration table is
//     the settings table (go test ./tools/shipcheck -run
//     TestREADMEConfigTable -update rewrites it), and every upper-case
//     variable name it mentions is a setting or is listed, with the
//     reason, in names_test.go.
//   - Import rules (imports_test.go): which packages may import gnet,
//     go-redis, msgpack and the JWT library, that protocol/ does no I/O,
//     and that loop/ imports neither api/ nor the composition root.
//
// The settings table lives in package main (config.go), which cannot be
// imported: these tests build the server once and read the table, and the
// configuration an environment gives, from "sioloop config".
package shipcheck
