package cluster

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"sioloop/loop"
)

// vectors is testdata/vectors.json, written by testdata/gen.js from the
// bytes the real @socket.io/redis-adapter 8.3.0 and @socket.io/redis-emitter
// 5.1.0 publish.
type vectors struct {
	Broadcasts []struct {
		Name        string   `json:"name"`
		Source      string   `json:"source"`
		Channel     string   `json:"channel"`
		UID         string   `json:"uid"`
		Msg         hexBytes `json:"msg"`
		Nsp         string   `json:"nsp"`
		Rooms       []string `json:"rooms"`
		Except      []string `json:"except"`
		Volatile    bool     `json:"volatile"`
		Event       string   `json:"event"`
		Args        string   `json:"args"`
		Attachments []hexBytes
		Encode      bool `json:"encode"`
	} `json:"broadcasts"`
	Requests []struct {
		Name        string          `json:"name"`
		Channel     string          `json:"channel"`
		Msg         hexBytes        `json:"msg"`
		JSON        bool            `json:"json"`
		Want        json.RawMessage `json:"want"`
		Attachments []hexBytes      `json:"attachments"`
	} `json:"requests"`
	BroadcastRequest struct {
		Channel     string     `json:"channel"`
		Msg         hexBytes   `json:"msg"`
		UID         string     `json:"uid"`
		RequestID   string     `json:"requestId"`
		Timeout     int64      `json:"timeout"`
		Nsp         string     `json:"nsp"`
		Rooms       []string   `json:"rooms"`
		Except      []string   `json:"except"`
		Event       string     `json:"event"`
		Args        string     `json:"args"`
		Attachments []hexBytes `json:"attachments"`
	} `json:"broadcastRequest"`
	Acks []struct {
		RequestID string   `json:"requestId"`
		Value     string   `json:"value"`
		Msg       hexBytes `json:"msg"`
	} `json:"acks"`
}

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Broadcasts) == 0 || len(v.Requests) == 0 || len(v.Acks) == 0 {
		t.Fatal("testdata/vectors.json holds no vectors: regenerate it with testdata/gen.js")
	}
	return &v
}

func atts(list []hexBytes) [][]byte {
	out := make([][]byte, len(list))
	for i, a := range list {
		out[i] = []byte(a)
	}
	return out
}

// TestBroadcastVectors decodes every message Node published into what a
// Node server would send its clients, and encodes every JSON-safe one back
// to the exact bytes Node published.
func TestBroadcastVectors(t *testing.T) {
	v := loadVectors(t)
	var c Codec
	var m Message
	for _, vec := range v.Broadcasts {
		t.Run(vec.Name, func(t *testing.T) {
			if err := c.ParseBroadcast(vec.Msg, &m); err != nil {
				t.Fatalf("ParseBroadcast: %v", err)
			}
			b := m.Broadcast
			want := loop.Broadcast{
				Namespace: vec.Nsp, Rooms: vec.Rooms, Except: vec.Except, Volatile: vec.Volatile, Local: true,
				Event: vec.Event, Args: []byte(vec.Args), Attachments: atts(vec.Attachments),
			}
			if m.UID != vec.UID {
				t.Errorf("uid %q, want %q", m.UID, vec.UID)
			}
			if b.Namespace != want.Namespace || b.Event != want.Event || b.Volatile != want.Volatile || !b.Local ||
				!eqStrings(b.Rooms, want.Rooms) || !eqStrings(b.Except, want.Except) {
				t.Errorf("target %+v, want %+v", b, want)
			}
			if string(b.Args) != string(want.Args) {
				t.Errorf("args\n got %s\nwant %s", b.Args, want.Args)
			}
			if !reflect.DeepEqual(nonNil(b.Attachments), nonNil(want.Attachments)) {
				t.Errorf("attachments %x, want %x", b.Attachments, want.Attachments)
			}
			if got := BroadcastChannel(DefaultKey, want.Namespace, want.Rooms); got != vec.Channel {
				t.Errorf("channel %q, want %q", got, vec.Channel)
			}
			if !vec.Encode {
				return
			}
			enc, err := c.AppendBroadcast(nil, vec.UID, &want)
			if err != nil {
				t.Fatalf("AppendBroadcast: %v", err)
			}
			if vec.Source == "adapter" && !bytes.Equal(enc, vec.Msg) {
				t.Errorf("encoded\n got %x\nwant %x", enc, vec.Msg)
			}
		})
	}
}

func eqStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func nonNil(a [][]byte) [][]byte {
	if len(a) == 0 {
		return nil
	}
	return a
}

