// Package s3 keeps blobs in an S3-compatible object store (AWS S3,
// versitygw, Ceph RGW, ...), for nodes that share no disk.
//
// Write-once rests on conditional writes: every Put sends If-None-Match: *
// (on PutObject, or on CompleteMultipartUpload for large blobs), so of two
// Puts of one key exactly one succeeds, and the other gets ErrExists
// without having changed a byte. Each Put also tags its object with a
// random token in its metadata: when the SDK retries a request whose first
// attempt did land, the retry's 412 is recognised as our own write rather
// than reported as ErrExists.
//
// A Put holds at most one part (Config.PartSize) in memory: a blob that
// fits in one part goes up in one PutObject, a larger one as a multipart
// upload whose parts are invisible until it completes; a failed Put aborts
// it. Open fetches the first 1 MiB, which tells the size; later reads are
// ranged GETs pinned to the ETag seen at Open, through a read-ahead window.
//
// Durability is the server's: Put returns once the server has answered the
// write (AWS S3 answers only when the object is stored redundantly), and
// camvault acknowledges nothing before Put returns. docs/design/blobs.md
// has the rest, orphans included.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/camvault/camvault/internal/blob"
)

const (
	// metaPut names the metadata entry holding a Put's token.
	metaPut = "camvault-put"
	// readAhead is how much a small ReadAt fetches: a thumbnail in one GET,
	// a clip in 1 MiB ranges rather than one request per 64 KiB segment.
	readAhead = 1 << 20
	// maxParts is S3's limit on parts per multipart upload.
	maxParts = 10000
	// conflictRetries bounds retries of a 409 ConditionalRequestConflict,
	// which S3 answers while another conditional write of the key is in
	// flight.
	conflictRetries = 8
	// maxIdleConns is how many connections to the server stay open idle.
	maxIdleConns = 256
)

// Store is a blob store in one bucket, under an optional key prefix.
type Store struct {
	c        *s3api.Client
	bucket   string
	prefix   string
	region   string
	partSize int64
}

var _ blob.Store = (*Store)(nil)

// Open parses a backend URL (see ParseURL), connects and checks that the
// bucket is there and the credentials work, so a bad setting fails at
// start rather than at the first upload.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := s.c.HeadBucket(ctx, &s3api.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return nil, fmt.Errorf("s3: reach bucket %q: %w", s.bucket, err)
	}
	return s, nil
}

// New makes a store from cfg without contacting the server.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := validBucket(cfg.Bucket); err != nil {
		return nil, err
	}
	if cfg.Prefix != "" && (!strings.HasSuffix(cfg.Prefix, "/") || !blob.ValidKey(strings.TrimSuffix(cfg.Prefix, "/"))) {
		return nil, errors.New("s3: prefix must be a valid key ending in '/'")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3: part size %d is under S3's minimum of %d", cfg.PartSize, MinPartSize)
	}
	// Every request of a node goes to one host: keep enough idle
	// connections for its concurrent uploads and reads, not the SDK's 10,
	// past which each request would open and close a connection.
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns = maxIdleConns
			t.MaxIdleConnsPerHost = maxIdleConns
		})),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	ac, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return nil, errors.New("s3: no region: add region=... to the URL or set AWS_REGION")
	}
	c := s3api.NewFromConfig(ac, func(o *s3api.Options) {
		// Path-style and no default checksums: what S3-compatible servers
		// other than AWS accept.
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
	})
	return &Store{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix, region: ac.Region, partSize: cfg.PartSize}, nil
}

// CreateBucket creates the bucket if it does not exist yet: for first
// setup and for tests; serving never needs it.
func (s *Store) CreateBucket(ctx context.Context) error {
	_, err := s.c.HeadBucket(ctx, &s3api.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err == nil {
		return nil
	}
	if status(err) != http.StatusNotFound {
		return fmt.Errorf("s3: look up bucket %q: %w", s.bucket, err)
	}
	in := &s3api.CreateBucketInput{Bucket: aws.String(s.bucket)}
	if s.region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(s.region)}
	}
	_, err = s.c.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("s3: create bucket %q: %w", s.bucket, err)
	}
	return nil
}

