package testenv

import (
	"errors"
	"sync"
	"testing"
)

// Once holds something that the tests of a process share, such as a
// server that is slow to start: the first test that asks for it starts it,
// and TestMain stops it when the tests end. The zero value is ready.
type Once[T any] struct {
	once sync.Once
	v    T
	err  error
}

var errNeverStarted = errors.New("never started")

// Start calls start on its first call only, and returns what that call
// made.
func (o *Once[T]) Start(start func() (T, error)) (T, error) {
	o.once.Do(func() { o.v, o.err = start() })
	return o.v, o.err
}

// Get is Start for a test: when start failed, it stops tb as CheckStart
// does for program.
func (o *Once[T]) Get(tb testing.TB, program string, start func() (T, error)) T {
	tb.Helper()
	v, err := o.Start(start)
	CheckStart(tb, program, err)
	return v
}

// Stop calls stop with what Start made, if it made it; after Stop, Start
// starts nothing.
func (o *Once[T]) Stop(stop func(T)) {
	o.once.Do(func() { o.err = errNeverStarted })
	if o.err == nil {
		stop(o.v)
	}
}
