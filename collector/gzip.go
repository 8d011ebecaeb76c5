package collector

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
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

// deflateEnd is an empty final deflate block: stored, of length 0 (RFC
// 1951, 3.2.4).
var deflateEnd = []byte{1, 0, 0, 0xff, 0xff}

// Compression levels: cached bytes are compressed once and sent on every
// scrape, so they get the smaller output. The live part, a few kilobytes, is
// stored as is: even the fastest compression of it costs more per scrape
// than sending the bytes it would save.
var (
	cachedDeflate = newDeflater(flate.DefaultCompression)
	liveDeflate   = newDeflater(flate.NoCompression)
)

// piece is part of a response, compressed on its own, with what the gzip
// trailer needs to know of it uncompressed. An empty piece stands for a
// family that an account does not have.
type piece struct {
	data  []byte
	size  int // uncompressed
	crc   uint32
	shift uint32 // crcShift(size)
}

// deflater compresses pieces at one level, reusing writers: a new one
// allocates more than the live part of a response weighs.
type deflater struct{ writers sync.Pool }

func newDeflater(level int) *deflater {
	return &deflater{writers: sync.Pool{New: func() any {
		w, err := flate.NewWriter(nil, level)
		if err != nil {
			panic(err) // the levels are constants
		}
		return w
	}}}
}

// piece compresses plain into a piece: raw deflate that ends in a sync
// flush, its data of its exact size, as the accounts' pieces are kept for
// as long as their State is served.
func (d *deflater) piece(plain []byte) piece {
	w := d.writers.Get().(*flate.Writer)
	defer d.writers.Put(w)
	var buf bytes.Buffer
	w.Reset(&buf)
	// Writes to a bytes.Buffer do not fail.
	_, _ = w.Write(plain)
	_ = w.Flush()
	return piece{data: bytes.Clone(buf.Bytes()), size: len(plain), crc: crc32.ChecksumIEEE(plain), shift: crcShift(len(plain))}
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

// writeGzip writes the pieces that each yields, in order, as one gzip
// member.
func writeGzip(w *bufio.Writer, each func(yield func(*piece))) {
	_, _ = w.Write(gzipHeader)
	var crc uint32
	size := 0
	each(func(p *piece) {
		_, _ = w.Write(p.data)
		crc = crcAppend(crc, p.crc, p.shift)
		size += p.size
	})
	_, _ = w.Write(deflateEnd)
	// ISIZE is the length modulo 2^32.
	_, _ = w.Write(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, crc), uint32(size)))
}

// inflate writes to w the decompression of the pieces that each yields, in
// order: they make one deflate stream once deflateEnd follows them.
func inflate(w io.Writer, each func(yield func(*piece))) error {
	var parts []io.Reader
	each(func(p *piece) { parts = append(parts, bytes.NewReader(p.data)) })
	// Hiding w's ReadFrom keeps io.Copy from handing the reader through a
	// bufio.Writer to net/http's, which, behind a slow client, made a
	// chunked response trickle at a hundred kilobytes a second.
	_, err := io.Copy(struct{ io.Writer }{w}, flate.NewReader(io.MultiReader(append(parts, bytes.NewReader(deflateEnd))...)))
	return err
}