func (s *Store) name(key string) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return s.prefix + key, nil
}

// Put stores r under key if no blob has it; see the package comment.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	name, err := s.name(key)
	if err != nil {
		return 0, err
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	token := hex.EncodeToString(rnd[:])
	// The buffer grows with what arrives, so a thumbnail costs its size,
	// not a part.
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, s.partSize)
	if errors.Is(err, io.EOF) {
		return n, s.putSmall(ctx, name, token, buf.Bytes())
	}
	if err != nil {
		return n, fmt.Errorf("read blob: %w", err)
	}
	return s.putMultipart(ctx, name, token, &buf, r, n)
}

func (s *Store) putSmall(ctx context.Context, name, token string, body []byte) error {
	return s.conditional(ctx, name, token, func() error {
		_, err := s.c.PutObject(ctx, &s3api.PutObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(name),
			Body:          bytes.NewReader(body),
			ContentLength: aws.Int64(int64(len(body))),
			ContentType:   aws.String("application/octet-stream"),
			Metadata:      map[string]string{metaPut: token},
			IfNoneMatch:   aws.String("*"),
		})
		return err
	})
}

// putMultipart uploads buf (the first part, already read) and the rest of
// r part by part, then completes the upload only if the key is still free.
func (s *Store) putMultipart(ctx context.Context, name, token string, buf *bytes.Buffer, r io.Reader, n int64) (int64, error) {
	up, err := s.c.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(name),
		ContentType: aws.String("application/octet-stream"),
		Metadata:    map[string]string{metaPut: token},
	})
	if err != nil {
		return n, fmt.Errorf("s3: start upload: %w", err)
	}
	done := false
	defer func() {
		if done {
			return
		}
		// Parts of an unfinished upload are invisible but billed; drop them
		// even when ctx has ended. What a crash leaves is for the bucket's
		// lifecycle rule (docs/design/blobs.md).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = s.c.AbortMultipartUpload(actx, &s3api.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(name), UploadId: up.UploadId,
		})
	}()
	var parts []types.CompletedPart
	for num := int32(1); ; num++ {
		if num > maxParts {
			return n, fmt.Errorf("s3: blob exceeds %d parts of %d bytes", maxParts, s.partSize)
		}
		out, err := s.c.UploadPart(ctx, &s3api.UploadPartInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(name),
			UploadId:      up.UploadId,
			PartNumber:    aws.Int32(num),
			Body:          bytes.NewReader(buf.Bytes()),
			ContentLength: aws.Int64(int64(buf.Len())),
		})
		if err != nil {
			return n, fmt.Errorf("s3: upload part %d: %w", num, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		buf.Reset()
		m, err := io.CopyN(buf, r, s.partSize)
		n += m
		if errors.Is(err, io.EOF) && m == 0 {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return n, fmt.Errorf("read blob: %w", err)
		}
	}
	err = s.conditional(ctx, name, token, func() error {
		_, err := s.c.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
			Bucket:          aws.String(s.bucket),
			Key:             aws.String(name),
			UploadId:        up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			IfNoneMatch:     aws.String("*"),
		})
		return err
	})
	if err != nil {
		return n, err
	}
	done = true
	return n, nil
}

// conditional runs a write sent with If-None-Match: * and sorts out its
// answer: 412 means the key is taken (by us, if a retried request had in
// fact landed), 409 that another conditional write is in flight, so ask
// again until one of them has won.
func (s *Store) conditional(ctx context.Context, name, token string, write func() error) error {
	wait := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := write()
		switch {
		case err == nil:
			return nil
		case status(err) == http.StatusPreconditionFailed:
			if s.written(ctx, name, token) {
				return nil
			}
			return blob.ErrExists
		case status(err) == http.StatusNotFound && s.written(ctx, name, token):
			// A completed upload, completed again: some servers no longer
			// know its ID.
			return nil
		case status(err) == http.StatusConflict && attempt < conflictRetries:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		default:
			return fmt.Errorf("s3: write blob: %w", err)
		}
	}
}

