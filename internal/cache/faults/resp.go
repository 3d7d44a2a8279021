package faults

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits on what the proxy's RESP reader accepts.
const (
	maxLine  = 64 << 10
	maxBulk  = 512 << 20
	maxCount = 1 << 24
	maxDepth = 32
)

var errProtocol = errors.New("resp: protocol error")

// readLine appends one CRLF-terminated line, terminator included.
func readLine(r *bufio.Reader, buf []byte) ([]byte, error) {
	start := len(buf)
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf)-start > maxLine {
			return buf, fmt.Errorf("%w: line longer than %d bytes", errProtocol, maxLine)
		}
		switch {
		case err == nil:
			if len(buf)-start < 2 || buf[len(buf)-2] != '\r' {
				return buf, fmt.Errorf("%w: line not ended by CRLF", errProtocol)
			}
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, err
		}
	}
}

// readFrame appends one complete RESP2 or RESP3 value to buf, exactly as
// it was on the wire.
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	return readValue(r, buf, 0)
}

func readValue(r *bufio.Reader, buf []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return buf, fmt.Errorf("%w: nested deeper than %d", errProtocol, maxDepth)
	}
	start := len(buf)
	buf, err := readLine(r, buf)
	if err != nil {
		return buf, err
	}
	line := buf[start : len(buf)-2]
	if len(line) == 0 {
		return buf, fmt.Errorf("%w: empty line", errProtocol)
	}
	switch line[0] {
	case '+', '-', ':', '_', ',', '(', '#':
		return buf, nil
	case '$', '!', '=':
		n, err := length(line[1:], maxBulk)
		if err != nil || n < 0 {
			return buf, err
		}
		// Grow as the bytes arrive, not by the announced length.
		for need := n + 2; need > 0; {
			chunk := min(need, 64<<10)
			at := len(buf)
			buf = append(buf, make([]byte, chunk)...)
			if _, err := io.ReadFull(r, buf[at:]); err != nil {
				return buf[:at], err
			}
			need -= chunk
		}
		if !bytes.HasSuffix(buf, []byte("\r\n")) {
			return buf, fmt.Errorf("%w: bulk string not ended by CRLF", errProtocol)
		}
		return buf, nil
	case '*', '~', '>', '%', '|':
		n, err := length(line[1:], maxCount)
		if err != nil || n < 0 {
			return buf, err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		if line[0] == '|' {
			n++ // an attribute map is followed by the value it annotates
		}
		for range n {
			if buf, err = readValue(r, buf, depth+1); err != nil {
				return buf, err
			}
		}
		return buf, nil
	default:
		return buf, fmt.Errorf("%w: unknown type byte %q", errProtocol, line[0])
	}
}

// length parses a count or length: -1 (null) or 0..limit.
func length(b []byte, limit int) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < -1 || n > limit {
		return 0, fmt.Errorf("%w: bad length %q", errProtocol, b)
	}
	return n, nil
}

// readRequest reads one command from a client: a RESP array of bulk
// strings, or an inline command line. It returns the raw bytes and the
// command name in upper case.
func readRequest(r *bufio.Reader) ([]byte, string, error) {
	first, err := r.Peek(1)
	if err != nil {
		return nil, "", err
	}
	if first[0] != '*' {
		line, err := readLine(r, nil)
		if err != nil {
			return nil, "", err
		}
		fields := bytes.Fields(line)
		if len(fields) == 0 {
			return line, "", nil
		}
		return line, string(bytes.ToUpper(fields[0])), nil
	}
	raw, err := readFrame(r, nil)
	if err != nil {
		return nil, "", err
	}
	return raw, commandName(raw), nil
}

// commandName reads the first element of a RESP array of bulk strings.
func commandName(raw []byte) string {
	_, rest, ok := bytes.Cut(raw, []byte("\r\n")) // *N
	if !ok || len(rest) == 0 || rest[0] != '$' {
		return ""
	}
	head, rest, ok := bytes.Cut(rest, []byte("\r\n")) // $L
	if !ok {
		return ""
	}
	n, err := strconv.Atoi(string(head[1:]))
	if err != nil || n < 0 || n > len(rest) {
		return ""
	}
	return string(bytes.ToUpper(rest[:n]))
}