// TestRequestVectors parses every request Node published, JSON and
// msgpack, into the fields Node's own reading gives.
func TestRequestVectors(t *testing.T) {
	v := loadVectors(t)
	var c Codec
	for _, vec := range v.Requests {
		t.Run(vec.Name, func(t *testing.T) {
			var got request
			gotAtts, err := c.parseRequest(vec.Msg, &got)
			if err != nil {
				t.Fatalf("parseRequest: %v", err)
			}
			var want request
			if err := json.Unmarshal(vec.Want, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Opts, want.Opts) || got.Type != want.Type || got.UID != want.UID ||
				got.RequestID != want.RequestID || !eqStrings(got.Rooms, want.Rooms) || got.Close != want.Close {
				t.Errorf("request %+v\nwant %+v", got, want)
			}
			if !jsonEqual(got.Data, want.Data) || !jsonEqual(got.Packet, want.Packet) {
				t.Errorf("data %s packet %s\nwant data %s packet %s", got.Data, got.Packet, want.Data, want.Packet)
			}
			if !reflect.DeepEqual(nonNil(gotAtts), nonNil(atts(vec.Attachments))) {
				t.Errorf("attachments %x, want %x", gotAtts, vec.Attachments)
			}
			if !strings.HasPrefix(vec.Channel, RequestChannel(DefaultKey, "/")) {
				t.Errorf("channel %q, want %q", vec.Channel, RequestChannel(DefaultKey, "/"))
			}
		})
	}
}

func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

// TestBroadcastRequestVector encodes the broadcast-with-acks request
// byte for byte as RedisAdapter.broadcastWithAck publishes it.
func TestBroadcastRequestVector(t *testing.T) {
	vec := loadVectors(t).BroadcastRequest
	var c Codec
	b := loop.Broadcast{Namespace: vec.Nsp, Rooms: vec.Rooms, Except: vec.Except, Event: vec.Event,
		Args: []byte(vec.Args), Attachments: atts(vec.Attachments)}
	got, err := c.appendBroadcastRequest(nil, vec.UID, vec.RequestID, &b, vec.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, vec.Msg) {
		t.Errorf("encoded\n got %x\nwant %x", got, vec.Msg)
	}
}

// TestAckVectors encodes BROADCAST_ACK responses as notepack does, and
// reads them back.
func TestAckVectors(t *testing.T) {
	var c Codec
	for _, vec := range loadVectors(t).Acks {
		got, err := c.appendBroadcastAck(nil, vec.RequestID, []byte(vec.Value))
		if err != nil {
			t.Fatalf("%s: %v", vec.Value, err)
		}
		if !bytes.Equal(got, vec.Msg) {
			t.Errorf("%s: encoded\n got %x\nwant %x", vec.Value, got, vec.Msg)
		}
		var r response
		if err := c.parseResponse(vec.Msg, &r); err != nil {
			t.Fatalf("%s: parseResponse: %v", vec.Value, err)
		}
		if r.Type != BroadcastAck || r.RequestID != vec.RequestID || !jsonEqual(r.Packet, []byte(vec.Value)) {
			t.Errorf("%s: parsed %+v", vec.Value, r)
		}
	}
}

// TestCodecErrors checks that bad input is refused with the right error
// and never panics.
func TestCodecErrors(t *testing.T) {
	var c Codec
	enc := func(args string, natts int, want error) {
		t.Helper()
		b := loop.Broadcast{Event: "e", Args: []byte(args), Attachments: make([][]byte, natts)}
		if _, err := c.AppendBroadcast(nil, "uid", &b); !errors.Is(err, want) {
			t.Errorf("AppendBroadcast(%q, %d attachments) = %v, want %v", args, natts, err, want)
		}
	}
	enc(`1,`, 0, ErrInvalidJSON)
	enc(`[1,2`, 0, ErrInvalidJSON)
	enc(`{"a" 1}`, 0, ErrInvalidJSON)
	enc(`"\x"`, 0, ErrInvalidJSON)
	enc("\"a\x01\"", 0, ErrInvalidJSON)
	enc(`01`, 0, ErrInvalidJSON)
	enc(`tru`, 0, ErrInvalidJSON)
	enc(`{"_placeholder":true,"num":1}`, 1, ErrPlaceholder)
	enc(`{"_placeholder":true}`, 1, ErrPlaceholder)
	enc(strings.Repeat("[", MaxDepth+1)+strings.Repeat("]", MaxDepth+1), 0, ErrTooDeep)
	enc(strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth), 0, nil)
	enc(`{"_placeholder":false,"num":0}`, 0, nil)
	enc(` 1 , "a" `, 0, nil)

	var m Message
	dec := func(hexMsg string, want error) {
		t.Helper()
		msg, _ := hex.DecodeString(hexMsg)
		if err := c.ParseBroadcast(msg, &m); !errors.Is(err, want) {
			t.Errorf("ParseBroadcast(%s) = %v, want %v", hexMsg, err, want)
		}
	}
	dec("", ErrNotBroadcast)
	dec("c0", ErrNotBroadcast)
	dec("93a17880c0", ErrNotBroadcast)             // packet without data
	dec("93a17881a474797065a1c0", ErrNotBroadcast) // packet type is a string
	dec("93a17882a47479706502a46461746190c0", ErrNotBroadcast)
	dec("93a17882a47479706503a46461746191a165c0", ErrNotBroadcast) // type 3 is ACK
	dec("93a17882a47479706502a46461746191a165c0", nil)
	dec("93a17882a47479706502a46461746192a165dd7fffffff", ErrMsgpack) // array longer than the input
	dec("93a17882a47479706502a46461746192a165db7fffffff", ErrMsgpack) // string longer than the input
	dec("93a17882a47479706502a46461746192a165c1", ErrMsgpack)         // reserved code
}

