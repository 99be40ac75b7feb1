package http1

import (
	"bytes"
	"math"
)

// known records the headers Request names and the ones framing depends on.
// Names are compared by length first, then case-insensitively.
func (p *parser) known(r *Request, name, v []byte) error {
	switch len(name) {
	case 4:
		if lowerEq(name, "host") {
			p.hosts++
			if p.hosts > 1 {
				return ErrDuplicateHost
			}
			for _, c := range v {
				if !isHost[c] {
					return ErrBadHost
				}
			}
			r.Host = v
		}
	case 6:
		switch {
		case lowerEq(name, "origin"):
			setFirst(&r.Origin, v)
		case lowerEq(name, "cookie"):
			setFirst(&r.Cookie, v)
		case lowerEq(name, "accept"):
			setFirst(&r.Accept, v)
		}
	case 7:
		if lowerEq(name, "upgrade") {
			p.upgrades++
			p.upgradeIsWS = lowerEq(v, "websocket")
		}
	case 10:
		switch {
		case lowerEq(name, "connection"):
			for rest := v; len(rest) > 0; {
				var el []byte
				el, rest = nextElement(rest)
				switch {
				case lowerEq(el, "close"):
					p.connClose = true
				case lowerEq(el, "keep-alive"):
					p.connKeep = true
				case lowerEq(el, "upgrade"):
					p.connUpgrade = true
				}
			}
		case lowerEq(name, "user-agent"):
			setFirst(&r.UserAgent, v)
		}
	case 12:
		if lowerEq(name, "content-type") {
			setFirst(&r.ContentType, v)
		}
	case 13:
		if lowerEq(name, "authorization") {
			setFirst(&r.Authorization, v)
		}
	case 14:
		if lowerEq(name, "content-length") {
			return p.contentLength(r, v)
		}
	case 15:
		if lowerEq(name, "x-forwarded-for") {
			setFirst(&r.XForwardedFor, v)
		}
	case 17:
		switch {
		case lowerEq(name, "sec-websocket-key"):
			setFirst(&r.WSKey, v)
		case lowerEq(name, "transfer-encoding"):
			p.te++
			p.teIsChunked = lowerEq(v, "chunked")
			for rest := v; len(rest) > 0; {
				var el []byte
				el, rest = nextElement(rest)
				if len(el) == 0 {
					continue // RFC 9110 §5.6.1: ignore empty list elements
				}
				p.teLastChunk = lowerEq(el, "chunked")
				if p.teLastChunk {
					p.teChunked++
				}
			}
		}
	case 21:
		if lowerEq(name, "sec-websocket-version") {
			setFirst(&r.WSVersion, v)
		}
	case 22:
		if lowerEq(name, "sec-websocket-protocol") {
			setFirst(&r.WSProtocol, v)
		}
	case 24:
		if lowerEq(name, "sec-websocket-extensions") {
			setFirst(&r.WSExtensions, v)
		}
	case 30:
		if lowerEq(name, "access-control-request-headers") {
			setFirst(&r.AccessControlRequestHeaders, v)
		}
	}
	return nil
}

// setFirst stores v in *dst unless an earlier line already did.
func setFirst(dst *[]byte, v []byte) {
	if *dst == nil {
		*dst = v
	}
}

// contentLength parses a Content-Length value (RFC 9110 §8.6: 1*DIGIT).
func (p *parser) contentLength(r *Request, v []byte) error {
	if p.cl != nil {
		// RFC 9110 §8.6 lets a recipient accept repeated identical values;
		// like net/http we compare the text, so "5" and "05" conflict.
		if !bytes.Equal(v, p.cl) {
			return ErrDuplicateContentLength
		}
		return nil
	}
	if len(v) == 0 {
		return ErrBadContentLength
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return ErrBadContentLength
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return ErrBadContentLength
		}
		n = n*10 + d
	}
	p.cl = v
	r.ContentLength = n
	return nil
}
