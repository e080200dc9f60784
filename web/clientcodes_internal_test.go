package web

import (
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/client"
)

// The client maps each status back to the code web answers it for, so an
// error crosses the API with its code. ENOSPACE shares 507 with EQUOTA.
func TestClientMapsStatusesBackToTheirCodes(t *testing.T) {
	for code, status := range statusOf {
		if code == shared.ENOSPACE {
			continue
		}
		if got := client.CodeOf(status); got != code {
			t.Errorf("web answers %s with %d, which the client reads as %s", code, status, got)
		}
	}
}
