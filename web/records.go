package web

import "github.com/knot-dev/knot/leaf"

// SpaceRecords gives a runtime.Manager the part of a server's store it
// uses; it is leaf.SpaceRecords.
type SpaceRecords = leaf.SpaceRecords
