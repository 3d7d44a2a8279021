package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/camvault/camvault/internal/blob"
)

// Config says where blobs go. Credentials are not part of it: they come
// from the usual AWS sources (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, shared files, instance roles), so they never sit in a
// flag, a URL or a log line.
type Config struct {
	Bucket   string
	Endpoint string // base URL of an S3-compatible service; empty for AWS
	Region   string // empty: AWS_REGION
	Prefix   string // key prefix inside the bucket, "" or ending in "/"
	// PartSize is the size of each part of a multipart upload and so the
	// most a Put holds in memory; 0 means DefaultPartSize.
	PartSize int64
	// HTTPClient carries the requests; nil means the SDK's default.
	HTTPClient *http.Client
}

// Part sizes: S3 refuses parts under 5 MiB (except the last).
const (
	DefaultPartSize = 8 << 20
	MinPartSize     = 5 << 20
)

// ParseURL reads s3://BUCKET?endpoint=URL&region=R&prefix=P. Errors name
// the part that is wrong, never the URL: it is configuration an operator
// may have pasted a secret into.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, errors.New("s3 URL does not parse; the form is s3://BUCKET?endpoint=URL&region=REGION&prefix=PATH/")
	}
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf("s3 URL: scheme is %q, want s3", u.Scheme)
	}
	if u.User != nil {
		return Config{}, errors.New("s3 URL: credentials in the URL are not accepted; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if u.Opaque != "" || u.Host == "" {
		return Config{}, errors.New("s3 URL: no bucket; the form is s3://BUCKET?endpoint=URL&region=REGION")
	}
	if u.Path != "" && u.Path != "/" {
		return Config{}, errors.New("s3 URL: a path after the bucket is not accepted; use prefix=PATH/")
	}
	c := Config{Bucket: u.Host}
	if err := validBucket(c.Bucket); err != nil {
		return Config{}, err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, errors.New("s3 URL: the query does not parse")
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return Config{}, fmt.Errorf("s3 URL: %s is given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "endpoint":
			e, err := url.Parse(v)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return Config{}, errors.New("s3 URL: endpoint must be an http:// or https:// URL")
			}
			if e.User != nil {
				return Config{}, errors.New("s3 URL: credentials in the endpoint are not accepted; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
			}
			if e.RawQuery != "" || e.Fragment != "" {
				return Config{}, errors.New("s3 URL: endpoint must not have a query or fragment")
			}
			c.Endpoint = v
		case "region":
			if v == "" || strings.ContainsFunc(v, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
			}) {
				return Config{}, errors.New("s3 URL: region must be lowercase letters, digits and '-'")
			}
			c.Region = v
		case "prefix":
			p := strings.TrimSuffix(v, "/")
			if !blob.ValidKey(p) {
				return Config{}, errors.New("s3 URL: prefix must be slash-separated segments of lowercase letters, digits, '-', '_' and '.'")
			}
			c.Prefix = p + "/"
		default:
			return Config{}, fmt.Errorf("s3 URL: unknown parameter %q (known: endpoint, region, prefix)", name)
		}
	}
	return c, nil
}

// validBucket checks the S3 bucket naming rules that matter for path-style
// requests: 3 to 63 lowercase letters, digits, '.' and '-', starting and
// ending with a letter or digit.
func validBucket(b string) error {
	bad := len(b) < 3 || len(b) > 63
	for i := 0; i < len(b) && !bad; i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		bad = !alnum && c != '.' && c != '-' || (i == 0 || i == len(b)-1) && !alnum
	}
	if bad {
		return errors.New("s3 URL: bucket must be 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit")
	}
	return nil
}
