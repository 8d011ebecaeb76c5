package collector

import (
	"bytes"
	"compress/flate"
	"hash/crc32"
	"io"
	"sync"
)

// A gzip response is one gzip member (RFC 1952) assembled on each scrape
// from pieces compressed ahead of time: compress/gzip can only compress a
// whole stream at once. Several members would be simpler, and Go's and
// Prometheus's readers take them, but curl --compressed stops after the
// first.
//
// Each piece is raw deflate that ends in a sync flush: byte-aligned, not
// final, and, compressed on its own, without references to bytes before it.
// Such pieces make a valid deflate stream in any order once an empty final
// block ends them. The member's trailer needs the CRC-32 of everything
// uncompressed, which is combined from the pieces' CRCs, as hash/crc32
// cannot extend a checksum by another one.

// gzipHeader opens a member as compress/gzip does with a zero Header:
// deflate, no flags, no modification time, unknown OS.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// deflateEnd is an empty final deflate block.
var deflateEnd = func() []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.NoCompression)
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		panic(err) // a constant level, into a bytes.Buffer
	}
	return b.Bytes()
}()

// deflater compresses pieces at one level, reusing writers: a new one
// allocates more than the live part of a response weighs.
type deflater struct {
	level int
	pool  sync.Pool
}

// piece appends b to dst as a piece: raw deflate ending in a sync flush.
func (d *deflater) piece(dst *bytes.Buffer, b []byte) {
	w, _ := d.pool.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(dst, d.level); err != nil {
			panic(err) // the levels are constants
		}
	} else {
		w.Reset(dst)
	}
	// Writes to a bytes.Buffer do not fail.
	_, _ = w.Write(b)
	_ = w.Flush()
	d.pool.Put(w)
}

// crcShift returns x^(8n) modulo the CRC-32 polynomial: what appending n
// bytes does to the CRC of what came before them.
func crcShift(n int) uint32 {
	const one, x8 = 1 << 31, 1 << 23 // x^0 and x^8, high bit first
	result, power := uint32(one), uint32(x8)
	for u := uint64(n); u > 0; u >>= 1 {
		if u&1 != 0 {
			result = crcMul(result, power)
		}
		power = crcMul(power, power)
	}
	return result
}

// crcMul multiplies two polynomials over GF(2) modulo the CRC-32 polynomial,
// in hash/crc32's reflected bit order, where bit 31 holds x^0.
func crcMul(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		// b *= x
		if b&1 != 0 {
			b = b>>1 ^ crc32.IEEE
		} else {
			b >>= 1
		}
	}
	return p
}

// crcAppend returns the CRC-32 (IEEE) of A followed by B, from the CRCs of A
// and B and crcShift(len(B)).
func crcAppend(crcA, crcB, shiftB uint32) uint32 {
	return crcMul(shiftB, crcA) ^ crcB
}

// inflate writes to w the decompression of the pieces that each yields, in
// order: they make one deflate stream once deflateEnd follows them.
func inflate(w io.Writer, each func(yield func([]byte))) error {
	var parts [][]byte
	each(func(b []byte) { parts = append(parts, b) })
	src := &partsReader{parts: append(parts, deflateEnd)}
	r, _ := inflaters.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(src)
	} else if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return err
	}
	defer inflaters.Put(r)
	_, err := io.Copy(w, r)
	return err
}

// partsReader reads parts one after the other.
type partsReader struct{ parts [][]byte }

func (r *partsReader) Read(b []byte) (int, error) {
	for len(r.parts) > 0 && len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	return n, nil
}

// ReadByte lets flate read without a bufio.Reader of its own.
func (r *partsReader) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := r.Read(b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}
