package http1

import "bytes"

// Parse parses a request head from b into r, which it resets first. It
// returns the number of bytes of the head (also r.HeaderLen) on success;
// ErrNeedMore while b holds no complete head and is shorter than maxHeader;
// ErrHeaderTooLarge (431) when the first maxHeader bytes hold no complete
// head; or another *Error (400, 431, 501, 505) when the request is malformed
// (see the package doc for the rules). maxHeader <= 0 means DefaultMaxHeader;
// values above 1 GiB count as 1 GiB. The body is not consumed: it is the
// r.ContentLength bytes after HeaderLen. After an error r holds nothing useful.
func Parse(r *Request, b []byte, maxHeader int) (consumed int, err error) {
	*r = Request{ContentLength: -1}
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeader
	}
	maxHeader = min(maxHeader, maxHeaderLimit)
	lim := b
	if len(lim) > maxHeader {
		lim = lim[:maxHeader]
	}
	needMore := ErrNeedMore
	if len(b) >= maxHeader {
		needMore = ErrHeaderTooLarge
	}

	// RFC 9112 §2.2: "a server that is expecting to receive and parse a
	// request-line SHOULD ignore at least one empty line (CRLF) received prior
	// to the request-line."
	pos := 0
	for len(lim)-pos >= 2 && lim[pos] == '\r' && lim[pos+1] == '\n' {
		pos += 2
	}
	eol := bytes.IndexByte(lim[pos:], '\n')
	if eol < 0 {
		if err := checkMethodPrefix(lim[pos:]); err != nil {
			return 0, err
		}
		return 0, needMore
	}
	line, crlf := lim[pos:pos+eol], false
	if eol > 0 && line[eol-1] == '\r' {
		line, crlf = line[:eol-1], true
	}
	var p parser
	if err := p.requestLine(r, line); err != nil {
		return 0, err
	}
	if !crlf {
		return 0, ErrBareLF
	}
	pos += eol + 1

	for {
		eol := bytes.IndexByte(lim[pos:], '\n')
		if eol < 0 {
			return 0, needMore
		}
		if eol == 0 || lim[pos+eol-1] != '\r' {
			return 0, ErrBareLF
		}
		if eol == 1 { // the empty line that ends the head
			pos += 2
			break
		}
		if err := p.field(r, lim, pos, pos+eol-1); err != nil {
			return 0, err
		}
		pos += eol + 1
	}
	if err := p.finish(r); err != nil {
		return 0, err
	}
	r.HeaderLen = pos
	r.head = b[:pos:pos]
	return pos, nil
}

// checkMethodPrefix fails early when the start of an incomplete request line
// cannot begin a method, so garbage (a TLS ClientHello, say) is refused at
// once instead of after maxHeader bytes. It reports the error Parse will
// report once the line is complete: a trailing CR may still be followed by LF.
func checkMethodPrefix(b []byte) error {
	for i, c := range b {
		switch {
		case isToken[c]:
		case c == ' ':
			if i == 0 {
				return ErrBadMethod
			}
			return nil
		case c == '\r' && i == len(b)-1:
			return nil
		default:
			return ErrBadMethod
		}
	}
	return nil
}

// parser holds what Parse learns across header lines; it lives on the stack.
type parser struct {
	hosts       int    // Host lines
	absHost     []byte // authority of an absolute-form target
	cl          []byte // first Content-Length value
	te          int    // Transfer-Encoding lines
	teIsChunked bool   // the last Transfer-Encoding value is exactly "chunked"
	teChunked   int    // of which "chunked"
	teLastChunk bool   // the last coding listed is "chunked"
	connClose   bool
	connKeep    bool
	connUpgrade bool
	upgrades    int  // Upgrade lines
	upgradeIsWS bool // the Upgrade value is "websocket"
}

// requestLine parses "method SP request-target SP HTTP-version" (RFC 9112 §3),
// checking the parts in the order net/http does: method, version, target.
func (p *parser) requestLine(r *Request, line []byte) error {
	i := 0
	for i < len(line) && isToken[line[i]] {
		i++
	}
	switch {
	case i == len(line):
		return ErrBadRequestLine
	case line[i] != ' ' || i == 0:
		return ErrBadMethod
	}
	r.Method = line[:i:i]
	rest := line[i+1:]
	j := indexCtl(rest, ' '+1)
	switch {
	case j < 0:
		return ErrBadRequestLine
	case rest[j] != ' ' || j == 0:
		return ErrBadTarget
	}
	v := rest[j+1:]
	// RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, case-sensitive.
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return ErrBadRequestLine
	}
	if v[5] != '1' || v[7] > '1' {
		return ErrVersion
	}
	r.Minor = int(v[7] - '0')
	return p.target(r, rest[:j:j])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// target parses the request-target (RFC 9112 §3.2). Its bytes are already
