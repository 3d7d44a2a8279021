package onvif

import (
	"testing"
	"time"
	"unicode/utf8"
)

const pullSeed = `<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics">
<env:Body><tev:PullMessagesResponse><tev:CurrentTime>2026-12-05T12:00:00Z</tev:CurrentTime><tev:TerminationTime>2026-12-05T12:01:00Z</tev:TerminationTime>
<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
<wsnt:Message><tt:Message UtcTime="2026-12-05T12:00:00.5Z" PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="00000"/><tt:SimpleItem Name="Rule" Value="MyMotionDetectorRule"/></tt:Source>
<tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
<wsnt:NotificationMessage><wsnt:Topic>tns1:VideoSource/MotionAlarm</wsnt:Topic>
<wsnt:Message><tt:Message UtcTime="2026-12-05T12:00:01Z"><tt:Source><tt:SimpleItem Name="Source" Value="VideoSource_1"/></tt:Source>
<tt:Data><tt:SimpleItem Name="State" Value="false"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
<wsnt:NotificationMessage><wsnt:Topic>tns1:Device/Trigger/DigitalInput</wsnt:Topic>
<wsnt:Message><tt:Message UtcTime="2026-12-05T12:00:02Z"><tt:Data><tt:SimpleItem Name="LogicalState" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
</tev:PullMessagesResponse></env:Body></env:Envelope>`

func TestParseNotifications(t *testing.T) {
	var r pullResponse
	if fault, err := decodeEnvelope([]byte(pullSeed), &r); err != nil || fault != nil {
		t.Fatal(fault, err)
	}
	ms := motions(r, time.Hour, time.Now)
	if len(ms) != 2 {
		t.Fatalf("got %d motions, want 2 (the digital input is not motion): %+v", len(ms), ms)
	}
	want := []Motion{
		{Time: time.Date(2026, 12, 5, 11, 0, 0, 5e8, time.UTC), Active: true, Source: "00000"},
		{Time: time.Date(2026, 12, 5, 11, 0, 1, 0, time.UTC), Active: false, Source: "VideoSource_1"},
	}
	for i := range want {
		if !ms[i].Time.Equal(want[i].Time) || ms[i].Active != want[i].Active || ms[i].Source != want[i].Source {
			t.Errorf("motion %d = %+v, want %+v", i, ms[i], want[i])
		}
	}
	if left, ok := camTimes(r.CurrentTime, r.TerminationTime); !ok || left != time.Minute {
		t.Errorf("termination in %v (%v), want 1m", left, ok)
	}
}

func FuzzNotifications(f *testing.F) {
	f.Add([]byte(pullSeed))
	f.Add([]byte(`<Envelope><Body><PullMessagesResponse><NotificationMessage><Topic>x:RuleEngine/CellMotionDetector/Motion//.</Topic><Message><Message><Data><SimpleItem Name="IsMotion" Value="1"/></Data></Message></Message></NotificationMessage></PullMessagesResponse></Body></Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r pullResponse
		fault, err := decodeEnvelope(data, &r)
		if fault != nil {
			_ = fault.Error()
			return
		}
		if err != nil {
			return
		}
		now := time.Now()
		ms := motions(r, 0, func() time.Time { return now })
		if len(ms) > maxMotionsPerPull {
			t.Fatalf("%d motions from one response", len(ms))
		}
		for _, m := range ms {
			if len(m.Source) > 256 || !utf8.ValidString(m.Source) {
				t.Fatalf("source %q", m.Source)
			}
		}
	})
}

func FuzzProbeMatches(f *testing.F) {
	f.Add([]byte(`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><e:Header><a:RelatesTo>uuid:p</a:RelatesTo></e:Header><e:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference><d:Scopes>onvif://www.onvif.org/name/A%20B onvif://www.onvif.org/hardware/X</d:Scopes><d:XAddrs>http://10.0.0.2/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		devs := parseProbeMatches(data, "uuid:p")
		if len(devs) > maxMatchesPerDatagram {
			t.Fatalf("%d devices from one datagram", len(devs))
		}
		for _, d := range devs {
			if d.EndpointRef == "" || len(d.XAddrs) == 0 || len(d.XAddrs) > maxXAddrs || len(d.Scopes) > maxScopes {
				t.Fatalf("device %+v", d)
			}
			if len(d.Name) > 256 || len(d.Hardware) > 256 || !utf8.ValidString(d.Name) {
				t.Fatalf("name %q hardware %q", d.Name, d.Hardware)
			}
		}
	})
}
