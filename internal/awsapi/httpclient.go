package awsapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ErrResponseTooLarge is wrapped by the error of a request whose response
// body exceeds the limit set with WrapHTTPClient.
var ErrResponseTooLarge = errors.New("AWS response body exceeds the size limit")

// WrapHTTPClient returns next, such as the client the SDK's configuration
// chain built, with a limit on the size of response bodies (none when
// maxResponseBytes <= 0). The SDK reads a whole response into memory before
// decoding it, so without a limit a misbehaving endpoint or proxy could
// exhaust it.
//
// The client also shields the SDK from a race that drops connections: see
// sdkClient.Do.
func WrapHTTPClient(next aws.HTTPClient, maxResponseBytes int64) aws.HTTPClient {
	return &sdkClient{next: next, max: maxResponseBytes}
}

type sdkClient struct {
	next aws.HTTPClient
	// max is the response size limit; <= 0 is none.
	max int64
}

// Do hands the request body to the transport without its WriteTo method.
// The SDK closes a request body as soon as Do returns, while net/http may
// still be reading the body past its Content-Length to check for extra
// bytes. Through WriteTo, the SDK's closed body answers that read with
// io.EOF as an error, and net/http then closes the connection under the
// response being read ("use of closed network connection"). Read reports a
// clean end instead. The race is frequent on loopback and possible anywhere.
//
// An oversized response is handed back with a body that fails on read,
// rather than failing here: the SDK retries an error from Do as a
// connection error, and would download the oversized body again, but it
// does not retry a body that cannot be decoded.
func (c *sdkClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req = req.WithContext(req.Context())
		req.Body = readCloserOnly{req.Body}
	}
	resp, err := c.next.Do(req)
	if err != nil || resp.Body == nil || c.max <= 0 {
		return resp, err
	}
	if resp.ContentLength > c.max {
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(errReader{fmt.Errorf("%w: %d bytes announced, the limit is %d", ErrResponseTooLarge, resp.ContentLength, c.max)})
		return resp, nil
	}
	resp.Body = &limitedBody{body: resp.Body, remaining: c.max, max: c.max}
	return resp, nil
}

// readCloserOnly hides every method of a body but Read and Close.
type readCloserOnly struct{ io.ReadCloser }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// limitedBody fails once more than max bytes have been read.
type limitedBody struct {
	body      io.ReadCloser
	remaining int64
	max       int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.remaining <= 0 {
		// One more byte tells a body of exactly max bytes from a longer one.
		var one [1]byte
		n, err := b.body.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, b.max)
		}
		return 0, err
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.body.Read(p)
	b.remaining -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.body.Close() }
