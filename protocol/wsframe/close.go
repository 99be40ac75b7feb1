package wsframe

import (
	"encoding/binary"
	"unicode/utf8"
)

// Close status codes (RFC 6455 §7.4.1 and the IANA WebSocket Close Code
// Number Registry).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	// CloseNoStatus (1005) is what ParseClose reports for an empty Close
	// payload; it is never sent on the wire.
	CloseNoStatus        = 1005
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseMandatoryExt    = 1010
	CloseInternalError   = 1011
	CloseServiceRestart  = 1012
	CloseTryAgainLater   = 1013
	CloseBadGateway      = 1014
)

const (
	closeFirstApplication = 3000 // RFC 6455 §7.4.2: 3000-3999 libraries, 4000-4999 private use
	closeLastPrivate      = 4999
	maxCloseReason        = MaxControlPayload - 2 // the code takes 2 of the 125 bytes
)

// ValidCloseCode reports whether code may appear in a Close frame: 1000-1003
// and 1007-1011 from RFC 6455 §7.4.1, 1012-1014 registered with IANA since, and
// 3000-4999 for libraries and applications (§7.4.2). 1004 is reserved and 1005,
// 1006 and 1015 "MUST NOT be set as a status code in a Close control frame".
// This is the rule of Node's ws (isValidStatusCode), which we match.
func ValidCloseCode(code int) bool {
	switch {
	case code >= CloseNormal && code <= CloseUnsupportedData:
		return true
	case code >= CloseInvalidPayload && code <= CloseBadGateway:
		return true
	}
	return code >= closeFirstApplication && code <= closeLastPrivate
}

// ParseClose parses the payload of a client Close frame, already unmasked
// (RFC 6455 §5.5.1): an optional 2-byte big-endian code followed by a UTF-8
// reason. An empty payload gives CloseNoStatus, as §7.1.5 says ("If this Close
// control frame contains no status code, _The WebSocket Connection Close Code_
// is considered to be 1005"). A 1-byte payload fails with ErrBadClosePayload, a
// code that ValidCloseCode refuses with ErrBadCloseCode (both close 1002), and
// a reason that is not UTF-8 with ErrInvalidUTF8 (close 1007). The reason
// aliases payload.
func ParseClose(payload []byte) (code int, reason []byte, err error) {
	switch len(payload) {
	case 0:
		return CloseNoStatus, nil, nil
	case 1:
		return 0, nil, ErrBadClosePayload
	}
	code = int(binary.BigEndian.Uint16(payload))
	if !ValidCloseCode(code) {
		return 0, nil, ErrBadCloseCode
	}
	reason = payload[2:]
	if !utf8.Valid(reason) {
		return 0, nil, ErrInvalidUTF8
	}
	return code, reason, nil
}

// AppendClose appends a complete unmasked Close frame carrying code and
// reason. The reason is cut at a character boundary to fit the 125-byte
// control payload (RFC 6455 §5.5). When code cannot be sent (ValidCloseCode
// is false: 0, 1005, 1006...) the frame has an empty payload and the reason is
// dropped, which §5.5.1 allows: "The Close frame MAY contain a body".
func AppendClose(dst []byte, code int, reason string) []byte {
	if !ValidCloseCode(code) {
		return append(dst, 0x80|byte(OpClose), 0)
	}
	if len(reason) > maxCloseReason {
		cut := maxCloseReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = append(dst, 0x80|byte(OpClose), byte(2+len(reason)), byte(code>>8), byte(code))
	return append(dst, reason...)
}
