// Package bus carries messages between camvault nodes: notices published
// to every node that listens (a grants version changed, a camera connected
// elsewhere) and requests answered by the one node that can (a command for
// a camera whose connection that node holds).
//
// The bus is a transport, never an authority. A message names the device
// or home it concerns by ID, and its receiver checks those IDs against what
// it knows from a credential or from the store; nothing on the bus is
// trusted to say whose data it is (docs/design/README.md, "The incidents").
//
// Implementations (natsbus: an embedded NATS server, or an external NATS)
// pass bustest.Run.
package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/id"
)

// Errors every implementation returns (wrapped) for the same situations.
var (
	// ErrNoResponders: a request found nobody subscribed to answer it.
	ErrNoResponders = errors.New("bus: no responder")
	// ErrTimeout: a request was not answered in time.
	ErrTimeout = errors.New("bus: request timed out")
	// ErrClosed: the bus was closed.
	ErrClosed = errors.New("bus: closed")
)

// Handler receives a published message. Handlers of one subscription run
// one at a time, in the order the messages were published by one sender;
// ctx ends when the bus closes.
type Handler func(ctx context.Context, data []byte)

// Responder answers a request with its reply. When ok is false it sends no
// reply at all: another subscriber of the subject (another node) may be the
// one to answer, and the requester takes the first reply.
type Responder func(ctx context.Context, data []byte) (reply []byte, ok bool)

// Subscription is a live Subscribe or Respond.
type Subscription interface {
	// Unsubscribe stops delivery; messages already being handled finish.
	Unsubscribe() error
}

// Bus is what every implementation provides. Users declare the smaller
// interface they need; this one is what bustest checks.
type Bus interface {
	// Publish sends data to every current subscriber of s, at most once.
	Publish(ctx context.Context, s Subject, data []byte) error
	// Subscribe delivers what is published to s. When it returns, the
	// subscription is registered with the server: a message published
	// afterwards, from any node, reaches it.
	Subscribe(ctx context.Context, s Subject, h Handler) (Subscription, error)
	// Respond answers requests sent to s, registered like Subscribe.
	Respond(ctx context.Context, s Subject, r Responder) (Subscription, error)
	// Request sends data to a responder of s and waits for its reply, at
	// most timeout (and no longer than ctx allows). ErrNoResponders when
	// nobody answers s, ErrTimeout when nobody answered in time.
	Request(ctx context.Context, s Subject, data []byte, timeout time.Duration) ([]byte, error)
	// Close ends every subscription and the connection. It returns once
	// no handler or responder runs any more: what they use may be closed
	// next.
	Close() error
}

// prefix is the first tokens of every camvault subject: several camvault
// versions, or other software, may share a NATS cluster without their
// subjects meeting.
const prefix = "camvault.v1."

// Subject is the address of a message: a fixed name of what the message is,
// then the identifiers it is about. It is built only by NewSubject, so it
// never holds a wildcard and its shape is fixed.
//
// NATS subjects are strings of dot-separated tokens, and a string built by
// joining parts is exactly what the cache keys avoid (("a.b","c") and
// ("a","b.c") join alike). Here the join is safe: the name is lowercase
// letters, each identifier is an id.Valid identifier (26 characters of
// [a-z2-7]), so no part can hold a dot, a wildcard or be empty, and
// splitting the subject at its dots gives back exactly the parts it was
// made of. Two different (name, ids...) tuples never make the same subject.
type Subject struct{ s string }

// NewSubject builds the subject of name about ids.
func NewSubject(name string, ids ...string) (Subject, error) {
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz") != "" {
		return Subject{}, fmt.Errorf("bus: subject name %q is not lowercase letters", name)
	}
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(name)
	for _, v := range ids {
		if !id.Valid(v) {
			return Subject{}, fmt.Errorf("bus: subject %s: %q is not an identifier", name, v)
		}
		b.WriteByte('.')
		b.WriteString(v)
	}
	return Subject{s: b.String()}, nil
}

// String is the subject as the server sees it.
func (s Subject) String() string { return s.s }

// Valid reports whether s was made by NewSubject.
func (s Subject) Valid() bool { return s.s != "" }
