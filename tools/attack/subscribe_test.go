package attack

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSubscribeHugeList sends one subscribe event with an ack and 100,000
// distinct channel names (about 900 KB, under MAX_PAYLOAD 1000000). The
// server must refuse the list (MAX_SUBSCRIBE_NAMES, default 100) and ack
// within 1 s with one object argument holding an "error" string, rather
// than join 100,000 rooms and ack with all of them.
// Bounds: RSS +128 MB, canary p99 500 ms.
func TestSubscribeHugeList(t *testing.T) {
	const names = 100_000
	a := begin(t, bounds{RSS: 128 << 20, P99: 500 * time.Millisecond}, serverOpts{})
	defer a.finish()
	ws, err := dialWS(a.Srv.Addr, 5*time.Second, 0)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer ws.Close()
	if ack, err := ws.Connect("/", 5*time.Second); err != nil || !strings.HasPrefix(ack, "40") {
		t.Fatalf("client CONNECT: %q %v", ack, err)
	}
	pkt := []byte(`420["subscribe",[`)
	for i := range names {
		if i > 0 {
			pkt = append(pkt, ',')
		}
		// "100000" … "199999": distinct, 9 bytes a name with its comma.
		pkt = append(pkt, '"')
		pkt = strconv.AppendInt(pkt, int64(100_000+i), 10)
		pkt = append(pkt, '"')
	}
	pkt = append(pkt, "]]"...)
	start := time.Now()
	if err := ws.WriteText(pkt, 5*time.Second); err != nil {
		t.Fatalf("send %d bytes: %v", len(pkt), err)
	}
	var ack string
	deadline := start.Add(5 * time.Second)
	for {
		p, err := ws.ReadPacket(deadline)
		if err != nil {
			a.Outcome("%d-byte subscribe sent; no ack within 5s: %v", len(pkt), err)
			t.Fatalf("no ack within 5s: %v", err)
		}
		if strings.HasPrefix(p, "430") {
			ack = p
			break
		}
	}
	took := time.Since(start)
	var args []json.RawMessage
	var obj struct {
		Error *string `json:"error"`
	}
	jerr := json.Unmarshal([]byte(ack[3:]), &args)
	if jerr == nil && len(args) == 1 {
		jerr = json.Unmarshal(args[0], &obj)
	}
	a.Outcome("%d-byte subscribe of %d names acked after %v with %d bytes: %s", len(pkt), names, took.Round(time.Millisecond), len(ack), clip(ack))
	if took > time.Second {
		t.Errorf("ack took %v, want ≤ 1s", took)
	}
	if jerr != nil || len(args) != 1 || obj.Error == nil || *obj.Error == "" {
		t.Errorf(`ack %s: want one object argument with an "error" string`, clip(ack))
	}
}
