package engineio

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRequestErrors(t *testing.T) {
	// Observed from Node's engine.io.
	f := func(e *RequestError, code ErrorCode, status int, body string) {
		t.Helper()
		if e.Code != code || e.Status != status || string(e.Body) != body {
			t.Errorf("got %d %d %s; want %d %d %s", e.Code, e.Status, e.Body, code, status, body)
		}
		if e.Status != code.Status() || e.Message != code.Message() {
			t.Errorf("code %d: Status %d Message %q disagree with the ErrorCode", code, e.Status, e.Message)
		}
		if want := "engineio: " + code.Message(); !strings.HasPrefix(e.Error(), want) {
			t.Errorf("Error() = %q; want prefix %q", e.Error(), want)
		}
	}
	f(ErrUnknownTransport, UnknownTransport, 400, `{"code":0,"message":"Transport unknown"}`)
	f(ErrUnknownSID, UnknownSID, 400, `{"code":1,"message":"Session ID unknown"}`)
	f(ErrBadHandshakeMethod, BadHandshakeMethod, 400, `{"code":2,"message":"Bad handshake method"}`)
	f(ErrBadRequest, BadRequest, 400, `{"code":3,"message":"Bad request"}`)
	f(ErrForbidden, Forbidden, 403, `{"code":4,"message":"Forbidden"}`)
	f(ErrUnsupportedProtocolVersion, UnsupportedProtocolVersion, 400, `{"code":5,"message":"Unsupported protocol version"}`)

	if m := ErrorCode(6).Message(); m != "Unknown error" {
		t.Errorf("ErrorCode(6).Message() = %q", m)
	}
	if m := ErrorCode(-1).Message(); m != "Unknown error" {
		t.Errorf("ErrorCode(-1).Message() = %q", m)
	}
}

func TestNewRequestError(t *testing.T) {
	e := NewRequestError(Forbidden, `no "token"`)
	if e.Status != 403 || e.Message != `no "token"` || string(e.Body) != `{"code":4,"message":"no \"token\""}` {
		t.Errorf("NewRequestError(Forbidden, custom) = %d %q %s", e.Status, e.Message, e.Body)
	}
	var got struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(e.Body, &got); err != nil || got.Code != 4 || got.Message != `no "token"` {
		t.Errorf("body %s decodes to %+v, %v", e.Body, got, err)
	}
	if e := NewRequestError(BadRequest, ""); string(e.Body) != string(ErrBadRequest.Body) {
		t.Errorf("NewRequestError(BadRequest, \"\") body = %s", e.Body)
	}
}