// written reports whether the object under name carries token: the write
// that got 412 was our own, landed by an earlier attempt.
func (s *Store) written(ctx context.Context, name, token string) bool {
	out, err := s.c.HeadObject(ctx, &s3api.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(name)})
	return err == nil && out.Metadata[metaPut] == token
}

// Open fetches the blob's first window; later reads happen as ctx allows.
// One ranged GET gives the size, the ETag and the bytes most reads want (a
// whole thumbnail; a clip's header and first segment), where a HEAD would
// give only the first two.
func (s *Store) Open(ctx context.Context, key string) (blob.Object, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, err
	}
	out, err := s.c.GetObject(ctx, &s3api.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(name),
		Range:  aws.String(fmt.Sprintf("bytes=0-%d", readAhead-1)),
	})
	switch status(err) {
	case 0:
	case http.StatusNotFound:
		return nil, blob.ErrNotFound
	case http.StatusRequestedRangeNotSatisfiable:
		return s.openEmpty(ctx, name) // an empty blob has no byte 0
	default:
		return nil, fmt.Errorf("s3: open blob: %w", err)
	}
	defer out.Body.Close()
	size, err := totalSize(out)
	if err != nil {
		return nil, err
	}
	head := make([]byte, min(size, readAhead))
	if _, err := io.ReadFull(out.Body, head); err != nil {
		return nil, fmt.Errorf("s3: open blob: %w", err)
	}
	return &object{ctx: ctx, s: s, name: name, size: size, etag: aws.ToString(out.ETag), head: head}, nil
}

func (s *Store) openEmpty(ctx context.Context, name string) (blob.Object, error) {
	out, err := s.c.HeadObject(ctx, &s3api.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(name)})
	if status(err) == http.StatusNotFound {
		return nil, blob.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("s3: open blob: %w", err)
	}
	return &object{ctx: ctx, s: s, name: name, size: aws.ToInt64(out.ContentLength), etag: aws.ToString(out.ETag)}, nil
}

// totalSize is the object's size from a ranged GET's Content-Range
// ("bytes 0-N/TOTAL"), or its length if the server sent it whole.
func totalSize(out *s3api.GetObjectOutput) (int64, error) {
	cr := aws.ToString(out.ContentRange)
	if cr == "" {
		return aws.ToInt64(out.ContentLength), nil
	}
	i := strings.LastIndexByte(cr, '/')
	size, err := strconv.ParseInt(cr[i+1:], 10, 64)
	if i < 0 || err != nil || size < 0 {
		return 0, fmt.Errorf("s3: open blob: the server sent Content-Range %q", cr)
	}
	return size, nil
}

// object is an open blob. io.ReaderAt takes no context, so it keeps the
// one Open was given: the request the blob is read for.
type object struct {
	ctx  context.Context
	s    *Store
	name string
	size int64
	etag string
	head []byte // the first bytes, fetched by Open

	mu     sync.Mutex
	win    []byte // bytes [winOff, winOff+len(win)) of the blob
	winOff int64
}

func (o *object) Size() int64 { return o.size }

// Close drops the fetched windows.
func (o *object) Close() error {
	o.mu.Lock()
	o.head, o.win = nil, nil
	o.mu.Unlock()
	return nil
}

