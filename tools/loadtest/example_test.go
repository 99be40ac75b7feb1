package main

import "fmt"

func ExampleParseFrame() {
	// The server's echo of a `message` event, as one unmasked text frame,
	// followed by the start of the next frame.
	in := append(AppendFrame(nil, opText, []byte(`42["message",{"seq":1,"ts":5,"pad":""}]`), false, 0), 0x81)
	f, n, err := ParseFrame(in)
	fmt.Println(f.OpCode == opText, n, err)
	p, _ := ParseSIOPacket(f.Payload[1:]) // after the Engine.IO type '4'
	name, args, _ := ParseEventData(p.Data)
	seq, _ := FindUint(args, `"seq":`)
	fmt.Printf("%s seq=%d\n", name, seq)
	_, _, err = ParseFrame(in[n:])
	fmt.Println(err)
	// Output:
	// true 41 <nil>
	// message seq=1
	// loadtest: need more bytes
}

func ExampleSeqTracker() {
	var t SeqTracker
	for _, seq := range []uint64{1, 2, 4, 3, 3, 6} {
		t.Observe(seq)
	}
	fmt.Printf("unique %d, duplicates %d, reordered %d, lost %d of 6\n", t.Unique, t.Duplicates, t.Reordered, t.Lost(6))
	// Output: unique 5, duplicates 1, reordered 1, lost 1 of 6
}

func ExampleHistogram() {
	var h Histogram
	for ms := int64(1); ms <= 100; ms++ {
		h.Record(ms * 1_000_000) // nanoseconds
	}
	d := h.Snapshot(nil)
	fmt.Printf("n=%d p50=%.2fms p99=%.2fms max=%.0fms\n", d.N, float64(d.Quantile(0.5))/1e6, float64(d.Quantile(0.99))/1e6, float64(d.Max)/1e6)
	// Output: n=100 p50=50.07ms p99=99.09ms max=100ms
}

func ExampleAppendEcho() {
	fmt.Printf("%s\n", AppendEcho(nil, "/chat", 3, 1764250000000000000, "xx"))
	// Output: 42/chat,["message",{"seq":3,"ts":1764250000000000000,"pad":"xx"}]
}
