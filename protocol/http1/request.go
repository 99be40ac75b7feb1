package http1

// MaxHeaders is the number of header lines a Request can hold; Parse refuses
// a request with more with ErrTooManyHeaders (431).
const MaxHeaders = 64

// DefaultMaxHeader is the head size limit Parse applies when maxHeader <= 0:
// 16 KiB, Node's default --max-http-header-size.
const DefaultMaxHeader = 16 << 10

// maxHeaderLimit caps maxHeader so header offsets fit in an int32.
const maxHeaderLimit = 1 << 30

// field locates one header line in the input: name [n0:n1), value [v0:v1).
// Offsets instead of slices keep Request small (16 bytes per header, not 48).
type field struct{ n0, n1, v0, v1 int32 }

// Request is a parsed request head. All slices alias the input passed to
// Parse and are valid until the caller discards those bytes. A header that is
// absent leaves its field nil; a header present with an empty value gives an
// empty, non-nil slice. Values are trimmed of surrounding spaces and tabs. When
// a header other than Host appears more than once, the named field holds the
// first value; Headers and HeaderAt see every line.
type Request struct {
	Method   []byte
	URI      []byte // the raw request-target
	Path     []byte // URI before '?' and '#', still percent-encoded (empty for "http://host")
	RawQuery []byte // after '?' and before '#'; nil when the target has no '?'
	Minor    int    // HTTP/1.<Minor>: 0 or 1

	// ContentLength is the Content-Length value, -1 when absent.
	ContentLength int64
	// KeepAlive tells whether the connection stays open after this request:
	// HTTP/1.1 unless Connection lists "close", HTTP/1.0 only if it lists
	// "keep-alive" and not "close" (RFC 9112 §9.3).
	KeepAlive bool
	// Upgrade is true when Connection lists the token "upgrade" and the single
	// Upgrade header equals "websocket", both case-insensitive (RFC 6455
	// §4.2.1; Node's ws compares Upgrade the same way).
	Upgrade bool
	// Chunked is true for "Transfer-Encoding: chunked". This package does not
	// decode chunked bodies; the server answers 411 Length Required.
	Chunked bool

	// Host is the Host header, or the authority of an absolute-form target.
	Host                        []byte
	Origin                      []byte
	WSKey                       []byte // Sec-WebSocket-Key
	WSVersion                   []byte // Sec-WebSocket-Version
	WSProtocol                  []byte // Sec-WebSocket-Protocol
	WSExtensions                []byte // Sec-WebSocket-Extensions
	ContentType                 []byte
	Cookie                      []byte
	UserAgent                   []byte
	XForwardedFor               []byte
	AccessControlRequestHeaders []byte
	Authorization               []byte
	Accept                      []byte

	// HeaderLen is the size of the head, from the first byte of b (including
	// any empty lines skipped before the request line) to the final CRLF CRLF
	// included. The body starts at b[HeaderLen:].
	HeaderLen int

	head   []byte // b[:HeaderLen]
	n      int    // header lines in fields
	fields [MaxHeaders]field
}

// NumHeaders returns the number of header lines.
func (r *Request) NumHeaders() int { return r.n }

// HeaderAt returns the name, as sent, and the trimmed value of header line i,
// in arrival order; nil, nil when i is out of range.
func (r *Request) HeaderAt(i int) (name, value []byte) {
	if i < 0 || i >= r.n {
		return nil, nil
	}
	f := r.fields[i]
	return r.head[f.n0:f.n1:f.n1], r.head[f.v0:f.v1:f.v1]
}

// Headers calls fn for every header line in arrival order. The slices alias
// the input, like every field of Request.
func (r *Request) Headers(fn func(name, value []byte)) {
	for i := range r.n {
		fn(r.HeaderAt(i))
	}
}

// Header returns the value of the first header line named name, compared
// case-insensitively (RFC 9110 §5.1), and whether there is one.
func (r *Request) Header(name string) (value []byte, ok bool) {
	for i := range r.n {
		f := r.fields[i]
		if equalFold(r.head[f.n0:f.n1], name) {
			return r.head[f.v0:f.v1:f.v1], true
		}
	}
	return nil, false
}

// equalFold reports whether b and s are equal under ASCII case folding.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// lowerEq reports whether b equals lower, a lower-case constant of letters,
// digits, '-', ':' and '/', under ASCII case folding. It folds with one OR:
// for bytes Parse has already validated (no controls), c|0x20 hits a letter
// only for that letter's two cases, and leaves digits, '-', ':' and '/' as
// they are.
func lowerEq(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		if b[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}
