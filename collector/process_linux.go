package collector

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// process exports the exporter's own process_* metrics, with the names,
// types and values of client_golang's process collector, at a small part of
// its cost. That collector parses /proc/self/stat, /proc/stat,
// /proc/self/limits and /proc/self/net/netstat on every scrape, about
// 0.4 ms of CPU, which is more than serving a cached 5,000-user response.
// Here the CPU time and limits come from getrusage and getrlimit, memory
// from the one-line /proc/self/statm, and the start time, which cannot
// change, is read once.
//
// process_network_{receive,transmit}_bytes_total are left out: they count
// the whole network namespace, not the process, and reading them
// (/proc/self/net/netstat) costs more than everything else here.
type process struct {
	cpu, openFDs, maxFDs, vsize, maxVsize, rss, start *prometheus.Desc

	startTime float64 // 0 when it could not be read
	pageSize  float64
}

var _ prometheus.Collector = (*process)(nil)

// NewProcessCollector returns the process_* metrics of the running process.
func NewProcessCollector() prometheus.Collector {
	p := &process{
		cpu:      prometheus.NewDesc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", nil, nil),
		openFDs:  prometheus.NewDesc("process_open_fds", "Number of open file descriptors.", nil, nil),
		maxFDs:   prometheus.NewDesc("process_max_fds", "Maximum number of open file descriptors.", nil, nil),
		vsize:    prometheus.NewDesc("process_virtual_memory_bytes", "Virtual memory size in bytes.", nil, nil),
		maxVsize: prometheus.NewDesc("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", nil, nil),
		rss:      prometheus.NewDesc("process_resident_memory_bytes", "Resident memory size in bytes.", nil, nil),
		start:    prometheus.NewDesc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", nil, nil),
		pageSize: float64(os.Getpagesize()),
	}
	if self, err := procfs.Self(); err == nil {
		if stat, err := self.Stat(); err == nil {
			if t, err := stat.StartTime(); err == nil {
				p.startTime = t
			}
		}
	}
	return p
}

// Describe implements prometheus.Collector.
func (p *process) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.cpu, p.openFDs, p.maxFDs, p.vsize, p.maxVsize, p.rss, p.start} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A value that cannot be read is
// left out, as client_golang's collector does by default.
func (p *process) Collect(ch chan<- prometheus.Metric) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
		ch <- prometheus.MustNewConstMetric(p.cpu, prometheus.CounterValue, cpu)
	}
	if n, err := countOpenFDs(); err == nil {
		ch <- prometheus.MustNewConstMetric(p.openFDs, prometheus.GaugeValue, float64(n))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		ch <- prometheus.MustNewConstMetric(p.maxFDs, prometheus.GaugeValue, float64(lim.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		ch <- prometheus.MustNewConstMetric(p.maxVsize, prometheus.GaugeValue, float64(lim.Cur))
	}
	if size, resident, err := readStatm(); err == nil {
		ch <- prometheus.MustNewConstMetric(p.vsize, prometheus.GaugeValue, float64(size)*p.pageSize)
		ch <- prometheus.MustNewConstMetric(p.rss, prometheus.GaugeValue, float64(resident)*p.pageSize)
	}
	if p.startTime > 0 {
		ch <- prometheus.MustNewConstMetric(p.start, prometheus.GaugeValue, p.startTime)
	}
}

// countOpenFDs counts the entries of /proc/self/fd, the one it opens to
// do so included, as client_golang does. It reads the directory with raw
// system calls into a stack buffer: os.File would allocate, and try to
// register the descriptor with the network poller, on every scrape.
func countOpenFDs() (int, error) {
	fd, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: "/proc/self/fd", Err: err}
	}
	defer syscall.Close(fd)
	// Small enough not to grow the stack of the goroutine that collects.
	var buf [1024]byte
	n := 0
	for {
		size, err := syscall.ReadDirent(fd, buf[:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &os.PathError{Op: "readdirent", Path: "/proc/self/fd", Err: err}
		}
		if size <= 0 {
			return n, nil
		}
		n += countDirents(buf[:size])
	}
}

// countDirents counts the linux_dirent64 records in b other than "." and
// "..". Each record is an 8-byte inode number, an 8-byte offset, a 2-byte
// record length, a 1-byte type and a NUL-terminated name.
func countDirents(b []byte) int {
	const nameOffset = 19
	n := 0
	for len(b) >= nameOffset {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < nameOffset || reclen > len(b) {
			break
		}
		name := b[nameOffset:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if string(name) != "." && string(name) != ".." {
			n++
		}
		b = b[reclen:]
	}
	return n
}

// readStatm returns the first two fields of /proc/self/statm: the virtual
// memory size and the resident set size, in pages.
func readStatm() (size, resident uint64, err error) {
	const path = "/proc/self/statm"
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var buf [128]byte
	n, err := syscall.Read(fd, buf[:])
	if err != nil {
		return 0, 0, &os.PathError{Op: "read", Path: path, Err: err}
	}
	fields := bytes.Fields(buf[:max(n, 0)])
	if len(fields) < 2 {
		return 0, 0, fmt.Errorf("%s: %q: want at least 2 fields", path, buf[:max(n, 0)])
	}
	if size, err = strconv.ParseUint(string(fields[0]), 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if resident, err = strconv.ParseUint(string(fields[1]), 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return size, resident, nil
}
