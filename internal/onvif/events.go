package onvif

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Motion is one change of a camera's motion state.
type Motion struct {
	// Time is when the camera says it happened, moved onto the bridge's
	// clock by the camera's clock offset; the bridge's time of receipt
	// when the camera gave none.
	Time   time.Time
	Active bool
	// Source names the video source or rule that saw it, as the camera
	// does (e.g. a VideoSourceConfigurationToken); bounded.
	Source string
}

// Event subscription parameters.
const (
	subscriptionLifetime = 60 * time.Second
	// renewWhenLeft is how close to its end a subscription is renewed:
	// more than a pull's wait plus a call's timeout.
	renewWhenLeft    = 30 * time.Second
	pullTimeout      = 10 * time.Second
	pullMessageLimit = 32
	// maxMotionsPerPull bounds the notifications handled from one
	// response, whatever MessageLimit the camera ignored.
	maxMotionsPerPull  = 64
	unsubscribeTimeout = 2 * time.Second
	// minEmptyPull paces a camera that answers PullMessages at once with
	// nothing instead of waiting its Timeout, so a buggy or hostile one
	// cannot turn the watch into a busy loop.
	minEmptyPull = time.Second
	maxRefParams = 8
)

const (
	actionCreatePullPoint = nsEvents + "/EventPortType/CreatePullPointSubscriptionRequest"
	actionPullMessages    = nsEvents + "/PullPointSubscription/PullMessagesRequest"
	actionRenew           = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest"
	actionUnsubscribe     = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest"
)

// WatchMotion follows the camera's motion events through a PullPoint
// subscription and calls onMotion, in the camera's order, for every motion
// notification (RuleEngine/CellMotionDetector/Motion or
// VideoSource/MotionAlarm), including the state most cameras report when a
// subscription starts (PropertyOperation "Initialized"). onMotion runs on the caller's goroutine and
// should return quickly: the next pull waits for it.
//
// The subscription is renewed before it ends and unsubscribed when
// WatchMotion returns (with a short timeout of its own once ctx is done).
// A transient failure (network, a lost subscription, a malformed response)
// re-subscribes after a backoff with full jitter, which the context cuts
// short. WatchMotion returns ctx's error when ctx ends, and at once an
// error wrapping ErrUnauthorized when the camera refuses the credentials or
// ErrNotSupported when it has no PullPoint events.
func (c *Client) WatchMotion(ctx context.Context, onMotion func(Motion)) error {
	caps, err := c.GetCapabilities(ctx)
	if err != nil {
		return err
	}
	if caps.Events == "" || !caps.PullPoints {
		return fmt.Errorf("onvif: no PullPoint events service: %w", ErrNotSupported)
	}
	backoff := c.backoffBase
	for {
		pulled, err := c.watchOnce(ctx, caps.Events, onMotion)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotSupported) {
			return err
		}
		if pulled {
			backoff = c.backoffBase
		}
		if err := sleep(ctx, time.Duration(rand.Int64N(int64(backoff)+1))); err != nil {
			return err
		}
		backoff = min(2*backoff, c.backoffMax)
	}
}

// subscription is a PullPoint the camera created for us.
type subscription struct {
	addr   string
	header string    // wsa:To and the reference parameters; wsa:Action is added per call
	ends   time.Time // on our clock
}

