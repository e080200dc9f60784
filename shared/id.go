package shared

import "github.com/google/uuid"

// NewID returns a new record id: a UUIDv7, so that ids order records by
// their creation, as the lists of the API show them.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
