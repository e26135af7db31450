package chaos

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy modes.
const (
	passMode  int32 = iota // forward at once
	delayMode              // forward each chunk after the delay
	dropMode               // read and discard: the peer sees silence
)

// proxy is a loopback TCP proxy in front of one Redis that can delay or
// drop traffic, to play a slow or lossy network.
type proxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	delay  atomic.Int64 // ns, in delayMode

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

// URL is redis://<proxy address>.
func (p *proxy) URL() string { return "redis://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst until either side fails, applying the mode to
// each chunk.
func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer p.forget(dst, src)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			switch p.mode.Load() {
			case delayMode:
				time.Sleep(time.Duration(p.delay.Load()))
			case dropMode:
				continue
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) forget(a, b net.Conn) {
	a.Close()
	b.Close()
	p.mu.Lock()
	delete(p.conns, a)
	delete(p.conns, b)
	p.mu.Unlock()
}

// closeAll resets every proxied connection (a stream that lost bytes
// cannot be resumed).
func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) setDelay(d time.Duration) {
	p.delay.Store(int64(d))
	p.mode.Store(delayMode)
}

func (p *proxy) setDrop() { p.mode.Store(dropMode) }

// heal goes back to forwarding; after a drop the damaged connections are
// closed.
func (p *proxy) heal() {
	was := p.mode.Swap(passMode)
	if was == dropMode {
		p.closeAll()
	}
}
