package main

import (
	"encoding/json"
	"io"
	"net/url"
)

// secretEnv are the settings whose values "sioloop config" does not print.
var secretEnv = map[string]bool{"ADMIN_TOKEN": true, "JWT_SECRET": true, "REDIS_PASSWORD": true, "REDIS_SENTINEL_PASSWORD": true}

// SettingValue is one line of "sioloop config": a setting and the value
// the server would run with.
type SettingValue struct {
	Env     string `json:"env"`
	Flag    string `json:"flag"`
	Default string `json:"default"`
	Usage   string `json:"usage"`
	// Value is the variable's value, or Default when it is unset or empty;
	// "(set)" for a secret, and REDIS_URL with its password hidden.
	Value string `json:"value"`
}

// checkConfig is the "sioloop config" subcommand: it reads the
// configuration from the environment exactly as the server does and, when
// it is valid, writes every setting with its value to out as a JSON array
// and returns 0; otherwise it returns the error, which the server would
// stop with (exit code 2). Use it to check a deployment's environment
// before rolling it out; tools/shipcheck checks deploy/ and README.md
// with it.
func checkConfig(getenv func(string) string, out io.Writer) error {
	if _, err := LoadConfig(nil, getenv, io.Discard); err != nil {
		return err
	}
	settings := Settings()
	vals := make([]SettingValue, len(settings))
	for i, s := range settings {
		v, ok := lookup(getenv, s.Env)
		switch {
		case !ok:
			v = s.Default
		case secretEnv[s.Env]:
			v = "(set)"
		case s.Env == "REDIS_URL":
			if u, err := url.Parse(v); err == nil {
				v = u.Redacted()
			}
		}
		vals[i] = SettingValue{s.Env, s.Flag, s.Default, s.Usage, v}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(vals)
}
