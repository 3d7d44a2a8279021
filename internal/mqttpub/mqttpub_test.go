package mqttpub

import (
	"net"
	"testing"
)

// TestSettingsChecked: the brokers and prefixes refused, and the address
// paho is given for those accepted, with and without private targets.
func TestSettingsChecked(t *testing.T) {
	strict := New(Config{}, nil, nil, nil, nil, nil)
	home := New(Config{AllowPrivateTargets: true}, nil, nil, nil, nil, nil)
	strict.resolver, home.resolver = net.DefaultResolver, net.DefaultResolver
	for _, tc := range []struct {
		s     *Service
		in    Settings
		want  string // "" refused
		alone string // the prefix after defaults
	}{
		{strict, Settings{URL: "mqtts://93.184.215.14"}, "ssl://93.184.215.14:8883", DefaultPrefix},
		{strict, Settings{URL: "mqtts://93.184.215.14:9883", TopicPrefix: "house/cams"}, "ssl://93.184.215.14:9883", "house/cams"},
		{strict, Settings{URL: "mqtt://93.184.215.14"}, "", ""},
		{strict, Settings{URL: "mqtts://127.0.0.1"}, "", ""},
		{strict, Settings{URL: "mqtts://192.168.1.2"}, "", ""},
		{strict, Settings{URL: "mqtts://localhost"}, "", ""},
		{home, Settings{URL: "mqtt://192.168.1.2"}, "tcp://192.168.1.2:1883", DefaultPrefix},
		{home, Settings{URL: "mqtt://[fd00::2]:1884"}, "tcp://[fd00::2]:1884", DefaultPrefix},
		{home, Settings{URL: "mqtt://u:p@192.168.1.2"}, "", ""},
		{home, Settings{URL: "mqtt://192.168.1.2/path"}, "", ""},
		{home, Settings{URL: "mqtt://192.168.1.2:70000"}, "", ""},
		{home, Settings{URL: "ws://192.168.1.2"}, "", ""},
		{home, Settings{URL: "mqtt://192.168.1.2", TopicPrefix: "a/+/b"}, "", ""},
		{home, Settings{URL: "mqtt://192.168.1.2", TopicPrefix: "a//b"}, "", ""},
		{home, Settings{URL: "mqtt://192.168.1.2", TopicPrefix: "homeassistant"}, "", ""},
		{home, Settings{URL: "mqtt://192.168.1.2", TopicPrefix: "/a"}, "", ""},
	} {
		in := tc.in
		got, err := tc.s.check(t.Context(), &in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%+v accepted as %s", tc.in, got)
		case tc.want != "" && (err != nil || got != tc.want || in.TopicPrefix != tc.alone):
			t.Errorf("%+v: %q, prefix %q, %v; want %q, %q", tc.in, got, in.TopicPrefix, err, tc.want, tc.alone)
		}
	}
}
