package cluster

import (
	"testing"

	"sioloop/loop"
)

// benchBroadcast is a typical event: an object of a few fields.
var benchBroadcast = loop.Broadcast{Namespace: "/", Event: "news",
	Args: []byte(`{"title":"Breaking: something happened","id":123456,"tags":["a","bb","ccc"],"score":0.75,"ok":true,"author":{"name":"x","id":7}}`)}

func BenchmarkAppendBroadcast(b *testing.B) {
	var c Codec
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBroadcast.Args)))
	for b.Loop() {
		dst, _ = c.AppendBroadcast(dst[:0], "abcdef", &benchBroadcast)
	}
}

func BenchmarkParseBroadcast(b *testing.B) {
	var c Codec
	msg, _ := c.AppendBroadcast(nil, "abcdef", &benchBroadcast)
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := c.ParseBroadcast(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBroadcastBinary(b *testing.B) {
	var c Codec
	bb := loop.Broadcast{Event: "file", Args: []byte(`{"name":"a.bin"},{"_placeholder":true,"num":0}`), Attachments: [][]byte{make([]byte, 4096)}}
	msg, _ := c.AppendBroadcast(nil, "abcdef", &bb)
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := c.ParseBroadcast(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendEntryData encodes the data field of the stream entry of
// a broadcast (REDIS_ADAPTER=streams): JSON through encoding/json.
func BenchmarkAppendEntryData(b *testing.B) {
	var c Codec
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBroadcast.Args)))
	for b.Loop() {
		if _, err := c.AppendEntryData(&benchBroadcast); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEntry reads the entry back as the stream reader does.
func BenchmarkParseEntry(b *testing.B) {
	var c Codec
	data, _ := c.AppendEntryData(&benchBroadcast)
	var m clusterMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := c.ParseEntry("0123456789abcdef", "/", "3", data, &m); err != nil {
			b.Fatal(err)
		}
	}
}
