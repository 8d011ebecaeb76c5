package collector

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"
)

// Appending checksums agrees with checksumming the concatenation, for
// lengths across the bits of crcShift's exponent, empty ones included.
func TestCRCAppend(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 7, 8, 255, 256, 4095, 65536, 1<<20 + 13} {
		for _, m := range []int{0, 1, 100, 65537} {
			a, b := make([]byte, n), make([]byte, m)
			for i := range a {
				a[i] = byte(rng.Uint32())
			}
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			want := crc32.ChecksumIEEE(append(append([]byte(nil), a...), b...))
			got := crcAppend(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), crcShift(m))
			if got != want {
				t.Errorf("len %d + %d: %08x, want %08x", n, m, got, want)
			}
		}
	}
}

// gzipTrailerLen is the CRC-32 and the length that end a gzip member.
const gzipTrailerLen = 8

// Pieces compressed apart, at any level, make one gzip member that gzip
// readers take whole, and inflate to what they hold.
func TestPiecesMakeOneMember(t *testing.T) {
	pieces := [][]byte{
		[]byte("# HELP a help\n# TYPE a gauge\n"),
		bytes.Repeat([]byte("a{account_id=\"123456789012\",user=\"x\"} 1\n"), 2000),
		{},
		[]byte("b 2\n"),
		bytes.Repeat([]byte("c 3\n"), 20000), // more than one stored block
	}
	compressed := make([]piece, len(pieces))
	for i, p := range pieces {
		d := cachedDeflate
		if i%2 == 1 {
			d = liveDeflate
		}
		compressed[i] = d.piece(p)
	}
	each := func(yield func(*piece)) {
		for i := range compressed {
			yield(&compressed[i])
		}
	}
	var body bytes.Buffer
	w := bufio.NewWriter(&body)
	writeGzip(w, each)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := bytes.Join(pieces, nil)
	size := len(want)
	if got := gunzipOneMember(t, body.Bytes()); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	var inflated bytes.Buffer
	if err := inflate(&inflated, each); err != nil || !bytes.Equal(inflated.Bytes(), want) {
		t.Fatalf("inflated %d bytes, want %d: %v", inflated.Len(), len(want), err)
	}
	// A raw deflate reader sees the end too, at the final block.
	raw := body.Bytes()[len(gzipHeader) : body.Len()-gzipTrailerLen]
	if n, err := io.Copy(io.Discard, flate.NewReader(bytes.NewReader(raw))); err != nil || int(n) != size {
		t.Fatalf("deflate: %d bytes, %v", n, err)
	}
	// A corrupted checksum is caught, so the trailer is checked at all.
	bad := bytes.Clone(body.Bytes())
	bad[len(bad)-gzipTrailerLen] ^= 1
	zr, err := gzip.NewReader(bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(zr); err != gzip.ErrChecksum {
		t.Fatalf("corrupted CRC: %v, want %v", err, gzip.ErrChecksum)
	}
}
