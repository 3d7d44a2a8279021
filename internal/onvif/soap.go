// Package onvif is the part of the ONVIF profile S/T the bridge needs to talk
// to IP cameras on a household's network (docs/design/onvif.md): finding
// them with WS-Discovery, reading what they are and which streams they
// offer (device and media services), and following their motion events
// through a PullPoint subscription. Everything is SOAP 1.2 over HTTP with a
// WS-Security UsernameToken; every response is bounded in size and every
// call in time.
package onvif

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Namespaces used in requests.
const (
	nsSOAP   = "http://www.w3.org/2003/05/soap-envelope"
	nsWSSE   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsWSA    = "http://www.w3.org/2005/08/addressing"
	nsDevice = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia  = "http://www.onvif.org/ver10/media/wsdl"
	nsMedia2 = "http://www.onvif.org/ver20/media/wsdl"
	nsEvents = "http://www.onvif.org/ver10/events/wsdl"
	nsSchema = "http://www.onvif.org/ver10/schema"
	nsWSNT   = "http://docs.oasis-open.org/wsn/b-2"

	passwordDigestType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	base64BinaryType   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// MaxResponse is the largest SOAP response the client reads, in bytes. A
// camera that sends more gets an error, not a bigger buffer.
const MaxResponse = 1 << 20

// callTimeout bounds one request when the caller's context allows longer.
const callTimeout = 10 * time.Second

// ErrUnauthorized is returned (wrapped) when the camera refuses the
// credentials: a ter:NotAuthorized or wsse:FailedAuthentication fault, or
// HTTP 401.
var ErrUnauthorized = errors.New("the camera refused the username or password")

// ErrNotSupported is returned (wrapped) when the camera answers that it does
// not implement an operation (ter:ActionNotSupported and similar).
var ErrNotSupported = errors.New("the camera does not support this operation")

// ErrResponseTooLarge is returned (wrapped) when a response exceeds
// MaxResponse.
var ErrResponseTooLarge = errors.New("camera response too large")

// FaultError is a SOAP fault the camera answered with.
type FaultError struct {
	Code    string // e.g. "env:Sender"
	Subcode string // e.g. "ter:NotAuthorized" (the innermost subcode)
	Reason  string
	codes   []string // every subcode, outermost first
}

func (e *FaultError) Error() string {
	var b strings.Builder
	if known := e.Unwrap(); known != nil {
		// Say what it means first; the codes are for whoever debugs it.
		b.WriteString(known.Error() + ": ")
	}
	b.WriteString("SOAP fault")
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Subcode != "" {
		b.WriteString("/" + e.Subcode)
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	return b.String()
}

// Unwrap maps well-known codes onto ErrUnauthorized and ErrNotSupported.
func (e *FaultError) Unwrap() error {
	for _, c := range append([]string{e.Code, e.Subcode}, e.codes...) {
		switch localName(c) {
		case "NotAuthorized", "FailedAuthentication", "InvalidSecurityToken", "InvalidSecurity", "FailedCheck":
			return ErrUnauthorized
		case "ActionNotSupported", "NoSuchService", "NotSupported":
			return ErrNotSupported
		}
	}
	return nil
}

// localName strips a namespace prefix: "ter:NotAuthorized" -> "NotAuthorized".
func localName(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.LastIndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

// soapFault decodes SOAP 1.2 faults and, for cameras that answer in SOAP 1.1
// whatever they are asked, 1.1 ones.
type soapFault struct {
	Code struct {
		Value   string   `xml:"Value"`
		Subcode *subcode `xml:"Subcode"`
	} `xml:"Code"`
	Reason struct {
		Text []string `xml:"Text"`
	} `xml:"Reason"`
	FaultCode   string `xml:"faultcode"`
	FaultString string `xml:"faultstring"`
}

type subcode struct {
	Value   string   `xml:"Value"`
	Subcode *subcode `xml:"Subcode"`
}

func (f *soapFault) err() *FaultError {
	e := &FaultError{Code: clean(f.Code.Value)}
	// Nested subcodes are bounded by the response size; follow at most a few.
	for s, n := f.Code.Subcode, 0; s != nil && n < 8; s, n = s.Subcode, n+1 {
		e.Subcode = clean(s.Value)
		e.codes = append(e.codes, e.Subcode)
	}
	if len(f.Reason.Text) > 0 {
		e.Reason = clean(f.Reason.Text[0])
	}
	if e.Code == "" {
		e.Code = clean(f.FaultCode)
		if e.Subcode == "" && strings.Contains(e.Code, ":") {
			// SOAP 1.1 cameras put the specific code in faultcode.
			e.Subcode = e.Code
		}
	}
	if e.Reason == "" {
		e.Reason = clean(f.FaultString)
	}
	return e
}

// credentials is what the UsernameToken is made from.
type credentials struct {
	username, password string
}

// usernameToken builds a WS-Security header with a PasswordDigest
// (WSS UsernameToken Profile 1.0, 3.1: Base64(SHA-1(nonce + created +
// password))) created at the given time.
func usernameToken(c credentials, created time.Time) (string, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	// Whole seconds: the form every camera parses.
	ts := created.UTC().Format("2006-01-02T15:04:05Z")
	return usernameTokenWith(c, nonce, ts), nil
}

func usernameTokenWith(c credentials, nonce []byte, created string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(c.password))
	digest := base64.StdEncoding.EncodeToString(h.Sum(nil))
	return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="` + nsWSSE + `" xmlns:wsu="` + nsWSU + `">` +
		`<wsse:UsernameToken><wsse:Username>` + esc(c.username) + `</wsse:Username>` +
		`<wsse:Password Type="` + passwordDigestType + `">` + digest + `</wsse:Password>` +
		`<wsse:Nonce EncodingType="` + base64BinaryType + `">` + base64.StdEncoding.EncodeToString(nonce) + `</wsse:Nonce>` +
		`<wsu:Created>` + created + `</wsu:Created></wsse:UsernameToken></wsse:Security>`
}

// esc escapes text for an XML element or attribute.
func esc(s string) string {
	var b strings.Builder
	// xml.EscapeText only fails when the writer does.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// envelope wraps a body (and optional header blocks) in a SOAP 1.2 envelope.
func envelope(header, body string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:tds="` + nsDevice + `" xmlns:trt="` + nsMedia + `" xmlns:tr2="` + nsMedia2 +
		`" xmlns:tev="` + nsEvents + `" xmlns:tt="` + nsSchema + `" xmlns:wsnt="` + nsWSNT + `" xmlns:wsa="` + nsWSA + `">`)
	if header != "" {
		b.WriteString("<s:Header>" + header + "</s:Header>")
	}
	b.WriteString("<s:Body>" + body + "</s:Body></s:Envelope>")
	return b.Bytes()
}

// post sends one SOAP request and decodes the body's first element into out
// (which may be nil). A SOAP fault becomes a *FaultError; HTTP 401 becomes
// ErrUnauthorized.
func post(ctx context.Context, hc *http.Client, url, action string, req []byte, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	ct := `application/soap+xml; charset=utf-8`
	if action != "" {
		ct += `; action="` + action + `"`
	}
	hr.Header.Set("Content-Type", ct)
	resp, err := hc.Do(hr)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if len(body) > MaxResponse {
		return fmt.Errorf("%w (over %d bytes)", ErrResponseTooLarge, MaxResponse)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// Some cameras answer with an HTTP status and a fault, some with
		// only the status; either way the credentials were refused.
		return fmt.Errorf("HTTP %d: %w", resp.StatusCode, ErrUnauthorized)
	}
	fault, derr := decodeEnvelope(body, out)
	if fault != nil {
		return fault
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if derr != nil {
		return fmt.Errorf("decode response: %w", derr)
	}
	return nil
}

// decodeEnvelope reads a SOAP envelope and decodes the first element of its
// Body into out, unless that element is a Fault, which it returns.
func decodeEnvelope(data []byte, out any) (*FaultError, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// Cameras declare UTF-8; anything else is refused rather than guessed.
	d.CharsetReader = nil
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("no SOAP Body")
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && t.Name.Local != "Envelope" {
				return nil, fmt.Errorf("root element %q is not a SOAP Envelope", t.Name.Local)
			}
			if depth == 2 && t.Name.Local == "Body" {
				return decodeBody(d, out)
			}
			if depth >= 2 {
				if err := d.Skip(); err != nil {
					return nil, err
				}
				depth--
			}
		case xml.EndElement:
			depth--
		}
	}
}

func decodeBody(d *xml.Decoder, out any) (*FaultError, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "Fault" {
				var f soapFault
				if err := d.DecodeElement(&f, &t); err != nil {
					return nil, err
				}
				return f.err(), nil
			}
			if out == nil {
				return nil, d.Skip()
			}
			return nil, d.DecodeElement(out, &t)
		case xml.EndElement:
			if out == nil {
				return nil, nil
			}
			return nil, errors.New("empty SOAP Body")
		}
	}
}
