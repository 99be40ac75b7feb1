package metrics_test

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"sioloop/loop"
	"sioloop/metrics"
)

// Example scrapes a server that has no client yet and prints the
// socket_io_connected family.
func Example() {
	srv := loop.New(loop.Config{}, nil)
	sio := loop.NewSocketIO(srv)
	set := metrics.New(srv, sio)

	var b bytes.Buffer
	set.WritePrometheus(&b)
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "socket_io_connected") {
			fmt.Println(line)
		}
	}
	// Output:
	// # HELP socket_io_connected Sockets connected to the namespace now.
	// # TYPE socket_io_connected gauge
	// socket_io_connected{namespace="/"} 0
}