// ReadAt serves small reads from a read-ahead window and large ones with a
// GET of exactly their range.
func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("s3: negative offset")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= o.size {
			return n, io.EOF
		}
		if pos < int64(len(o.head)) {
			n += copy(p[n:], o.head[pos:])
			continue
		}
		if pos >= o.winOff && pos < o.winOff+int64(len(o.win)) {
			n += copy(p[n:], o.win[pos-o.winOff:])
			continue
		}
		want := min(int64(len(p)-n), o.size-pos)
		if want >= readAhead {
			if err := o.get(p[n:n+int(want)], pos); err != nil {
				return n, err
			}
			n += int(want)
			continue
		}
		w := min(int64(readAhead), o.size-pos)
		if int64(cap(o.win)) < w {
			o.win = make([]byte, w)
		}
		o.win, o.winOff = o.win[:w], pos
		if err := o.get(o.win, pos); err != nil {
			o.win = o.win[:0]
			return n, err
		}
	}
	return n, nil
}

// get fills dst with the blob's bytes from off, in one ranged GET.
func (o *object) get(dst []byte, off int64) error {
	out, err := o.s.c.GetObject(o.ctx, &s3api.GetObjectInput{
		Bucket:  aws.String(o.s.bucket),
		Key:     aws.String(o.name),
		Range:   aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(dst))-1)),
		IfMatch: aws.String(o.etag),
	})
	switch status(err) {
	case 0:
	case http.StatusNotFound:
		return fmt.Errorf("s3: read blob: %w", blob.ErrNotFound)
	case http.StatusPreconditionFailed:
		return errors.New("s3: read blob: it was replaced since it was opened")
	default:
		return fmt.Errorf("s3: read blob: %w", err)
	}
	defer out.Body.Close()
	if _, err := io.ReadFull(out.Body, dst); err != nil {
		return fmt.Errorf("s3: read blob: %w", err)
	}
	return nil
}

// Delete removes a blob. S3 deletes are silent about missing keys, so a
// HEAD comes first to report ErrNotFound; of two racing Deletes both may
// then succeed, which leaves the same state.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	_, err = s.c.HeadObject(ctx, &s3api.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(name)})
	if status(err) == http.StatusNotFound {
		return blob.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("s3: look up blob: %w", err)
	}
	if _, err := s.c.DeleteObject(ctx, &s3api.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(name)}); err != nil {
		return fmt.Errorf("s3: delete blob: %w", err)
	}
	return nil
}

// List pages through every key under prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func(string, time.Time) error) error {
	p := s3api.NewListObjectsV2Paginator(s.c, &s3api.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: list blobs: %w", err)
		}
		for _, obj := range page.Contents {
			if err := fn(strings.TrimPrefix(aws.ToString(obj.Key), s.prefix), aws.ToTime(obj.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// AbortStaleUploads aborts the multipart uploads under the store's prefix
// that started more than age ago, and says how many: what a process killed
// in the middle of a large Put leaves behind, invisible but stored. age
// must exceed the longest Put, or it aborts uploads still in progress.
func (s *Store) AbortStaleUploads(ctx context.Context, age time.Duration) (int, error) {
	cutoff := time.Now().Add(-age)
	p := s3api.NewListMultipartUploadsPaginator(s.c, &s3api.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix),
	})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("s3: list unfinished uploads: %w", err)
		}
		for _, u := range page.Uploads {
			if u.Initiated != nil && u.Initiated.After(cutoff) {
				continue
			}
			_, err := s.c.AbortMultipartUpload(ctx, &s3api.AbortMultipartUploadInput{
				Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId,
			})
			if err != nil && status(err) != http.StatusNotFound {
				return n, fmt.Errorf("s3: abort unfinished upload: %w", err)
			}
			n++
		}
	}
	return n, nil
}

// status is the HTTP status of a failed S3 call, 0 for success or an error
// that never got an answer.
func status(err error) int {
	if err == nil {
		return 0
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey", "NoSuchBucket":
			return http.StatusNotFound
		case "PreconditionFailed":
			return http.StatusPreconditionFailed
		case "ConditionalRequestConflict":
			return http.StatusConflict
		}
	}
	return -1
}