// watchOnce subscribes, pulls until an error or ctx ends, and unsubscribes.
// pulled tells whether at least one pull succeeded.
func (c *Client) watchOnce(ctx context.Context, events string, onMotion func(Motion)) (pulled bool, err error) {
	sub, err := c.subscribe(ctx, events)
	if err != nil {
		return false, err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unsubscribeTimeout)
		defer cancel()
		// Best effort: the subscription ends by itself when it is not renewed.
		_ = c.subCall(uctx, sub, actionUnsubscribe, `<wsnt:Unsubscribe/>`, unsubscribeTimeout, nil)
	}()
	for {
		if ctx.Err() != nil {
			return pulled, ctx.Err()
		}
		if c.now().Add(c.renewLeft).After(sub.ends) {
			if err := c.renew(ctx, sub); err != nil {
				return pulled, err
			}
		}
		var r pullResponse
		started := c.now()
		body := `<tev:PullMessages><tev:Timeout>PT10S</tev:Timeout><tev:MessageLimit>` +
			fmt.Sprint(pullMessageLimit) + `</tev:MessageLimit></tev:PullMessages>`
		if err := c.subCall(ctx, sub, actionPullMessages, body, pullTimeout+callTimeout, &r); err != nil {
			return pulled, fmt.Errorf("onvif PullMessages: %w", err)
		}
		pulled = true
		if ends, ok := camTimes(r.CurrentTime, r.TerminationTime); ok {
			sub.ends = c.now().Add(ends)
		}
		c.mu.Lock()
		off := c.offset
		c.mu.Unlock()
		for _, m := range motions(r, off, c.now) {
			onMotion(m)
		}
		if len(r.Messages) == 0 {
			if early := minEmptyPull - c.now().Sub(started); early > 0 {
				if err := sleep(ctx, early); err != nil {
					return pulled, err
				}
			}
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) subscribe(ctx context.Context, events string) (*subscription, error) {
	var r struct {
		Address         string    `xml:"SubscriptionReference>Address"`
		Params          refParams `xml:"SubscriptionReference>ReferenceParameters"`
		CurrentTime     string    `xml:"CurrentTime"`
		TerminationTime string    `xml:"TerminationTime"`
	}
	body := `<tev:CreatePullPointSubscription><tev:InitialTerminationTime>PT` + fmt.Sprint(int(subscriptionLifetime.Seconds())) + `S</tev:InitialTerminationTime></tev:CreatePullPointSubscription>`
	if err := c.call(ctx, events, actionCreatePullPoint, `<wsa:Action>`+actionCreatePullPoint+`</wsa:Action>`, body, callTimeout, &r); err != nil {
		return nil, fmt.Errorf("onvif CreatePullPointSubscription: %w", err)
	}
	addr, err := serviceAddr(c.xaddr, strings.TrimSpace(r.Address))
	if err != nil {
		return nil, fmt.Errorf("onvif CreatePullPointSubscription: subscription address: %w", err)
	}
	sub := &subscription{addr: addr, header: `<wsa:To>` + esc(addr) + `</wsa:To>` + r.Params.header(), ends: c.now().Add(subscriptionLifetime)}
	if left, ok := camTimes(r.CurrentTime, r.TerminationTime); ok {
		sub.ends = c.now().Add(left)
	}
	return sub, nil
}

func (c *Client) renew(ctx context.Context, sub *subscription) error {
	var r struct {
		CurrentTime     string `xml:"CurrentTime"`
		TerminationTime string `xml:"TerminationTime"`
	}
	err := c.subCall(ctx, sub, actionRenew, `<wsnt:Renew><wsnt:TerminationTime>PT`+fmt.Sprint(int(subscriptionLifetime.Seconds()))+`S</wsnt:TerminationTime></wsnt:Renew>`, callTimeout, &r)
	var fe *FaultError
	switch {
	case errors.Is(err, ErrUnauthorized):
		return fmt.Errorf("onvif Renew: %w", err)
	case errors.As(err, &fe):
		// Some cameras extend a PullPoint on every pull and refuse Renew;
		// if the subscription really ends, the next pull fails and the
		// watch re-subscribes.
		sub.ends = c.now().Add(subscriptionLifetime)
		return nil
	case err != nil:
		return fmt.Errorf("onvif Renew: %w", err)
	}
	sub.ends = c.now().Add(subscriptionLifetime)
	if left, ok := camTimes(r.CurrentTime, r.TerminationTime); ok {
		sub.ends = c.now().Add(left)
	}
	return nil
}

func (c *Client) subCall(ctx context.Context, sub *subscription, action, body string, timeout time.Duration, out any) error {
	return c.call(ctx, sub.addr, action, sub.header+`<wsa:Action>`+action+`</wsa:Action>`, body, timeout, out)
}

// camTimes returns termination minus current time as the camera states
// them, when both parse and the difference is sane.
func camTimes(current, termination string) (time.Duration, bool) {
	cur, err1 := time.Parse(time.RFC3339Nano, strings.TrimSpace(current))
	end, err2 := time.Parse(time.RFC3339Nano, strings.TrimSpace(termination))
	if err1 != nil || err2 != nil {
		return 0, false
	}
	left := end.Sub(cur)
	if left <= 0 || left > 24*time.Hour {
		return 0, false
	}
	return left, true
}

// refParams keeps a subscription reference's parameters, which must be sent
// back as header blocks with every call on the subscription (WS-Addressing
// 1.0, 3.2). They are rebuilt from their names and text rather than copied
// as raw XML, so a camera cannot inject anything else into our requests.
type refParams struct {
	Items []struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
	} `xml:",any"`
}