// TestTranscodeRoundTrip converts JSON to msgpack and back: the text
// must come back as JSON.stringify would write the parsed value.
func TestTranscodeRoundTrip(t *testing.T) {
	var c Codec
	f := func(in, want string, atts ...[]byte) {
		t.Helper()
		mp, err := c.AppendMsgpack(nil, []byte(in), atts)
		if err != nil {
			t.Fatalf("AppendMsgpack(%s): %v", in, err)
		}
		got, gotAtts, n, err := c.AppendJSON(nil, mp, nil)
		if err != nil || n != len(mp) {
			t.Fatalf("AppendJSON(%x) = %v, consumed %d of %d", mp, err, n, len(mp))
		}
		if string(got) != want {
			t.Errorf("%s: round trip gives %s, want %s", in, got, want)
		}
		if !reflect.DeepEqual(nonNil(gotAtts), nonNil(atts)) {
			t.Errorf("%s: attachments %x, want %x", in, gotAtts, atts)
		}
	}
	f(`1.0`, `1`)
	f(`-0`, `0`)
	f(`1e2`, `100`)
	f(`1E-7`, `1e-7`)
	f(`9007199254740991`, `9007199254740991`)
	f(`123456789012345678`, `123456789012345680`) // as JavaScript reads it
	f(`-9223372036854775808`, `-9223372036854776000`)
	f(`18446744073709551615`, `18446744073709552000`)
	f(`1e400`, `null`) // JSON.parse gives Infinity, JSON.stringify null
	f(`"\u00e9\ud83d\ude00\n"`, `"é😀\n"`)
	f(`"\ud800"`, `"`+"\uFFFD"+`"`)
	f(`"\/"`, `"/"`)
	f(` { "a" : [ 1 , 2 ] } `, `{"a":[1,2]}`)
	f(`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, []byte("a"), []byte("b"))
	// Placeholders out of order come back renumbered in order.
	mp, _ := c.AppendMsgpack(nil, []byte(`[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`), [][]byte{[]byte("a"), []byte("b")})
	if _, got, _, _ := c.AppendJSON(nil, mp, nil); string(got[0]) != "b" || string(got[1]) != "a" {
		t.Errorf("reordered placeholders give attachments %q, want [b a]", got)
	}
	f(`{"_placeholder":true,"num":0,"extra":{"x":[1]}}`, `{"_placeholder":true,"num":0}`, []byte("p"))
	big := strings.Repeat("y", 70000)
	f(`"`+big+`"`, `"`+big+`"`)
	f(`{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":0}`, bytes.Repeat([]byte{9}, 70000))
}

// TestChannels checks the channel names and the escaping of glob
// characters in the PSUBSCRIBE pattern.
func TestChannels(t *testing.T) {
	f := func(got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	f(BroadcastChannel("socket.io", "/", nil), "socket.io#/#")
	f(BroadcastChannel("socket.io", "/chat", []string{"r"}), "socket.io#/chat#r#")
	f(BroadcastChannel("k", "/", []string{"a", "b"}), "k#/#")
	f(RequestChannel("socket.io", "/"), "socket.io-request#/#")
	f(ResponseChannel("socket.io", "/x"), "socket.io-response#/x#")
	f(broadcastPattern("socket.io", "/"), "socket.io#/#*")
	f(broadcastPattern("socket.io", "/org-*?[a]\\"), `socket.io#/org-\*\?\[a\]\\#*`)
}

func itoa(n int) string { return strconv.Itoa(n) }
