package runtime

import (
	"context"

	"github.com/knot-dev/knot/shared"
)

type spaceLock struct {
	ch   chan struct{}
	refs int // guarded by Manager.mu
}

// lock waits for the space's lock until ctx ends.
func (m *Manager) lock(ctx context.Context, id string) (func(), error) {
	l := m.ref(id)
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; m.unref(id, l) }, nil
	case <-ctx.Done():
		m.unref(id, l)
		return nil, shared.Wrap(shared.EUNAVAILABLE, ctx.Err(), "space %s is busy with another operation", id)
	}
}

// locked runs op on the space with its lock held. op runs to its end even
// if ctx is cancelled once it has the lock; its ctx keeps ctx's values.
func (m *Manager) locked(ctx context.Context, id string, op func(ctx context.Context, id string) error) error {
	unlock, err := m.lock(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	return op(context.WithoutCancel(ctx), id)
}

// tryLock takes the space's lock if it is free.
func (m *Manager) tryLock(id string) (func(), bool) {
	l := m.ref(id)
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; m.unref(id, l) }, true
	default:
		m.unref(id, l)
		return nil, false
	}
}

func (m *Manager) ref(id string) *spaceLock {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.locks[id]
	if l == nil {
		l = &spaceLock{ch: make(chan struct{}, 1)}
		m.locks[id] = l
	}
	l.refs++
	return l
}

func (m *Manager) unref(id string, l *spaceLock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l.refs--
	if l.refs == 0 {
		delete(m.locks, id)
	}
}
