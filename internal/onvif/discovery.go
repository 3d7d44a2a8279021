package onvif

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// WS-Discovery (2005/04) as ONVIF uses it.
const (
	discoveryAddr      = "239.255.255.250:3702"
	nsDiscovery        = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	nsAddressing2004   = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsNetwork          = "http://www.onvif.org/ver10/network/wsdl"
	actionProbe        = nsDiscovery + "/Probe"
	actionProbeMatches = nsDiscovery + "/ProbeMatches"

	// MaxDatagram is the largest discovery datagram read.
	MaxDatagram = 64 << 10
	// DefaultMaxDevices bounds how many devices one Discover returns.
	DefaultMaxDevices     = 256
	maxScopes             = 64
	maxXAddrs             = 8
	maxMatchesPerDatagram = 16
)

// DiscoverConfig says where and how long to probe.
type DiscoverConfig struct {
	// Target is the address probes go to; the WS-Discovery multicast
	// group 239.255.255.250:3702 when empty. Tests use a loopback address.
	Target string
	// Timeout is how long matches are collected; 3 s when zero.
	Timeout time.Duration
	// MaxDevices bounds the result (DefaultMaxDevices when zero);
	// Discover returns as soon as it has that many.
	MaxDevices int
}

// Device is a camera that answered a probe.
type Device struct {
	// EndpointRef is the device's stable WS-Addressing endpoint reference,
	// usually "urn:uuid:...".
	EndpointRef string
	// XAddrs are the device service addresses it announced (http or https).
	XAddrs   []string
	Name     string // from the onvif://www.onvif.org/name/ scope, unescaped
	Hardware string // from the onvif://www.onvif.org/hardware/ scope, unescaped
	Scopes   []string
}

// Discover sends a WS-Discovery Probe for NetworkVideoTransmitters and
// collects the ProbeMatches that answer it (by RelatesTo) until the timeout,
// ctx's end, or MaxDevices devices. Devices are deduplicated by endpoint
// reference. Datagrams that do not parse or answer another probe are
// ignored. ctx ending early is not an error: what was found is returned.
func Discover(ctx context.Context, cfg DiscoverConfig) ([]Device, error) {
	target := cfg.Target
	if target == "" {
		target = discoveryAddr
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	limit := cfg.MaxDevices
	if limit <= 0 {
		limit = DefaultMaxDevices
	}
	raddr, err := net.ResolveUDPAddr("udp4", target)
	if err != nil {
		return nil, fmt.Errorf("onvif discover: target: %w", err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return nil, fmt.Errorf("onvif discover: listen: %w", err)
	}
	defer conn.Close()

	msgID, err := uuidURN()
	if err != nil {
		return nil, fmt.Errorf("onvif discover: %w", err)
	}
	probe := probeMessage(msgID)
	// UDP may drop a datagram; WS-Discovery repeats multicast messages, and
	// the same MessageID lets devices ignore the repeat.
	for range 2 {
		if _, err := conn.WriteToUDP(probe, raddr); err != nil {
			return nil, fmt.Errorf("onvif discover: send probe: %w", err)
		}
	}

	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var devices []Device
	seen := make(map[string]bool)
	buf := make([]byte, MaxDatagram)
	for len(devices) < limit {
		// Short reads so that ctx is looked at without another goroutine.
		step := time.Now().Add(200 * time.Millisecond)
		if step.After(deadline) {
			step = deadline
		}
		if err := conn.SetReadDeadline(step); err != nil {
			return devices, fmt.Errorf("onvif discover: %w", err)
		}
		n, _, err := conn.ReadFromUDP(buf)
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return devices, fmt.Errorf("onvif discover: read: %w", err)
		}
		for _, d := range parseProbeMatches(buf[:n], msgID) {
			if seen[d.EndpointRef] || len(devices) == limit {
				continue
			}
			seen[d.EndpointRef] = true
			devices = append(devices, d)
		}
	}
	return devices, nil
}

func probeMessage(msgID string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddressing2004 + `" xmlns:d="` + nsDiscovery + `" xmlns:dn="` + nsNetwork + `">` +
		`<s:Header><a:MessageID>` + msgID + `</a:MessageID>` +
		`<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>` +
		`<a:Action s:mustUnderstand="1">` + actionProbe + `</a:Action></s:Header>` +
		`<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`)
}

// uuidURN makes a random (version 4) UUID as a URN.
func uuidURN() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

type probeMatches struct {
	RelatesTo string `xml:"Header>RelatesTo"`
	Matches   []struct {
		Address string `xml:"EndpointReference>Address"`
		Types   string `xml:"Types"`
		Scopes  string `xml:"Scopes"`
		XAddrs  string `xml:"XAddrs"`
	} `xml:"Body>ProbeMatches>ProbeMatch"`
}

// parseProbeMatches reads a ProbeMatches datagram answering the probe msgID;
// anything else yields nothing.
func parseProbeMatches(data []byte, msgID string) []Device {
	if len(data) > MaxDatagram {
		return nil
	}
	var pm probeMatches
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	if err := d.Decode(&pm); err != nil {
		return nil
	}
	if strings.TrimSpace(pm.RelatesTo) != msgID {
		return nil
	}
	var out []Device
	for i, m := range pm.Matches {
		if i == maxMatchesPerDatagram {
			break
		}
		dev, ok := deviceFromMatch(m.Address, m.Scopes, m.XAddrs)
		if ok {
			out = append(out, dev)
		}
	}
	return out
}

func deviceFromMatch(addr, scopes, xaddrs string) (Device, bool) {
	dev := Device{EndpointRef: clean(addr)}
	for _, x := range strings.Fields(xaddrs) {
		if len(dev.XAddrs) == maxXAddrs {
			break
		}
		u, err := url.Parse(x)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(x) > maxAddr {
			continue
		}
		dev.XAddrs = append(dev.XAddrs, x)
	}
	if len(dev.XAddrs) == 0 {
		return Device{}, false
	}
	if dev.EndpointRef == "" {
		// A device without an endpoint reference is known by its address.
		dev.EndpointRef = dev.XAddrs[0]
	}
	for _, s := range strings.Fields(scopes) {
		if len(dev.Scopes) == maxScopes {
			break
		}
		if len(s) > 512 {
			continue
		}
		dev.Scopes = append(dev.Scopes, s)
		if v, ok := scopeValue(s, "name"); ok && dev.Name == "" {
			dev.Name = v
		}
		if v, ok := scopeValue(s, "hardware"); ok && dev.Hardware == "" {
			dev.Hardware = v
		}
	}
	return dev, true
}

// scopeValue reads onvif://www.onvif.org/<kind>/<value>, URL-unescaped.
func scopeValue(scope, kind string) (string, bool) {
	prefix := "onvif://www.onvif.org/" + kind + "/"
	if len(scope) < len(prefix) || !strings.EqualFold(scope[:len(prefix)], prefix) {
		return "", false
	}
	v, err := url.PathUnescape(scope[len(prefix):])
	if err != nil {
		return "", false
	}
	return clean(v), true
}
