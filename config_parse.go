package main

// The parsers of the settings' values: each reads one value into its
// field or says what was expected; LoadConfig names the variable.

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"sioloop/loop"
	"strconv"
	"strings"
	"time"
)

// parseHTTPURL parses an http:// or https:// URL with a host.
func parseHTTPURL(v string, dst *string) error {
	if v == "" {
		*dst = ""
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL like https://idp.example.com/.well-known/jwks.json")
	}
	*dst = v
	return nil
}

// parseHookURL parses a backend hook URL: http:// or https:// with a host.
func parseHookURL(v string, dst *string) error {
	if v == "" {
		*dst = ""
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL like http://backend:8080/hooks/connect")
	}
	*dst = v
	return nil
}

// parseSubscriptionMode reads REDIS_SUBSCRIPTION_MODE.
func parseSubscriptionMode(v string, dst *string) error {
	if v != "dynamic" && v != "static" && v != "dynamic-private" {
		return errors.New("want dynamic, static or dynamic-private")
	}
	*dst = v
	return nil
}

// parseAddrs reads a comma-separated list of host:port.
func parseAddrs(v string, dst *[]string) error {
	list := splitList(v)
	for _, a := range list {
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q is not host:port: want a list like 10.0.0.1:26379,10.0.0.2:26379", a)
		}
	}
	*dst = list
	return nil
}

// parseRedisKey refuses an empty key and the glob characters Redis's
// PSUBSCRIBE patterns would misread.
func parseRedisKey(v string, dst *string) error {
	if v == "" || strings.ContainsAny(v, "*?[]\\ ") {
		return errors.New(`want a non-empty prefix without spaces or * ? [ ] \ like socket.io`)
	}
	*dst = v
	return nil
}

// parseRedisAdapter reads REDIS_ADAPTER.
func parseRedisAdapter(v string, dst *string) error {
	if v != "pubsub" && v != "streams" && v != "sharded" {
		return errors.New("want pubsub, streams or sharded")
	}
	*dst = v
	return nil
}

// parseStreamName refuses an empty name and one with spaces.
func parseStreamName(v string, dst *string) error {
	if v == "" || strings.ContainsAny(v, " \t\r\n") {
		return errors.New("want a Redis key without spaces like socket.io")
	}
	*dst = v
	return nil
}

func parsePort(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("want a TCP port number from 0 to 65535")
	}
	*dst = n
	return nil
}

func parseBool(v string, dst *bool) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*dst = b
	return nil
}

func parseAutoOff(v string, dst *bool) error {
	switch v {
	case "auto":
		*dst = true
	case "off":
		*dst = false
	default:
		return errors.New("want auto or off")
	}
	return nil
}

func parseDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return errors.New("want a positive duration like 20s or 300ms")
	}
	*dst = d
	return nil
}

// parseDurationOrOff is parseDuration where "0" (and "", a default of
// off) means off.
func parseDurationOrOff(v string, dst *time.Duration) error {
	if v == "" {
		*dst = 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("want a duration like 30s, or 0 for off")
	}
	*dst = d
	return nil
}

func parseSize(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return errors.New("want a positive number of bytes")
	}
	*dst = n
	return nil
}

func parseLimit(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return errors.New("want a positive whole number")
	}
	*dst = n
	return nil
}

// parseLimitOrOff parses a bound where 0 means off.
func parseLimitOrOff(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return errors.New("want a whole number, or 0 for off")
	}
	*dst = n
	return nil
}

// parseRate parses a rate per second such as 100 or 0.5; 0 means off.
func parseRate(v string, dst *float64) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return errors.New("want a number per second like 100 or 0.5, or 0 for off")
	}
	*dst = f
	return nil
}

// parseEventRate parses MAX_EVENTS_PER_SECOND: a rate, at most
// loop.MaxEventRate.
func parseEventRate(v string, dst *float64) error {
	var f float64
	if err := parseRate(v, &f); err != nil {
		return err
	}
	if f > loop.MaxEventRate {
		return errors.New("want at most 1000000 events per second, or 0 for off")
	}
	*dst = f
	return nil
}

// parseEventBurst parses EVENT_BURST: at most loop.MaxEventBurst.
func parseEventBurst(v string, dst *int) error {
	var n int
	if err := parseLimitOrOff(v, &n); err != nil {
		return err
	}
	if n > loop.MaxEventBurst {
		return errors.New("want at most 1000000, or 0 for MAX_EVENTS_PER_SECOND rounded up")
	}
	*dst = n
	return nil
}

// parsePrefixes parses a comma-separated list of CIDRs; a bare address is
// the network of that one address.
func parsePrefixes(v string, dst *[]netip.Prefix) error {
	var out []netip.Prefix
	for _, p := range splitList(v) {
		if a, err := netip.ParseAddr(p); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		n, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR like 10.0.0.0/8 or an address", p)
		}
		if n.Addr().Is4In6() && n.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 holds IPv4 clients, which count as IPv4.
			n = netip.PrefixFrom(n.Addr().Unmap(), n.Bits()-96)
		}
		out = append(out, n.Masked())
	}
	*dst = out
	return nil
}

func parseCount(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 256 {
		return errors.New("want a number from 0 to 256")
	}
	*dst = n
	return nil
}

func parsePath(v string, dst *string) error {
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "?# ") {
		return errors.New(`want an absolute URL path like /socket.io/`)
	}
	*dst = v
	return nil
}

func parseNamespaces(v string, dst *[]string) error {
	list := splitList(v)
	for _, n := range list {
		if !strings.HasPrefix(n, "/") || strings.ContainsAny(n, ",? ") {
			return fmt.Errorf("namespace %q: want names starting with / such as /chat or /org-*", n)
		}
	}
	*dst = list
	return nil
}

func parseLevel(v string, dst *slog.Level) error {
	if err := dst.UnmarshalText([]byte(v)); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	return nil
}

func parseFormat(v string, dst *string) error {
	if v != "text" && v != "json" {
		return errors.New("want text or json")
	}
	*dst = v
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readPEM returns the PEM text of JWT_PUBLIC_KEY: the value itself, or the
// content of the file it names.
func readPEM(v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	if strings.Contains(v, "-----BEGIN") {
		return []byte(v), nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("invalid JWT_PUBLIC_KEY %q: %w", v, err)
	}
	return b, nil
}

// parseAdminUIMode parses ADMIN_UI_MODE.
func parseAdminUIMode(v string, dev *bool) error {
	switch v {
	case "production":
		*dev = false
	case "development":
		*dev = true
	default:
		return errors.New(`want "production" or "development"`)
	}
	return nil
}

// parseAdminUINamespace parses ADMIN_UI_NAMESPACE: a namespace name with
// no pattern.
func parseAdminUINamespace(v string, dst *string) error {
	if !strings.HasPrefix(v, "/") || len(v) < 2 || strings.ContainsAny(v, ",*?") {
		return errors.New(`want a namespace like /admin (a leading "/", no ',', '*' or '?')`)
	}
	*dst = v
	return nil
}