// known to be neither controls, SP nor DEL.
func (p *parser) target(r *Request, uri []byte) error {
	r.URI = uri
	pq := uri // path and query
	switch {
	case uri[0] == '/': // origin-form
	case len(uri) == 1 && uri[0] == '*': // asterisk-form, for OPTIONS
		r.Path = uri
		return nil
	default: // absolute-form, http and https only
		var rest []byte
		switch {
		case len(uri) > 7 && lowerEq(uri[:7], "http://"):
			rest = uri[7:]
		case len(uri) > 8 && lowerEq(uri[:8], "https://"):
			rest = uri[8:]
		default:
			return ErrBadTarget
		}
		k := 0
		for k < len(rest) && rest[k] != '/' && rest[k] != '?' {
			k++
		}
		if !validAuthority(rest[:k]) {
			return ErrBadTarget
		}
		p.absHost = rest[:k:k]
		pq = rest[k:]
	}
	q := bytes.IndexByte(pq, '?')
	path := pq
	if q >= 0 {
		path = pq[:q]
	}
	// url.ParseRequestURI refuses a bad percent-encoding before the query
	// (RFC 3986 §2.1: pct-encoded = "%" HEXDIG HEXDIG); so do we.
	for i := 0; i < len(path); i++ {
		if path[i] == '%' && (i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2])) {
			return ErrBadTarget
		}
	}
	if h := bytes.IndexByte(path, '#'); h >= 0 {
		path = path[:h]
	} else if q >= 0 {
		query := pq[q+1:]
		if h := bytes.IndexByte(query, '#'); h >= 0 {
			query = query[:h]
		}
		r.RawQuery = query[:len(query):len(query)]
	}
	r.Path = path[:len(path):len(path)]
	return nil
}

// validAuthority accepts host [":" port] with a reg-name or IPv4 host (RFC
// 3986 §3.2.2, no percent-encoding, no userinfo, no IP literal) and a decimal,
// possibly empty, port (§3.2.3).
func validAuthority(a []byte) bool {
	i := 0
	for i < len(a) && isRegName[a[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	if i == len(a) {
		return true
	}
	if a[i] != ':' {
		return false
	}
	for _, c := range a[i+1:] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// field parses the header line b[start:end] (without CRLF) and records it.
func (p *parser) field(r *Request, b []byte, start, end int) error {
	line := b[start:end]
	// RFC 9112 §5.2: "A server that receives an obs-fold in a request message
	// ... MUST either reject the message by sending a 400 (Bad Request)"; §2.2
	// allows the same for whitespace before the first field line.
	if line[0] == ' ' || line[0] == '\t' {
		return ErrObsFold
	}
	i := 0
	for i < len(line) && isToken[line[i]] {
		i++
	}
	// RFC 9112 §5.1: "No whitespace is allowed between the field name and
	// colon. ... A server MUST reject, with a response status code of 400".
	if i == 0 || i == len(line) || line[i] != ':' {
		return ErrBadHeaderName
	}
	if !validValue(line[i+1:]) {
		return ErrBadHeaderValue
	}
	if r.n == MaxHeaders {
		return ErrTooManyHeaders
	}
	v0, v1 := start+i+1, end
	for v0 < v1 && (b[v0] == ' ' || b[v0] == '\t') {
		v0++
	}
	for v1 > v0 && (b[v1-1] == ' ' || b[v1-1] == '\t') {
		v1--
	}
	r.fields[r.n] = field{int32(start), int32(start + i), int32(v0), int32(v1)}
	r.n++
	return p.known(r, line[:i], b[v0:v1:v1])
}

// finish applies the rules that need the whole head.
func (p *parser) finish(r *Request) error {
	// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status
	// code to any HTTP/1.1 request message that lacks a Host header field".
	if p.hosts == 0 && r.Minor == 1 {
		return ErrMissingHost
	}
	if p.absHost != nil {
		// RFC 9112 §3.2.2: the server "MUST ignore the received Host header
		// field (if any) and instead use the host information of the
		// request-target."
		r.Host = p.absHost
	}
	if p.te > 0 {
		switch {
		case r.Minor == 0:
			// RFC 9112 §6.1: "A server or client that receives an HTTP/1.0
			// message containing a Transfer-Encoding header field MUST treat
			// the message as if the framing is faulty".
			return ErrBadTransferEncoding
		case p.cl != nil:
			// RFC 9112 §6.1: such a message "ought to be handled as an error".
			return ErrLengthAndChunked
		case p.te == 1 && p.teIsChunked:
			// Like net/http and nginx, only one Transfer-Encoding line whose
			// value is exactly "chunked": this is where request smuggling hides.
			r.Chunked = true
		case p.teLastChunk && p.teChunked == 1:
			return ErrUnsupportedTransferEncoding
		default:
			// RFC 9112 §6.3: "If a Transfer-Encoding header field is present
			// in a request and the chunked transfer coding is not the final
			// encoding, ... the server MUST respond with the 400".
			return ErrBadTransferEncoding
		}
	}
	if r.Minor == 1 {
		r.KeepAlive = !p.connClose
	} else {
		r.KeepAlive = p.connKeep && !p.connClose
	}
	r.Upgrade = p.connUpgrade && p.upgrades == 1 && p.upgradeIsWS
	return nil
}