func (p refParams) header() string {
	var b strings.Builder
	for i, it := range p.Items {
		if i == maxRefParams {
			break
		}
		if !xmlName(it.XMLName.Local) || len(it.Text) > 1024 || len(it.XMLName.Space) > 512 {
			continue
		}
		if it.XMLName.Space == "" {
			b.WriteString("<" + it.XMLName.Local + ">" + esc(it.Text) + "</" + it.XMLName.Local + ">")
			continue
		}
		b.WriteString("<rp" + fmt.Sprint(i) + ":" + it.XMLName.Local + ` xmlns:rp` + fmt.Sprint(i) + `="` + esc(it.XMLName.Space) + `">` +
			esc(it.Text) + "</rp" + fmt.Sprint(i) + ":" + it.XMLName.Local + ">")
	}
	return b.String()
}

// xmlName accepts a conservative subset of XML names.
func xmlName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// pullResponse is a PullMessagesResponse.
type pullResponse struct {
	CurrentTime     string                `xml:"CurrentTime"`
	TerminationTime string                `xml:"TerminationTime"`
	Messages        []notificationMessage `xml:"NotificationMessage"`
}

type notificationMessage struct {
	Topic   string `xml:"Topic"`
	Message struct {
		UtcTime           string       `xml:"UtcTime,attr"`
		PropertyOperation string       `xml:"PropertyOperation,attr"`
		Source            []simpleItem `xml:"Source>SimpleItem"`
		Data              []simpleItem `xml:"Data>SimpleItem"`
	} `xml:"Message>Message"`
}

type simpleItem struct {
	Name  string `xml:"Name,attr"`
	Value string `xml:"Value,attr"`
}

// Topics the watch understands, without their namespace prefix (tns1 is
// http://www.onvif.org/ver10/topics; cameras choose their own prefix).
const (
	topicCellMotion  = "RuleEngine/CellMotionDetector/Motion"
	topicMotionAlarm = "VideoSource/MotionAlarm"
)

// motions extracts the motion notifications of a pull response, in order,
// at most maxMotionsPerPull.
func motions(r pullResponse, offset time.Duration, now func() time.Time) []Motion {
	var out []Motion
	for i, n := range r.Messages {
		if i == maxMotionsPerPull {
			break
		}
		if m, ok := motion(n, offset, now); ok {
			out = append(out, m)
		}
	}
	return out
}

// motion reads one notification; ok is false for other topics and for
// motion notifications without a state.
func motion(n notificationMessage, offset time.Duration, now func() time.Time) (Motion, bool) {
	var item string
	switch topicPath(n.Topic) {
	case topicCellMotion:
		item = "IsMotion"
	case topicMotionAlarm:
		item = "State"
	default:
		return Motion{}, false
	}
	var m Motion
	found := false
	for _, d := range n.Message.Data {
		if d.Name != item {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(d.Value)) {
		case "true", "1":
			m.Active, found = true, true
		case "false", "0":
			m.Active, found = false, true
		}
		break
	}
	if !found {
		return Motion{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(n.Message.UtcTime)); err == nil {
		m.Time = t.Add(-offset)
	} else {
		m.Time = now()
	}
	m.Source = motionSource(n.Message.Source)
	return m, true
}

// motionSource prefers the items that name a video source.
func motionSource(items []simpleItem) string {
	for _, want := range []string{"VideoSourceConfigurationToken", "VideoSourceToken", "Source", "InputToken"} {
		for _, it := range items {
			if it.Name == want {
				return clean(it.Value)
			}
		}
	}
	if len(items) > 0 {
		return clean(items[0].Value)
	}
	return ""
}

// topicPath strips the namespace prefix of a concrete topic expression:
// "tns1:RuleEngine/CellMotionDetector/Motion" -> "RuleEngine/CellMotionDetector/Motion".
func topicPath(t string) string {
	t = strings.TrimSpace(t)
	if len(t) > 256 {
		return ""
	}
	if i := strings.IndexByte(t, ':'); i >= 0 && i < strings.IndexByte(t+"/", '/') {
		t = t[i+1:]
	}
	return strings.TrimSuffix(t, "//.")
}
