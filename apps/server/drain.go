package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connTracker follows every connection from accept to close so that shutdown
// can tell a truly idle connection from one whose next request has begun to
// arrive. net/http's own Shutdown cannot: it closes both as idle, and drops
// any request whose headers it finishes reading after shutdown began, so a
// client caught in that window gets an error instead of an answer.
type connTracker struct {
	net.Listener
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func trackConns(ln net.Listener) *connTracker {
	return &connTracker{Listener: ln, conns: map[*trackedConn]struct{}{}}
}

type trackedConn struct {
	net.Conn
	betweenRequests atomic.Bool // new, or idle after a response
	reading         atomic.Bool // blocked in Read
	started         atomic.Bool // bytes of a request read since the last response
}

func (c *trackedConn) Read(p []byte) (int, error) {
	c.reading.Store(true)
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.started.Store(true)
	}
	c.reading.Store(false)
	return n, err
}

func (c *trackedConn) waitingForNothing() bool {
	return c.betweenRequests.Load() && c.reading.Load() && !c.started.Load()
}

func (t *connTracker) Accept() (net.Conn, error) {
	conn, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &trackedConn{Conn: conn}
	c.betweenRequests.Store(true)
	t.mu.Lock()
	t.conns[c] = struct{}{}
	t.mu.Unlock()
	return c, nil
}

// connState is the http.Server's ConnState hook; it sees the *trackedConn
// that Accept returned.
func (t *connTracker) connState(conn net.Conn, state http.ConnState) {
	c, ok := conn.(*trackedConn)
	if !ok {
		return
	}
	switch state {
	case http.StateActive:
		c.betweenRequests.Store(false)
	case http.StateIdle:
		c.started.Store(false)
		c.betweenRequests.Store(true)
	case http.StateHijacked, http.StateClosed:
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
	}
}

// drain closes connections as they become idle and returns once none is
// left: requests in flight, and requests whose first bytes have arrived, are
// answered first. The listener must already be closed.
func (t *connTracker) drain(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		for c := range t.conns {
			if c.waitingForNothing() {
				_ = c.Conn.Close()
			}
		}
		open := len(t.conns)
		t.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d connections still open: %w", open, ctx.Err())
		case <-tick.C:
		}
	}
}
