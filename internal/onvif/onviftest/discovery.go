package onviftest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

const (
	nsDiscovery      = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	nsAddressing2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsNetwork        = "http://www.onvif.org/ver10/network/wsdl"
)

type probe struct {
	MessageID string `xml:"Header>MessageID"`
	Action    string `xml:"Header>Action"`
	Types     string `xml:"Body>Probe>Types"`
}

// ServeDiscovery answers WS-Discovery Probes read from conn with a
// ProbeMatch naming the camera's device service address and its name and
// hardware scopes, until ctx ends (then it returns nil) or conn fails. The
// caller owns conn and the goroutine running ServeDiscovery.
func (c *Camera) ServeDiscovery(ctx context.Context, conn *net.UDPConn) error {
	buf := make([]byte, 64<<10)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			return fmt.Errorf("discovery: %w", err)
		}
		n, from, err := conn.ReadFromUDP(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("discovery: %w", err)
		}
		var p probe
		if err := xml.NewDecoder(bytes.NewReader(buf[:n])).Decode(&p); err != nil {
			continue
		}
		if !strings.HasSuffix(strings.TrimSpace(p.Action), "/discovery/Probe") || strings.TrimSpace(p.MessageID) == "" {
			continue
		}
		if t := strings.TrimSpace(p.Types); t != "" && !strings.HasSuffix(t, "NetworkVideoTransmitter") {
			continue
		}
		if _, err := conn.WriteToUDP(c.ProbeMatch(strings.TrimSpace(p.MessageID)), from); err != nil {
			return fmt.Errorf("discovery: %w", err)
		}
	}
}

// ProbeMatch is the camera's ProbeMatches datagram answering the probe
// with the given MessageID.
func (c *Camera) ProbeMatch(relatesTo string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + nsSOAP + `" xmlns:wsa="` + nsAddressing2004 + `" xmlns:d="` + nsDiscovery + `" xmlns:dn="` + nsNetwork + `">` +
		`<SOAP-ENV:Header><wsa:MessageID>urn:uuid:` + fmt.Sprintf("%x", time.Now().UnixNano()) + `</wsa:MessageID>` +
		`<wsa:RelatesTo>` + esc(relatesTo) + `</wsa:RelatesTo>` +
		`<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>` +
		`<wsa:Action>` + nsDiscovery + `/ProbeMatches</wsa:Action></SOAP-ENV:Header>` +
		`<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>` +
		`<wsa:EndpointReference><wsa:Address>` + esc(c.cfg.EndpointRef) + `</wsa:Address></wsa:EndpointReference>` +
		`<d:Types>dn:NetworkVideoTransmitter</d:Types>` +
		`<d:Scopes>` + esc(c.scopes()) + `</d:Scopes>` +
		`<d:XAddrs>` + esc(c.URL()) + `</d:XAddrs>` +
		`<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
}
